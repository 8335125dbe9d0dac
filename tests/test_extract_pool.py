"""Extraction in worker processes: same output as in-process, a dying worker costs at most its page, no orphans."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from pipelines.manifest import read_manifest
from tests.support.crawl import crawl
from tests.support.example import EXAMPLE
from tests.support.sites import SiteServer, article_page, robots_txt, rss_feed

REPO = Path(__file__).resolve().parent.parent
HOST = "http://www.pool.test"
BODY = ["Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
        "He spoke at a regional conference in Tashkent attended by the Afghan president, Ashraf Ghani."]


def replay(archive: Path, workers: int) -> dict[str, bytes]:
    crawl("coverage", archive, spider_args={"topic": str(EXAMPLE / "topic.toml")},
          settings={"REPLAY_FROM": str(EXAMPLE / "example.warc.gz"), "EXTRACT_WORKERS": str(workers)})
    text = archive / "lavrov-afghanistan" / "text"
    return {p.name.split("_", 1)[1]: p.read_bytes() for p in text.iterdir()}


def test_workers_write_the_same_files_as_in_process(tmp_path):
    in_process = replay(tmp_path / "a", 0)
    pooled = replay(tmp_path / "b", 2)
    assert in_process and pooled == in_process


def processes_marked(mark: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if mark.encode() in Path(f"/proc/{entry}/environ").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
    return found


def test_a_dying_worker_costs_only_its_page_and_none_is_left_behind(tmp_path):
    names = ["normal-1", "crash-once", "normal-2", "crash-always", "normal-3"]
    urls = [f"{HOST}/news/lavrov-afghanistan-{name}" for name in names]
    (tmp_path / "topic.toml").write_text(f'name = "pool"\nquery = "Lavrov"\n\n[[outlet]]\nname = "Pool"\n'
                                         f'url = "{HOST}/"\nfeeds = ["{HOST}/feed.xml"]\n')
    (tmp_path / "markers").mkdir()
    mark = f"PRESSWARC_TEST_MARK={uuid.uuid4().hex}"
    with SiteServer() as site:
        site.route(f"{HOST}/robots.txt", robots_txt())
        site.route(f"{HOST}/", "<html><body><p>home</p></body></html>")
        site.route(f"{HOST}/feed.xml", rss_feed("Pool", [{"url": u, "title": f"Lavrov {n}"} for n, u in enumerate(urls)]))
        for n, url in enumerate(urls):
            site.route(url, article_page(f"Lavrov story {n}", [f"Story number {n}."] + BODY, published="2021-07-16"))
        stats, result = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
                              settings={"DOWNLOAD_DELAY": "0", "EXTRACT_WORKERS": "2",
                                        "EXTRACT_FUNCTION": "tests.plugins.crashing_extract.extract_or_die"},
                              env={"http_proxy": site.proxy_url, "CRASH_MARKER_DIR": str(tmp_path / "markers"),
                                   mark.split("=")[0]: mark.split("=")[1]})
    kept = sorted(e["url"] for e in read_manifest(tmp_path / "archive" / "pool" / "manifest.jsonl"))
    assert kept == sorted(u for u in urls if "crash-always" not in u)  # the retried page is there too
    assert stats["extract/worker_crashed"] >= 3  # crash-once once, crash-always twice
    assert "extraction worker died" in result.stderr
    assert "extraction failed twice (worker died)" in result.stderr and "crash-always" in result.stderr
    assert processes_marked(mark) == []  # the pool went down with the crawl


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_die_with_a_crawl_killed_while_extracting(tmp_path):
    """SIGKILL runs no clean-up in the crawl, so without PR_SET_PDEATHSIG its idle workers lived on for a minute
    or more (about 175 MB each)."""
    import signal
    import subprocess
    import sys
    import time

    from tests.support.crawl import REPO

    urls = [f"{HOST}/news/lavrov-afghanistan-{n}" for n in range(40)]
    (tmp_path / "topic.toml").write_text(f'name = "pool"\nquery = "Lavrov"\n\n[[outlet]]\nname = "Pool"\n'
                                         f'url = "{HOST}/"\nfeeds = ["{HOST}/feed.xml"]\n')
    with SiteServer() as site:
        site.route(f"{HOST}/robots.txt", robots_txt())
        site.route(f"{HOST}/", "<html><body><p>home</p></body></html>")
        site.route(f"{HOST}/feed.xml", rss_feed("Pool", [{"url": u, "title": f"Lavrov {n}"} for n, u in enumerate(urls)]))
        for n, url in enumerate(urls):
            site.route(url, article_page(f"Lavrov story {n}", [f"Story number {n}."] + BODY * 40,
                                         published="2021-07-16"))
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
        env.update(http_proxy=site.proxy_url, PYTHONPATH=str(REPO), SCRAPY_SETTINGS_MODULE="crawler.settings")
        process = subprocess.Popen([sys.executable, "-m", "scrapy", "crawl", "coverage", "-a",
                                    f"topic={tmp_path / 'topic.toml'}", "-s", f"ARCHIVE_DIR={tmp_path / 'archive'}",
                                    "-s", "EXTRACT_WORKERS=2", "-s", "DOWNLOAD_DELAY=0"],
                                   cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while sum(1 for r in site.requests() if "/news/" in r.path) < 5 and time.time() < deadline:
            time.sleep(0.05)
        workers = [pid for pid in children_of(process.pid) if alive(pid)]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert len(workers) >= 2, "the crawl had not started its workers"
    time.sleep(2)
    assert [pid for pid in workers if alive(pid)] == []


def test_a_worker_that_extracted_a_page_has_not_imported_scrapy():
    """A worker loads only what extraction needs (Scrapy costs a third of a second and memory in each worker):
    the package it imports for ``extract_to_dict`` and its initializer leave Scrapy to the pipeline's methods."""
    from pipelines.extract import extract_to_dict
    from pipelines.extract.pool import new_executor
    from tests.support.modules import imports_scrapy

    executor = new_executor(1)
    try:
        article = executor.submit(extract_to_dict, article_page("Lavrov in Tashkent", BODY).encode(),
                                  f"{HOST}/news/lavrov", frozenset()).result(timeout=120)
        assert article["paragraphs"]
        assert executor.submit(imports_scrapy).result(timeout=60) is False
    finally:
        executor.shutdown(wait=True)


def test_in_process_extraction_warms_up_in_a_thread_before_its_first_page():
    """With ``EXTRACT_WORKERS=0`` extraction runs on the reactor's thread: the libraries and the language model
    load in a thread as the pool starts (while discovery runs), and the first page waits for that warm-up
    instead of loading them itself. Checked in a fresh interpreter, where nothing is loaded yet."""
    script = ("import asyncio, sys\n"
              "from pipelines.extract import extract_to_dict\n"
              "from pipelines.extract.pool import ExtractionPool\n"
              "assert 'trafilatura' not in sys.modules and 'py3langid' not in sys.modules\n"
              "pool = ExtractionPool(0, extract_to_dict, on_crash=lambda: None)\n"
              "pool.start()\n"
              "pool.warming.result(timeout=120)\n"
              "assert 'trafilatura' in sys.modules and 'py3langid' in sys.modules\n"
              f"page = {article_page('Lavrov in Tashkent', BODY).encode()!r}\n"
              f"article = asyncio.run(pool.run((page, {HOST + '/news/lavrov'!r}, frozenset())))\n"
              "assert article['paragraphs'] and pool.warming is None\n"
              "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.stdout.strip() == "ok", result.stderr[-3000:]
