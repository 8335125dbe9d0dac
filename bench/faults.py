"""Kill-and-resume, many times: a crawl killed (SIGKILL) at a random point, then run again to the end.

    python bench/faults.py [--runs 20] [--seed 1] [--padding 2000000]
    python bench/faults.py --cases [--runs 1]
    python bench/faults.py --newsroom [--runs 20] [--seed 1]

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

``--newsroom`` runs cycles on a five-outlet site that behaves like real ones (tests/support/newsroom.py: feeds and
sitemaps with ETag / Last-Modified answering 304, a sitemap index with lastmod, monthly sitemaps), half of them
with validators and half without: per cycle one to three SIGKILLs, the first right after a listing was read and
before its articles, the others at random points, then one clean run. Prints per cycle: articles expected /
archived / lost / duplicated (targets: 0 lost, 0 duplicates).
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
from tests.support.crawl import crawl  # noqa: E402
from tests.support.sites import SiteServer  # noqa: E402
from tests.support.newsroom import build_newsroom  # noqa: E402
from tests.support.processes import FAST, kill_when  # noqa: E402
from tests.support.processes import popen_crawl as popen_topic  # noqa: E402
from tests.support.crashsite import (article_responses, article_urls, build_site, check_archive,  # noqa: E402
                                     kill_and_resume, kill_at_step, popen_crawl)

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


def newsroom_cycle(tmp: Path, rng: random.Random, validators: bool) -> dict:
    """One cycle on the validator-sending news site: one to three SIGKILLs at random points (one of them
    between a listing's fetch and its articles), then a clean run; what the archive holds against what it must."""
    archive = tmp / "archive"
    kills = rng.randint(1, 3)
    with SiteServer() as site:
        room = build_newsroom(site, tmp, validators=validators, article_delay=0.1)
        for number in range(kills):
            process = popen_topic(room.topic_file, archive, site.proxy_url)
            if number == 0:  # right after a listing was read, before its articles: the case validators hide
                july = [u for u in room.sitemaps if "2021-07" in u]
                kill_when(process, lambda: any(site.count(u) for u in july), after=rng.uniform(0.0, 0.3))
            else:
                seen = len(site.requests())
                wait = rng.randint(1, 15)
                kill_when(process, lambda: len(site.requests()) - seen >= wait, after=rng.uniform(0, 0.2))
        crawl("coverage", archive, spider_args={"topic": str(room.topic_file)}, settings=FAST,
              env={"http_proxy": site.proxy_url})
    urls = [e["url"] for e in read_manifest(archive / "newsroom" / "manifest.jsonl")]
    return {"kills": kills, "expected": len(room.expected), "archived": len(set(urls) & set(room.expected)),
            "lost": len(set(room.expected) - set(urls)), "duplicated": len(urls) - len(set(urls)),
            "outside": len(set(urls) - set(room.expected))}


def newsroom(runs: int, seed: int) -> None:
    rng = random.Random(seed)
    totals: Counter = Counter()
    started = time.time()
    print("cycle  validators  kills  expected  archived  lost  duplicated  outside window")
    for cycle in range(runs):
        validators = cycle % 2 == 0
        with tempfile.TemporaryDirectory() as tmp:
            row = newsroom_cycle(Path(tmp), rng, validators)
        totals.update(row)
        print(f"{cycle + 1:5d}  {'yes' if validators else 'no':>10}  {row['kills']:5d}  {row['expected']:8d}  "
              f"{row['archived']:8d}  {row['lost']:4d}  {row['duplicated']:10d}  {row['outside']:14d}")
    print(f"\ncycles {runs} ({time.time() - started:.0f} s): kills {totals['kills']}, articles expected "
          f"{totals['expected']}, archived {totals['archived']}, lost {totals['lost']}, duplicated "
          f"{totals['duplicated']}, outside the window {totals['outside']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--padding", type=int, default=2_000_000,
                        help="incompressible bytes added to each page, so a kill can land inside a record write")
    parser.add_argument("--cases", action="store_true",
                        help="run the named cases (kill at each write step, orphan workers) instead of random kills")
    parser.add_argument("--newsroom", action="store_true",
                        help="kill cycles on a site with validators, 304s and sitemap-index lastmod (and one without)")
    args = parser.parse_args()
    if args.newsroom:
        newsroom(args.runs, args.seed)
        return
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
