"""Kill-and-resume, many times: a crawl killed (SIGKILL) at a random point, then run again to the end.

    python bench/faults.py [--runs 20] [--seed 1] [--padding 2000000]

Each run serves a fresh two-outlet site locally (pages padded with incompressible bytes, so that writing a
record takes long enough for a kill to land inside it), kills the crawl at a random moment after a random
number of article requests, starts it again, and checks the archive (every WARC file passes `warcio check`, every article is there once,
no half or stray text file, no gap in the numbering). Prints, over all runs: WARC files left open and recovered,
records kept from them, torn records cut, articles lost (must be 0) and duplicates (must be 0).
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
from tests.test_crash import article_urls, check_archive, kill_and_resume  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--padding", type=int, default=2_000_000,
                        help="incompressible bytes added to each page, so a kill can land inside a record write")
    args = parser.parse_args()
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
