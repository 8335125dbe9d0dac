"""Kill-and-resume, many times: a crawl killed (SIGKILL) at a random point, then run again to the end.

    python bench/faults.py [--runs 20] [--seed 1] [--padding 2000000]
    python bench/faults.py --cases [--runs 1]

The default mode:

Each run serves a fresh two-outlet site locally (pages padded with incompressible bytes, so that writing a
record takes long enough for a kill to land inside it), kills the crawl at a random moment after a random
number of article requests, starts it again, and checks the archive (every WARC file passes `warcio check`, every article is there once,
no half or stray text file, no gap in the numbering). Prints, over all runs: WARC files left open and recovered,
records kept from them, torn records cut, articles lost (must be 0) and duplicates (must be 0).

``--cases`` runs the named cases instead, each ``--runs`` times: a crawl killed at each step of an article's
writes (tests/plugins/torn: mid text file, after the text file, after the manifest line, after the state commit),
then resumed; and a crawl with two extraction workers killed while extracting, its workers looked for 2 s later.
Prints per case: articles expected / archived / lost / duplicated / orphan workers (targets: 0 lost, 0 orphans).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.manifest import read_manifest  # noqa: E402
from bench.common import _children  # noqa: E402
from tests.sites import SiteServer  # noqa: E402
from tests.test_crash import (article_responses, article_urls, build_site, check_archive, kill_and_resume,  # noqa: E402
                              kill_at_step, popen_crawl)

STEPS = ("text_partial", "text_written", "manifest_written", "kept")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def orphan_workers(tmp: Path) -> tuple[int, int]:
    """Kill (SIGKILL) a crawl with two extraction workers once it is fetching articles; the workers still alive
    2 s later; returns (workers seen before the kill, workers alive after)."""
    import signal

    with SiteServer() as site:
        build_site(site, tmp / "topic.toml", delay=0.05)
        process = popen_crawl(tmp / "topic.toml", tmp / "archive", site.proxy_url, {"EXTRACT_WORKERS": "2"})
        deadline = time.time() + 60
        while article_responses(site) < 3 and time.time() < deadline and process.poll() is None:
            time.sleep(0.02)
        workers = [pid for pid in _children(process.pid) if _alive(pid)]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    time.sleep(2)
    return len(workers), sum(1 for pid in workers if _alive(pid))


def cases(runs: int) -> None:
    expected = len(article_urls())
    print(f"{'case':28s} {'expected':>8s} {'archived':>8s} {'lost':>5s} {'dupl.':>5s} {'orphans':>7s}")
    for case in (*(f"kill at {step}" for step in STEPS), "orphan workers"):
        totals: Counter = Counter()
        for run in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                if case == "orphan workers":
                    seen, alive = orphan_workers(Path(tmp))
                    totals.update(workers=seen, orphans=alive)
                    continue
                topic_dir, _ = kill_at_step(Path(tmp), case.split()[-1], after=1 + run % 5)
                urls = [e["url"] for e in read_manifest(topic_dir / "manifest.jsonl")]
                try:
                    check_archive(topic_dir)
                except AssertionError as exc:
                    print(f"{case}, run {run + 1}: archive check failed: {exc}")
                totals.update(expected=expected, archived=len(set(urls)), lost=len(set(article_urls()) - set(urls)),
                              duplicated=len(urls) - len(set(urls)))
        print(f"{case:28s} {totals['expected']:8d} {totals['archived']:8d} {totals['lost']:5d} "
              f"{totals['duplicated']:5d} {totals['orphans']:7d}"
              + (f" (of {totals['workers']} workers)" if case == "orphan workers" else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--padding", type=int, default=2_000_000,
                        help="incompressible bytes added to each page, so a kill can land inside a record write")
    parser.add_argument("--cases", action="store_true",
                        help="run the named cases (kill at each write step, orphan workers) instead of random kills")
    args = parser.parse_args()
    if args.cases:
        cases(args.runs)
        return
    rng = random.Random(args.seed)
    totals: Counter = Counter()
    started = time.time()
    for run in range(args.runs):
        kill_after = rng.randint(0, len(article_urls()) - 1)
        kill_delay = rng.uniform(0.0, 0.3)
        with tempfile.TemporaryDirectory() as tmp:
            result = kill_and_resume(Path(tmp), kill_after, padding=args.padding, kill_delay=kill_delay)
            stats = result["stats"]
            urls = [e["url"] for e in read_manifest(result["dir"] / "manifest.jsonl")]
            lost = len(set(article_urls()) - set(urls))
            duplicates = len(urls) - len(set(urls))
            try:
                check_archive(result["dir"])
                whole = True
            except AssertionError as exc:
                whole = False
                print(f"run {run}: archive check failed: {exc}")
        totals.update(runs=1, left_open=result["left_open"], recovered=stats.get("warc/files_recovered", 0),
                      records=stats.get("warc/records_recovered", 0), torn=stats.get("warc/torn_records_cut", 0),
                      lost=lost, duplicates=duplicates, broken=int(not whole))
        print(f"run {run + 1:2d}: killed {kill_delay:.2f} s after {kill_after:2d} article requests; "
              f"{result['left_open']} file(s) left "
              f"open, {stats.get('warc/records_recovered', 0)} records kept, {stats.get('warc/torn_records_cut', 0)} "
              f"torn record(s) cut; lost {lost}, duplicates {duplicates}")
    print(f"\nruns {totals['runs']} ({time.time() - started:.0f} s): files left open {totals['left_open']}, recovered "
          f"{totals['recovered']}, records kept {totals['records']}, torn records cut {totals['torn']}, "
          f"articles lost {totals['lost']}, duplicates {totals['duplicates']}, archives failing the check "
          f"{totals['broken']}")


if __name__ == "__main__":
    main()
