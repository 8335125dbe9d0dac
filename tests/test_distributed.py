"""Several workers on one topic through a real redis-server: no URL fetched twice, no article written twice.

redis-server is started by the test on a free port of 127.0.0.1 (``.ci/run`` installs it). The outlets are served
by the local test server as a proxy; its request log says who fetched what, and when.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from crawler import settings as project_settings
from pipelines.manifest import read_manifest
from tests.support.crawl import REPO
from tests.support.redisserver import restartable_redis_server
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

# More outlets than one worker's CONCURRENT_REQUESTS (3): a worker that starts first cannot hold every outlet's
# cluster-wide slot, so the others get work however late they join.
OUTLETS = [f"http://www.outlet{n}.test" for n in range(6)]
ARTICLES_PER_OUTLET = 6
DELAY = 0.3
BODY = [
    "Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
    "He spoke at a regional conference in Tashkent attended by the Afghan president, Ashraf Ghani.",
]


def article_url(outlet: str, n: int) -> str:
    return f"{outlet}/world/lavrov-afghanistan-story-{n}"


@pytest.fixture
def site(tmp_path):
    topic = ['name = "cluster"', "query = 'Lavrov AND Afghan*'"]
    with SiteServer() as server:
        for number, outlet in enumerate(OUTLETS):
            topic += ["", "[[outlet]]", f'name = "Outlet {number}"', f'url = "{outlet}/"', f'feeds = ["{outlet}/feed"]']
            server.route(f"{outlet}/robots.txt", robots_txt())
            server.route(f"{outlet}/", "<html><body><p>home</p></body></html>")
            items = [{"url": article_url(outlet, n), "title": f"Lavrov on Afghanistan {n}", "published": "2021-07-16"}
                     for n in range(ARTICLES_PER_OUTLET)]
            server.route(f"{outlet}/feed", Reply(body=rss_feed(f"Outlet {number}", items),
                                                 headers=[("Content-Type", "application/rss+xml")]))
            for n in range(ARTICLES_PER_OUTLET):
                server.route(article_url(outlet, n), Reply(body=article_page(
                    f"Lavrov on Afghanistan {n}", [f"Story {number}-{n}: what happened on day {n}."] + BODY,
                    published="2021-07-16", site_name=f"Outlet {number}"), delay=0.05))
        (tmp_path / "topic.toml").write_text("\n".join(topic) + "\n")
        yield server


def slow_articles(site: SiteServer, delay: float) -> None:
    """Every outlet's articles answered after ``delay`` seconds, each with a line of its own."""
    for n in range(ARTICLES_PER_OUTLET):
        for outlet in OUTLETS:
            site.route(article_url(outlet, n), Reply(body=article_page(
                f"Lavrov on Afghanistan {n}", [f"Story {outlet}-{n}."] + BODY, published="2021-07-16"), delay=delay))


