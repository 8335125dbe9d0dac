"""Archive-to-text throughput and memory: the full replayed crawl against a bare process pool.

    python bench/replay.py --pages 3000 [--workers 2] [--repeat 3] [--memory 1000,5000] [--scan]

Builds (once, cached in bench/.cache/) a WARC of N article pages — the real pages of the dev set repeated
under distinct URLs of five outlets, each outlet with robots.txt, a home page and a sitemap — with its
``index.cdxj`` beside it, as a crawl leaves its archive, and times
``scrapy crawl coverage -s REPLAY_FROM=...`` to text files. The baseline ("ceiling") is bare
``trafilatura.extract(html, url=url)`` over the same HTML in a plain ``multiprocessing.Pool`` with the same worker
count (what a user would otherwise run: no Scrapy, no WARC, no prompt removal, no metadata), measured right
before and right after each crawl (the crawl is compared with the mean of the two). Prints pages/s for both and
their ratio (with ``--repeat K``, for K crawls and their median); then a second baseline, the loop a user would
write from the archive itself (a plain warcio loop over the WARC feeding the same pool), and the crawl's ratio
to it; ``--ours`` also times our extraction function alone in the same pool; with ``--memory`` also the peak RSS (all processes) of crawls of those sizes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CACHE, ExchangeWriter, dev_pages, run_measured  # noqa: E402
from crawler.archive.index import add_to_index  # noqa: E402

OUTLETS = 5


def page_url(outlet: int, number: int) -> str:
    return f"http://www.outlet-{outlet}.test/2021/07/16/story-{number:05d}.html"


def corpus(n: int) -> list[tuple[str, bytes]]:
    """(url, html) of N pages: the dev pages cycled, spread over the outlets."""
    pages = dev_pages()
    return [(page_url(i % OUTLETS, i), pages[i % len(pages)][1]) for i in range(n)]


def build(n: int) -> tuple[Path, Path]:
    """The cached archive for N pages, laid out as a crawl leaves it (``warc/`` and ``index.cdxj``), and its
    topic file."""
    root = CACHE / f"replay-{n}"
    warc, topic, index = root / "warc" / "replay.warc.gz", root / "topic.toml", root / "index.cdxj"
    if warc.exists() and topic.exists() and index.exists():
        return warc, topic
    warc.parent.mkdir(parents=True, exist_ok=True)
    pages = corpus(n)
    tmp = warc.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        writer = ExchangeWriter(fh)
        for outlet in range(OUTLETS):
            host = f"http://www.outlet-{outlet}.test"
            writer.exchange(f"{host}/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain")
            writer.exchange(f"{host}/", f"<html><head><title>Outlet {outlet}</title></head><body></body></html>".encode())
            urls = [url for url, _ in pages if url.startswith(host + "/")]
            sitemap = ['<?xml version="1.0" encoding="UTF-8"?>',
                       '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
            sitemap += [f"<url><loc>{url}</loc></url>" for url in urls]
            sitemap.append("</urlset>")
            writer.exchange(f"{host}/sitemap.xml", "\n".join(sitemap).encode(), "application/xml")
        for url, html in pages:
            writer.exchange(url, html)
    os.replace(tmp, warc)
    add_to_index(index, [warc])
    outlets = "\n".join(
        f'[[outlet]]\nname = "Outlet {k}"\nurl = "http://www.outlet-{k}.test/"\n'
        f'sitemaps = ["http://www.outlet-{k}.test/sitemap.xml"]\n' for k in range(OUTLETS))
    topic.write_text(f'name = "bench-replay"\nquery = \'the OR a OR and OR of OR to\'\n'
                     f"max_pages_per_outlet = {n}\n\n{outlets}")
    return warc, topic


def _bare(args: tuple[str, bytes]) -> int:
    """What a user would otherwise run on each page: trafilatura alone, default options."""
    import trafilatura

    return len(trafilatura.extract(args[1], url=args[0]) or "")


def _ours(args: tuple[str, bytes]) -> int:
    """The extraction work the crawl's workers do per page: every stage, the language included."""
    from pipelines.extract import extract_to_dict

    return len(extract_to_dict(args[1], args[0], frozenset())["text"])


def ceiling(pages: list[tuple[str, bytes]], workers: int, extract=_bare) -> float:
    """Pages per second of ``extract`` (bare trafilatura: the baseline) in a plain process pool."""
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(extract, pages[: workers * 2])  # warm the workers' imports
        started = time.perf_counter()
        for _ in pool.imap_unordered(extract, pages, chunksize=4):
            pass
        return len(pages) / (time.perf_counter() - started)


def _warc_pages(warc: Path):
    """The (url, html) of the WARC's article responses, read with a plain warcio loop (payloads decoded)."""
    from warcio.archiveiterator import ArchiveIterator

    with open(warc, "rb") as stream:
        for record in ArchiveIterator(stream):
            url = record.rec_headers.get_header("WARC-Target-URI") or ""
            if record.rec_type == "response" and "/story-" in url:  # the home pages are not articles
                yield url, record.content_stream().read()


