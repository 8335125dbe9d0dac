"""scan-warc over a generated CC-NEWS-like WARC, against a plain warcio loop that only iterates the records.

    python bench/scan.py [--sizes 200,400] [--repeat 2]

For each size (MB of .warc.gz, cached under bench/.cache/), in one run and each in a process of its own (its peak
RSS sampled): the baseline (warcio's ArchiveIterator over every record, reading nothing), the prefilter pass
alone with each reader (FastWARC, warcio), and the whole ``scrapy scan-warc`` command (prefilter, replay,
extraction, text files, report); each step ``--repeat`` times, interleaved, the fastest run counting. MB/s and records/s are over the file's bytes and all its records; the target is
the whole command at 1.5x the baseline or better. The file: request/response pairs of ~60 KB news pages on 300
hosts (one gzip member per record, as CC-NEWS), a page of an outlet every 50th, the story on the outlets 8 times.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CACHE, REPO, PeakRss  # noqa: E402
from tests.support.scanwarc import TOPIC, exchange, paragraphs, story, warcinfo  # noqa: E402
from tests.support.sites import article_page  # noqa: E402

TARGET = 1.5
STORY = ["https://www.outlet-a.test/world/2021/07/{:02d}/lavrov-taliban-{}", "https://news.outlet-b.test/{:02d}/lavrov-{}",
         "https://outlet-c.test/2021/07/{:02d}/taliban-lavrov-{}"]


def collection(size_mb: int) -> Path:
    """The cached collection of at least ``size_mb`` MB (made once, deterministically)."""
    path = CACHE / f"scan-{size_mb}mb.warc.gz"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = random.Random(size_mb)
    pool = paragraphs(rng, 4000)
    partial = path.with_suffix(".partial")
    started = time.perf_counter()
    with open(partial, "wb") as fh:
        fh.write(warcinfo(path.name))
        number = 0
        while fh.tell() < size_mb * 1_000_000:
            if number % 997 == 500 and number // 997 < 8:  # the story, on the outlets
                day = 10 + number // 997
                url = STORY[number % 3].format(day, number)
                body = story(f"Lavrov warns the Taliban {number}", "Lavrov spoke of Afghanistan.", rng)
            else:
                host = "www.outlet-a.test" if number % 50 == 0 else f"www.site-{number % 300}.test"
                url = f"https://{host}/news/{number % 13}/story-{number}"
                body = article_page(f"Local news {number}", rng.sample(pool, 140)).encode("utf-8")
            fh.write(exchange(url, body, "2021-07-17T08:00:00Z"))
            number += 1
    partial.rename(path)
    print(f"made {path} ({path.stat().st_size / 1e6:.0f} MB, {number} pages) in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    return path


def iterate(path: Path) -> None:
    """The baseline: warcio's iterator over every record, nothing read (the iterator skips each block)."""
    from warcio.archiveiterator import ArchiveIterator

    count = 0
    with open(path, "rb") as fh:
        for _ in ArchiveIterator(fh, no_record_parse=True, arc2warc=False):
            count += 1
    print(count)


def prefilter(path: Path, reader: str) -> None:
    """The prefilter pass alone, as scan-warc runs it (hosts, terms, the kept records written)."""
    import tomllib

    from crawler.archive.scan import Prefilter, ScanResult, needles, open_source, scan_stream
    from crawler.topic import parse_topic

    topic = parse_topic(tomllib.loads(TOPIC))
    kept = Prefilter({h for o in topic.outlets for h in o.hosts}, needles(topic.query), 16 << 20)
    result, out = ScanResult(), []
    stream = open_source(str(path), 60)
    scan_stream(stream, str(path), kept, out.append, result, set(), reader)
    print(result.kept)


def measured(args: list[str]) -> tuple[float, int, str]:
    """Wall time, peak RSS of the process tree, stdout + stderr of one command run from the repository."""
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="crawler.settings",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakRss(process.pid, interval=0.05) as rss:
        out, err = process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        sys.stderr.write(err[-4000:])
        raise SystemExit(f"failed: {' '.join(args)}")
    return elapsed, rss.peak, out + err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,400", help="collection sizes in MB (comma-separated)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each step; the fastest counts (a busy machine)")
    parser.add_argument("--iterate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prefilter", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reader", default="fastwarc", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.iterate:
        return iterate(args.iterate)
    if args.prefilter:
        return prefilter(args.prefilter, args.reader)
    me = [sys.executable, str(Path(__file__).resolve())]
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        path = collection(size)
        mb = path.stat().st_size / 1e6
        best: dict[str, tuple[float, int]] = {}
        records = kept = 0

        def keep(name: str, elapsed: float, rss: int) -> None:
            previous = best.get(name)
            best[name] = (min(elapsed, previous[0]) if previous else elapsed, max(rss, previous[1]) if previous else rss)

        for _ in range(args.repeat):  # the steps interleaved, so a busy spell of the machine hits them alike
            elapsed, rss, out = measured([*me, "--iterate", str(path)])
            records = int(out.split()[0])
            keep("warcio iteration (baseline)", elapsed, rss)
            for reader in ("checked", "fastwarc", "warcio"):
                elapsed, rss, _ = measured([*me, "--prefilter", str(path), "--reader", reader])
                keep(f"prefilter alone, {reader}", elapsed, rss)
            with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
                topic = Path(tmp) / "topic.toml"
                topic.write_text(TOPIC, encoding="utf-8")
                elapsed, rss, out = measured([sys.executable, "-m", "scrapy", "scan-warc", str(topic), str(path),
                                              "-s", f"ARCHIVE_DIR={tmp}/archive", "-s", "EXTRACT_WORKERS=0",
                                              "-s", "LOG_LEVEL=WARNING"])
                kept = len((Path(tmp) / "archive" / "lavrov-scan" / "manifest.jsonl").read_text().splitlines())
            keep("scrapy scan-warc, whole", elapsed, rss)
        base_time = best["warcio iteration (baseline)"][0]
        steps = [(name if not name.startswith("scrapy") else f"{name} ({kept} articles kept)", *value)
                 for name, value in best.items()]
        for name, elapsed, rss in steps:
            rows.append((f"{mb:.0f} MB", name, elapsed, mb / elapsed, records / elapsed, base_time / elapsed, rss))
    print(f"\n| file | run | wall | MB/s | records/s | x baseline | peak RSS |\n|---|---|---|---|---|---|---|")
    for file, name, elapsed, rate, per_s, ratio, rss in rows:
        print(f"| {file} | {name} | {elapsed:.2f} s | {rate:.0f} | {per_s:.0f} | {ratio:.2f} | {rss / 1e6:.0f} MB |")
    whole = [row for row in rows if row[1].startswith("scrapy scan-warc")]
    worst = min(row[5] for row in whole)
    print(f"\nwhole scan vs warcio iteration: {worst:.2f}x at worst (target {TARGET}x): "
          f"{'met' if worst >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
