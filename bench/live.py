"""A live crawl against its politeness bound, and the cost of WARC recording.

    python bench/live.py [--outlets 5] [--articles 60] [--latency 0.05]

A local multi-outlet site (each outlet: robots.txt, home page, one sitemap, N articles; every response delayed
by a fixed latency) is crawled with the default politeness settings (per-outlet DOWNLOAD_DELAY d,
CONCURRENT_REQUESTS_PER_DOMAIN c). One outlet cannot be crawled faster than its requests x d, so the bound
is the slowest outlet's request count x d. Prints the wall time of the crawl (from the first to the last
request the server saw), the bound and their ratio, for WARC recording on and off.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import dev_pages, run_measured  # noqa: E402
from crawler import settings as defaults  # noqa: E402
from tests.support.sites import Reply, SiteServer, robots_txt, urlset  # noqa: E402


def build(site: SiteServer, outlets: int, articles: int, latency: float) -> Path:
    pages = dev_pages()
    lines = ['name = "bench-live"', "query = 'the OR a OR and'", ""]
    for k in range(outlets):
        host = f"http://www.live-{k}.test"
        urls = [f"{host}/2021/07/16/story-{n:03d}.html" for n in range(articles)]
        site.route(f"{host}/robots.txt", Reply(body=robots_txt(), delay=latency,
                                                headers=[("Content-Type", "text/plain")]))
        site.route(f"{host}/", Reply(body="<html><body><p>home</p></body></html>", delay=latency))
        site.route(f"{host}/sitemap.xml", Reply(body=urlset([(u, None) for u in urls]), delay=latency,
                                                 headers=[("Content-Type", "application/xml")]))
        for n, url in enumerate(urls):
            site.route(url, Reply(body=pages[(k * articles + n) % len(pages)][1], delay=latency))
        lines += ["[[outlet]]", f'name = "Live {k}"', f'url = "{host}/"', f'sitemaps = ["{host}/sitemap.xml"]', ""]
    topic = Path(tempfile.mkdtemp()) / "bench-live.toml"
    topic.write_text("\n".join(lines))
    return topic


def crawl(site: SiteServer, topic: Path, warc: bool) -> tuple[float, int, int]:
    """(seconds from the first to the last request seen by the server, requests of the busiest outlet, files)."""
    before = len(site.requests())
    with tempfile.TemporaryDirectory() as out:
        run_measured([sys.executable, "-m", "scrapy", "crawl", "coverage", "-a", f"topic={topic}",
                      "-s", f"ARCHIVE_DIR={out}", "-s", f"WARC_ENABLED={warc}", "-s", "LOG_LEVEL=WARNING"],
                     env={"http_proxy": site.proxy_url})
        files = len(list((Path(out) / "bench-live" / "text").glob("*.txt")))
    log = site.requests()[before:]
    per_outlet: dict[str, int] = {}
    for request in log:
        per_outlet[request.host] = per_outlet.get(request.host, 0) + 1
    return log[-1].time - log[0].time, max(per_outlet.values()), files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outlets", type=int, default=5)
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    delay = defaults.DOWNLOAD_DELAY
    print(f"outlets={args.outlets} articles/outlet={args.articles} latency={args.latency}s "
          f"DOWNLOAD_DELAY={delay}s CONCURRENT_REQUESTS_PER_DOMAIN={defaults.CONCURRENT_REQUESTS_PER_DOMAIN} "
          f"cpus={os.cpu_count()}")
    with SiteServer() as site:
        topic = build(site, args.outlets, args.articles, args.latency)
        results = {}
        for warc in (True, False):
            seconds, busiest, files = crawl(site, topic, warc)
            bound = busiest * delay
            results[warc] = seconds
            print(f"WARC {'on ' if warc else 'off'}: {seconds:6.1f} s for {busiest} requests on the busiest outlet; "
                  f"bound {bound:5.1f} s; ratio {seconds / bound:.3f}; {files} text files")
    print(f"WARC on/off time ratio: {results[True] / results[False]:.3f}")


if __name__ == "__main__":
    main()
