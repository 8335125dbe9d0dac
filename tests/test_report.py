"""The coverage report, the WACZ package and re-extraction, on the bundled example replayed (and re-recorded)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from crawler.report import write_report
from tests.crawl import REPO, crawl, run_scrapy
from tests.test_example import EXAMPLE


@pytest.fixture(scope="module")
def topic_dir(tmp_path_factory) -> Path:
    archive = tmp_path_factory.mktemp("report") / "archive"
    crawl("coverage", archive, spider_args={"topic": str(EXAMPLE / "topic.toml")},
          settings={"REPLAY_FROM": str(EXAMPLE / "example.warc.gz"), "WARC_ENABLED": "True", "EXTRACT_WORKERS": "0"})
    return archive / "lavrov-afghanistan"


def test_report_figures(topic_dir):
    report = json.loads((topic_dir / "report.json").read_text())
    assert report["totals"] == {"kept": 6, "paywalled": 1, "near_duplicates": 1, "off_topic": 2, "out_of_window": 1,
                                "off_language": 1, "duplicate": 0, "errors": 0}
    outlets = report["outlets"]
    assert outlets["the-moscow-times"]["via"] == {"sitemap": 2}
    assert outlets["central-asia-wire"]["via"] == {"feed": 1} and outlets["zerohedge"]["via"] == {"feed": 1}
    assert outlets["far-east-herald"]["via"] == {"section": 2} and outlets["far-east-herald"]["paywalled"] == 1
    assert outlets["rundschau-24"]["off_language"] == 1
    assert len(report["articles"]) == 6 and sum(report["timeline"]["the-moscow-times"].values()) == 2
    assert list(report["timeline"]["zerohedge"]) == [f"2021-07-{d:02d}" for d in range(10, 21)]


def test_report_markdown(topic_dir):
    text = (topic_dir / "report.md").read_text()
    assert "| The Moscow Times | 2 | 1 | 1 | 0 | 0 | 1 | 0 | 0 | sitemap 2 |" in text
    assert text.count("](text/") == 6


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("headless Chromium is needed (apt-get install chromium; `make system-deps` does it)")


def test_report_html_renders_in_chromium(topic_dir, tmp_path):
    page = (topic_dir / "report.html").read_text()
    assert "<script" not in page and "<link" not in page  # one self-contained file, nothing fetched
    result = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                             "--v=0", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                             (topic_dir / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    dom = result.stdout
    assert '<figure id="timeline"><svg' in dom
    assert dom.count("<tr>") >= 1 + 5 + 1 + 6  # headers, five outlets, six articles
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []


def test_report_command_rebuilds_the_same_report(topic_dir):
    before = json.loads((topic_dir / "report.json").read_text())
    for name in ("report.json", "report.md", "report.html"):
        (topic_dir / name).unlink() if name != "report.json" else None
    result = run_scrapy(["report", str(topic_dir)])
    assert "report.html" in result.stdout
    after = json.loads((topic_dir / "report.json").read_text())
    assert after["totals"] == before["totals"] and after["articles"] == before["articles"]
    assert (topic_dir / "report.md").exists() and (topic_dir / "report.html").exists()


def test_empty_archive_gives_an_empty_report(tmp_path):
    written = write_report(tmp_path)
    assert json.loads(written["json"].read_text())["totals"]["kept"] == 0
    assert "No dated articles" in written["html"].read_text()


def test_wacz_package_is_valid(topic_dir, tmp_path):
    output = tmp_path / "topic.wacz"
    run_scrapy(["wacz", str(topic_dir), "-o", str(output)])
    wacz = shutil.which("wacz", path=str(Path(sys.executable).parent)) or "wacz"
    check = subprocess.run([wacz, "validate", "-f", str(output)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with zipfile.ZipFile(output) as package:
        names = package.namelist()
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").decode().splitlines()[1:]]
    assert "datapackage.json" in names and any(n.startswith("archive/") for n in names)
    assert len(pages) == 6 and all(p["url"].startswith("http://www.") for p in pages)


def test_wacz_without_warc_files_fails_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_scrapy(["wacz", str(tmp_path / "empty"), "-o", str(tmp_path / "x.wacz")], check=False)
    assert result.returncode != 0 and "no WARC files" in result.stderr


def test_reextract_summarizes_changes(topic_dir, tmp_path):
    target = tmp_path / "again"
    same = run_scrapy(["reextract", str(topic_dir), "-o", str(target)], env={"http_proxy": "http://127.0.0.1:9"})
    assert "0 changed, 6 unchanged" in same.stdout
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in (topic_dir / "text").iterdir())
    edited = sorted((topic_dir / "text").iterdir())[0]
    original = edited.read_text()
    edited.write_text(original + "\nA paragraph the old extractor kept.\n")
    try:
        changed = run_scrapy(["reextract", str(topic_dir), "-o", str(tmp_path / "again2")])
        assert "1 changed" in changed.stdout and "-6" in changed.stdout
    finally:
        edited.write_text(original)
