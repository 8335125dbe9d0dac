"""Distributed crawl speed-up: 1, 2 and 4 workers on one topic through a local redis-server.

    python bench/distributed.py [--outlets 40] [--articles 30] [--latency 0.2] [--delay 1.0] [--workers 1,2,4]

A latency-bound local site of many outlets answers every request after a fixed latency. Each worker is limited
to ``CONCURRENT_REQUESTS`` (default 1) requests in flight, so one worker is bound by its own concurrency and more
workers add throughput until the per-outlet politeness bound (each outlet: one request at a time, DOWNLOAD_DELAY
between them, for the whole cluster) is reached. Prints, per number of workers: wall time, pages/s, speed-up over
one worker (the baseline, measured in the same run) with the ideal (linear, capped by the politeness bound), the
smallest gap between two requests to one outlet (politeness holds when it is at least the delay), how long after
the last request the last worker exited, the workers' exit statuses, and Redis memory per fetched URL.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis as redis_client  # noqa: E402

from tests.support.network import free_port  # noqa: E402
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed  # noqa: E402

BASELINE_REDIS_BYTES = 1_000_000  # an empty redis-server's own use, roughly; subtracted from used_memory
BODY = ["Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
        "He spoke at a regional conference in Tashkent attended by the Afghan president, Ashraf Ghani."]


def build(site: SiteServer, outlets: int, articles: int, latency: float, topic: Path) -> int:
    lines = ['name = "bench-cluster"', "query = 'Lavrov'"]
    for k in range(outlets):
        host = f"http://www.outlet{k}.test"
        lines += ["[[outlet]]", f'name = "Outlet {k}"', f'url = "{host}/"', f'feeds = ["{host}/feed.xml"]']
        site.route(f"{host}/robots.txt", Reply(body=robots_txt(), delay=latency))
        site.route(f"{host}/", Reply(body="<html><body><p>home</p></body></html>", delay=latency))
        urls = [f"{host}/news/story-{n}" for n in range(articles)]
        site.route(f"{host}/feed.xml", Reply(body=rss_feed(f"Outlet {k}", [{"url": u, "title": f"Lavrov {n}"}
                                                                         for n, u in enumerate(urls)]), delay=latency))
        for n, url in enumerate(urls):
            site.route(url, Reply(body=article_page(f"Lavrov story {k}-{n}", [f"Story {k}-{n}."] + BODY,
                                                    published="2021-07-16"), delay=latency))
    topic.write_text("\n".join(lines) + "\n")
    return outlets * (articles + 3)


def run_cluster(workers: int, site: SiteServer, topic: Path, tmp: Path, delay: float,
                concurrency: int) -> tuple[float, int, list[int], float, float]:
    """Wall time of a crawl by ``workers`` workers, the Redis memory the finished crawl holds, the workers' exit
    statuses, when the last worker exited, and the CPU seconds all workers used."""
    port = free_port()
    redis = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                              "127.0.0.1", "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(http_proxy=site.proxy_url, PYTHONPATH=str(REPO), SCRAPY_SETTINGS_MODULE="crawler.settings")
    archive = tmp / f"archive-{workers}"
    started = time.time()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    processes = [subprocess.Popen(
        [sys.executable, "-m", "scrapy", "crawl", "coverage", "-a", f"topic={topic}", "-s", f"ARCHIVE_DIR={archive}",
         "-s", f"CLUSTER_REDIS_URL=redis://127.0.0.1:{port}/0", "-s", f"DOWNLOAD_DELAY={delay}",
         "-s", f"CONCURRENT_REQUESTS={concurrency}", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "EXTRACT_WORKERS=0",
         "-s", "LOG_LEVEL=WARNING", "-s", "PROGRESS_INTERVAL=0"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    codes = [process.wait() for process in processes]
    elapsed = time.time() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    memory = redis_client.Redis(port=port).info("memory")["used_memory"] - BASELINE_REDIS_BYTES
    redis.terminate()
    redis.wait()
    return elapsed, memory, codes, time.time(), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outlets", type=int, default=40)
    parser.add_argument("--articles", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp, SiteServer() as site:
        topic = Path(tmp) / "topic.toml"
        build(site, args.outlets, args.articles, args.latency, topic)
        bound = (args.articles + 2) * (args.delay + args.latency)  # one outlet's requests, one at a time
        print(f"{args.outlets} outlets x {args.articles} articles, latency {args.latency} s, delay {args.delay} s, "
              f"{args.concurrency} request(s) in flight per worker; politeness bound {bound:.1f} s")
        print(f"{'workers':>7} {'wall s':>7} {'pages/s':>8} {'speed-up':>9} {'ideal':>6} {'min gap s':>10} "
              f"{'exit after last s':>18} {'exit codes':>11} {'redis B/URL':>12} {'CPU s/page':>11}")
        baseline = None
        for workers in counts:
            before = len(site.requests())
            elapsed, memory, codes, ended, cpu = run_cluster(workers, site, topic, Path(tmp), args.delay,
                                                             args.concurrency)
            requests = site.requests()[before:]
            baseline = baseline or elapsed
            ideal = min(workers, baseline / bound) if bound else workers
            gaps = []
            for host in {r.host for r in requests}:
                times = sorted(r.time for r in requests if r.host == host and r.path != "/robots.txt")
                gaps += [b - a for a, b in zip(times, times[1:])]
            after_last = ended - max(r.time for r in requests)
            print(f"{workers:>7} {elapsed:>7.1f} {len(requests) / elapsed:>8.1f} {baseline / elapsed:>9.2f} "
                  f"{ideal:>6.2f} {min(gaps):>10.3f} {after_last:>18.1f} {','.join(map(str, codes)):>11} "
                  f"{memory / max(len(requests), 1):>12.0f} {cpu / max(len(requests), 1):>11.3f}")


if __name__ == "__main__":
    main()