def start_worker(tmp_path: Path, site: SiteServer, redis_url: str, number: int, *settings: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(http_proxy=site.proxy_url, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
               SCRAPY_SETTINGS_MODULE="crawler.settings")
    log = open(tmp_path / f"worker-{number}.log", "w")
    return subprocess.Popen(
        [sys.executable, "-m", "scrapy", "crawl", "coverage", "-a", f"topic={tmp_path / 'topic.toml'}",
         "-s", f"ARCHIVE_DIR={tmp_path / 'archive'}", "-s", f"CLUSTER_REDIS_URL={redis_url}",
         "-s", f"DOWNLOAD_DELAY={DELAY}", "-s", "CONCURRENT_REQUESTS=3", "-s", "AUTOTHROTTLE_ENABLED=False",
         "-s", "EXTRACT_WORKERS=0", "-s", f"STATSFILE_PATH={tmp_path / f'stats-{number}.json'}",
         *(arg for setting in settings for arg in ("-s", setting))],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_all(processes: list[subprocess.Popen], tmp_path: Path) -> None:
    for number, process in enumerate(processes):
        try:
            process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"worker {number} did not finish:\n" + (tmp_path / f"worker-{number}.log").read_text()[-4000:])


def article_requests(site: SiteServer) -> list:
    return [r for r in site.requests() if "/world/" in r.path]


def check_output(tmp_path: Path) -> list[dict]:
    topic_dir = tmp_path / "archive" / "cluster"
    entries = list(read_manifest(topic_dir / "manifest.jsonl"))
    expected = {article_url(o, n) for o in OUTLETS for n in range(ARTICLES_PER_OUTLET)}
    assert sorted(e["url"] for e in entries) == sorted(expected)  # every article, each once
    numbers = sorted(int(e["file"].split("_")[0]) for e in entries)
    assert len(set(numbers)) == len(numbers)
    assert sorted(p.name for p in (topic_dir / "text").iterdir()) == sorted(e["file"] for e in entries)
    return entries


def warc_check(topic_dir: Path) -> list[Path]:
    files = sorted((topic_dir / "warc").glob("*.warc.gz"))
    for path in files:
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    return files


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_share_one_crawl(tmp_path, site, redis_url, workers):
    processes = [start_worker(tmp_path, site, redis_url, n) for n in range(workers)]
    wait_all(processes, tmp_path)
    requests = article_requests(site)
    counts = Counter(r.url for r in requests)
    assert len(counts) == len(OUTLETS) * ARTICLES_PER_OUTLET and set(counts.values()) == {1}, counts
    for outlet in OUTLETS:  # the per-outlet delay holds for the cluster, not per worker
        host = outlet.removeprefix("http://")
        seen = sorted((r for r in site.requests() if r.host == host and r.path != "/robots.txt"), key=lambda r: r.time)
        close = [(round(b.time - a.time, 3), a.path, b.path) for a, b in zip(seen, seen[1:]) if b.time - a.time < DELAY - 0.02]
        lost = [json.loads((tmp_path / f"stats-{n}.json").read_text()).get("distributed/slot_lost") for n in range(workers)]
        assert not close, (host, close, "slots lost per worker:", lost)  # each pair closer than the delay, by path
    check_output(tmp_path)
    stats = [json.loads((tmp_path / f"stats-{n}.json").read_text()) for n in range(workers)]
    assert sum(1 for s in stats if s.get("extract/pages")) >= 2  # the work was shared
    topic_dir = tmp_path / "archive" / "cluster"
    # one worker writes the topic's report, from the shared store: all of the cluster's articles
    assert sum(1 for s in stats if "distributed/report_left_to" not in s) == 1, stats
    report = json.loads((topic_dir / "report.json").read_text())
    assert report["totals"]["kept"] == len(OUTLETS) * ARTICLES_PER_OUTLET
    files = warc_check(topic_dir)
    writers = {int(f.name.rsplit("-", 1)[1].split(".")[0]) for f in files}
    assert 2 <= len(writers) and writers <= {p.pid for p in processes}  # each worker writes files of its own
    # each worker ends with its own summary: its share of the new articles, which add up to the cluster's
    headlines = [next(line for line in (tmp_path / f"worker-{n}.log").read_text().splitlines()
                      if line.startswith(f"presswarc worker {socket.gethostname()}/{process.pid}: cluster "))
                 for n, process in enumerate(processes)]
    shares = [int(re.search(r" kept, (\d+) new by this worker; ", line).group(1)) for line in headlines]
    assert sum(shares) == len(OUTLETS) * ARTICLES_PER_OUTLET, headlines
    indexed = {json.loads(line.split(" ", 2)[2])["filename"] for line in (topic_dir / "index.cdxj").read_text().splitlines()}
    assert indexed == {f.name for f in files}


def test_robots_txt_is_read_once_for_the_cluster(tmp_path, site, redis_url):
    """Three workers: each outlet is asked for its robots.txt once, whichever worker takes its requests, and the
    workers that did not read it obey it all the same (a disallowed article, a host whose file answers 503)."""
    banned = article_url(OUTLETS[0], ARTICLES_PER_OUTLET - 1)
    site.route(f"{OUTLETS[0]}/robots.txt", robots_txt(disallow=[banned.removeprefix(OUTLETS[0])]))
    site.route(f"{OUTLETS[1]}/robots.txt", Reply(body="busy", status=503))
    processes = [start_worker(tmp_path, site, redis_url, n) for n in range(3)]
    wait_all(processes, tmp_path)
    assert [p.returncode for p in processes] == [0, 0, 0]
    robots = Counter(r.host for r in site.requests() if r.path == "/robots.txt")
    once = {outlet.removeprefix("http://"): 1 for outlet in OUTLETS}
    once[OUTLETS[1].removeprefix("http://")] += project_settings.RETRY_TIMES  # a 503 is retried, by one worker
    assert robots == Counter(once), robots
    urls = [r.url for r in site.requests()]
    assert banned not in urls
    assert {url for url in urls if url.startswith(OUTLETS[1])} == {f"{OUTLETS[1]}/robots.txt"}
    stats = [json.loads((tmp_path / f"stats-{n}.json").read_text()) for n in range(3)]
    assert sum(s.get("robotstxt/request_count", 0) for s in stats) == len(OUTLETS)
    assert sum(s.get("robotstxt/shared", 0) for s in stats) >= 2  # each worker reads every outlet it crawls
    shared = redis.Redis.from_url(redis_url).hgetall("presswarc:cluster:robots")
    assert {host.decode() for host in shared} == {outlet.removeprefix("http://") for outlet in OUTLETS}
    assert shared[OUTLETS[1].removeprefix("http://").encode()].startswith(b"503\n")


def test_no_blocking_redis_call_on_the_reactor(tmp_path, site, redis_url):
    """Two workers share a crawl with a probe (tests/support/blockingredis.py) that notes every command sent
    through redis-py's blocking client from the reactor thread: the cluster's components send none (their Redis
    work runs on the asyncio client); only the topic store's, asked synchronously by design, are left out."""
    probes = tmp_path / "blocking-redis.jsonl"
    extensions = {**project_settings.EXTENSIONS, "tests.support.blockingredis.BlockingRedisProbe": 0}  # -s replaces
    probe = [f"EXTENSIONS={json.dumps(extensions)}", f"BLOCKING_REDIS_LOG={probes}"]
    processes = [start_worker(tmp_path, site, redis_url, n, *probe) for n in range(2)]
    wait_all(processes, tmp_path)
    assert [p.returncode for p in processes] == [0, 0]
    check_output(tmp_path)
    assert probes.exists()  # the probe ran
    blocking = Counter(json.loads(line)["where"] for line in probes.read_text().splitlines())
    assert not blocking, blocking


def test_a_killed_worker_loses_nothing(tmp_path, site, redis_url):
    processes = [start_worker(tmp_path, site, redis_url, n) for n in range(2)]
    deadline = time.time() + 60
    while len(article_requests(site)) < 6 and time.time() < deadline:
        time.sleep(0.05)
    processes[1].send_signal(signal.SIGKILL)
    wait_all(processes[:1], tmp_path)
    check_output(tmp_path)
    topic_dir = tmp_path / "archive" / "cluster"
    recovered = subprocess.run([sys.executable, "-m", "scrapy", "recover-warc", str(topic_dir)], cwd=REPO,
                               capture_output=True, text=True)
    assert recovered.returncode == 0, recovered.stderr
    warc_check(topic_dir)
    assert not list((topic_dir / "warc").glob("*.open"))


def test_a_worker_killed_while_holding_articles_loses_none(tmp_path, site, redis_url):
    """A worker holds an outlet's article requests while that outlet's other feed is still being read; killed
    then, its requests were in no queue and no lease, only in the frontier, which the survivor reads again."""
    topic = tmp_path / "topic.toml"
    text = topic.read_text()
    for outlet in OUTLETS:  # a second feed, slow and empty: the first feed's articles wait for it
        text = text.replace(f'feeds = ["{outlet}/feed"]', f'feeds = ["{outlet}/feed", "{outlet}/later-feed"]')
        site.route(f"{outlet}/later-feed", Reply(body=rss_feed("later", []), delay=4,
                                                 headers=[("Content-Type", "application/rss+xml")]))
        # the first feed answers late, so both workers have read the frontier at start before anyone holds
        items = [{"url": article_url(outlet, n), "title": f"Lavrov on Afghanistan {n}", "published": "2021-07-16"}
                 for n in range(ARTICLES_PER_OUTLET)]
        site.route(f"{outlet}/feed", Reply(body=rss_feed("Outlet", items), delay=2,
                                           headers=[("Content-Type", "application/rss+xml")]))
    topic.write_text(text)
    processes = [start_worker(tmp_path, site, redis_url, n, "LOG_LEVEL=DEBUG") for n in range(2)]
    deadline, holder = time.time() + 60, None
    while holder is None and time.time() < deadline:
        holder = next((n for n in range(2) if "held until the outlet's other listings are read"
                       in (tmp_path / f"worker-{n}.log").read_text()), None)
        time.sleep(0.02)
    assert holder is not None, "no worker held an outlet's articles"
    processes[holder].send_signal(signal.SIGKILL)
    survivor = 1 - holder
    try:
        processes[survivor].wait(timeout=180)
    except subprocess.TimeoutExpired:
        processes[survivor].kill()
        pytest.fail("the surviving worker did not finish")
    check_output(tmp_path)  # the survivor read the frontier again before stopping (or, started late, at start)


def test_redis_going_away_stops_workers_cleanly(tmp_path, site, redis_url):
    slow_articles(site, 0.5)
    process = start_worker(tmp_path, site, redis_url, 0, "CLUSTER_REDIS_RETRY_SECONDS=2")
    deadline = time.time() + 60
    while len(article_requests(site)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    redis.Redis.from_url(redis_url).shutdown(nosave=True)
    assert process.wait(timeout=120) == 2
    log = (tmp_path / "worker-0.log").read_text()
    assert f"Redis at {redis_url} stayed unreachable" in log, log[-3000:]
    assert log.count("is unreachable") == 2, log[-3000:]  # the outage once, the stop once: no storm
    assert "Traceback" not in log, log[-3000:]
    topic_dir = tmp_path / "archive" / "cluster"
    assert not list((topic_dir / "warc").glob("*.open"))  # files closed, nothing half-written
    warc_check(topic_dir)


def test_a_redis_restart_costs_a_pause_not_the_crawl(tmp_path, site):
    """Redis stops mid-crawl and comes back three seconds later (its data on disk, as a production Redis keeps
    it): both workers wait, say so once, and finish the crawl; every article archived once."""
    slow_articles(site, 0.2)
    (tmp_path / "redis").mkdir()
    with restartable_redis_server(tmp_path / "redis") as server:
        processes = [start_worker(tmp_path, site, server.url, n) for n in range(2)]
        deadline = time.time() + 60
        while len(article_requests(site)) < 8 and time.time() < deadline:
            time.sleep(0.05)
        server.stop()
        time.sleep(3)
        server.start()
        wait_all(processes, tmp_path)
        assert [p.returncode for p in processes] == [0, 0]
    check_output(tmp_path)
    counts = Counter(r.url for r in article_requests(site))
    assert set(counts.values()) == {1}, counts
    logs = [(tmp_path / f"worker-{n}.log").read_text() for n in range(2)]
    assert all(f"Redis at {server.url} is back" in log for log in logs)
    assert all(log.count("is unreachable") == 1 and "Traceback" not in log for log in logs), logs[0][-3000:]


def test_staggered_workers_all_end_soon_after_the_last_article(tmp_path, site, redis_url):
    """Three workers started two seconds apart, and a fourth once the crawl is over: each exits 0 within 15 s of
    the last article request; the late one finds nothing new (its listings answer as before, every article is
    archived) and ends quickly."""
    slow_articles(site, 0.5)  # slow enough that the crawl outlasts the staggered starts
    processes = []
    for n in range(3):
        processes.append(start_worker(tmp_path, site, redis_url, n))
        time.sleep(2)
    wait_all(processes, tmp_path)
    ended = time.time()
    assert [p.returncode for p in processes] == [0, 0, 0]
    last_article = max(r.time for r in article_requests(site))
    assert ended - last_article < 15, ended - last_article
    check_output(tmp_path)
    started = time.time()
    late = start_worker(tmp_path, site, redis_url, 3)
    assert late.wait(timeout=60) == 0
    assert time.time() - started < 30
    check_output(tmp_path)  # nothing written twice
    assert Counter(r.url for r in article_requests(site)).most_common(1)[0][1] == 1  # nothing fetched twice