def warcio_ceiling(warc: Path, pages: int, workers: int) -> float:
    """Pages per second of the archive-to-text loop a user would otherwise write: a plain warcio loop over the
    WARC in this process feeding bare trafilatura in a process pool (the second baseline: it pays for reading
    and decoding the archive, as the crawl does)."""
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_bare, corpus(workers * 2))  # warm the workers' imports
        started = time.perf_counter()
        done = sum(1 for _ in pool.imap_unordered(_bare, _warc_pages(warc), chunksize=4))
        elapsed = time.perf_counter() - started
    assert done == pages, (done, pages)
    return done / elapsed


def crawl(n: int, workers: int, use_index: bool = True) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes, text files written) of the replayed crawl of N pages."""
    warc, topic = build(n)
    with tempfile.TemporaryDirectory() as out:
        elapsed, peak, _ = run_measured(
            [sys.executable, "-m", "scrapy", "crawl", "coverage", "-a", f"topic={topic}",
             "-s", f"REPLAY_FROM={warc.parent}", "-s", f"ARCHIVE_DIR={out}", "-s", f"EXTRACT_WORKERS={workers}",
             "-s", f"REPLAY_USE_INDEX={use_index}",
             "-s", "LOG_LEVEL=WARNING", "-s", "PROGRESS_INTERVAL=0", "-s", "REPORT_ENABLED=False"])
        written = len(list((Path(out) / "bench-replay" / "text").glob("*.txt")))
    return elapsed, peak, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=1, help="crawls to time (the median ratio is printed too)")
    parser.add_argument("--memory", default="", help="comma-separated page counts for the memory runs")
    parser.add_argument("--ours", action="store_true",
                        help="also time our extraction function alone in the same pool as the baseline")
    parser.add_argument("--scan", action="store_true",
                        help="also time the crawl with the archive scanned at start instead of read from index.cdxj")
    args = parser.parse_args()

    build(args.pages)
    pages = corpus(args.pages)
    # Each crawl is bracketed by two ceiling runs and compared with their mean: this VM's speed drifts by up to
    # a fifth within minutes, and a baseline taken only before the crawl would carry that drift into the ratio.
    ceilings = [ceiling(pages, args.workers)]
    ratios = []
    print(f"pages={args.pages} workers={args.workers} cpus={os.cpu_count()}")
    if args.ours:
        rate = ceiling(pages, args.workers, _ours)
        print(f"our extraction alone (multiprocessing.Pool): {rate:8.1f} pages/s, ratio to bare trafilatura "
              f"{rate / ceilings[0]:.3f}")
    for run in range(1, args.repeat + 1):
        seconds, peak, written = crawl(args.pages, args.workers)
        ceilings.append(ceiling(pages, args.workers))
        base = (ceilings[-2] + ceilings[-1]) / 2
        rate = args.pages / seconds
        ratios.append(rate / base)
        print(f"run {run}: bare trafilatura (multiprocessing.Pool): {base:8.1f} pages/s "
              f"(before {ceilings[-2]:.1f}, after {ceilings[-1]:.1f})")
        print(f"run {run}: scrapy crawl coverage (REPLAY_FROM, full pipeline): {rate:8.1f} pages/s "
              f"({seconds:.1f} s, {written} text files, peak RSS {peak / 2**20:.0f} MB)")
        print(f"run {run}: ratio crawl/bare trafilatura: {rate / base:.3f}")
    if args.repeat > 1:
        print(f"ratio crawl/bare trafilatura, median of {args.repeat} runs: {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f})")
    base = statistics.mean(ceilings)
    warc, _ = build(args.pages)
    loop = warcio_ceiling(warc, args.pages, args.workers)
    median = statistics.median(ratios) * base
    print(f"warcio loop feeding bare trafilatura (multiprocessing.Pool): {loop:8.1f} pages/s; "
          f"ratio crawl/warcio loop {median / loop:.3f} (crawl at its median rate)")
    if args.scan:
        seconds, peak, written = crawl(args.pages, args.workers, use_index=False)
        print(f"same crawl, WARC scanned at start (REPLAY_USE_INDEX=False): {args.pages / seconds:8.1f} pages/s "
              f"({seconds:.1f} s), ratio {args.pages / seconds / base:.3f}")
    if args.memory:
        sizes = [int(s) for s in args.memory.split(",")]
        peaks = []
        for size in sizes:
            seconds, peak, written = crawl(size, args.workers)
            peaks.append(peak)
            print(f"memory: pages={size} peak RSS (all processes) {peak / 2**20:.0f} MB "
                  f"({seconds:.1f} s, {size / seconds:.1f} pages/s)")
        print(f"memory ratio largest/smallest: {peaks[-1] / peaks[0]:.3f}")


if __name__ == "__main__":
    main()
