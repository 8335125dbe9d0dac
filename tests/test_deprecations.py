"""Renamed settings: an old name still takes effect for one release, under its new name, with one warning line.

The rules on real ``Settings``; then the two ways settings reach the project: a real ``scrapy crawl`` (a literal
127.0.0.1 outlet is only reached when the old ``ALLOW_PRIVATE_HOSTS`` takes effect; the stats file only appears
when the old ``STATS_FILE`` does) and a real ``presswarc`` command (``check-topic`` finds its topic file only
through the old ``TOPICS_DIR``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys

import pytest
import scrapy.settings.default_settings as scrapy_defaults
from scrapy import Spider
from scrapy.crawler import CrawlerRunner
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.test import get_crawler

import crawler.settings
from crawler.deprecations import RENAMED, rename_settings
from crawler.spiders.coverage import CoverageSpider
from tests.support.crawl import REPO, run_scrapy
from tests.support.settings import project_settings, project_settings_dict
from tests.support.sites import SiteServer, robots_txt

FAST = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "EXTRACT_WORKERS": "0", "BACKOFF_BASE": "0",
        "REPORT_ENABLED": "False"}
TOPIC = 'name = "renamed"\nquery = "Lavrov"\nsince = 2021-07-10\nuntil = 2021-07-20\n\n' \
        '[[outlet]]\nname = "Local"\nurl = "{url}/"\n'
# Set by crawler.cluster.addon from DOWNLOAD_DELAY, not a default of crawler/settings.py.
DERIVED = {"CLUSTER_OUTLET_DELAY"}


def deprecated(old: str) -> str:
    return f"setting {old} is deprecated and will be removed in the next release: use {RENAMED[old]}"


# -- the table --

def test_every_new_name_is_a_setting_of_the_project_and_no_old_name_is():
    defined = {name for name in dir(crawler.settings) if name.isupper()}
    assert sorted(set(RENAMED.values()) - defined - DERIVED) == []
    assert sorted(set(RENAMED) & defined) == []
    assert len(set(RENAMED.values())) == len(RENAMED)  # no two old names share a new one
    assert not set(RENAMED) & set(RENAMED.values())


def test_no_old_name_is_a_setting_of_scrapy():
    """One would be present in every crawl at Scrapy's default priority (and left alone, not renamed)."""
    assert sorted(name for name in RENAMED if hasattr(scrapy_defaults, name)) == []


SOURCES = ("crawler", "pipelines", "bench", "tests", "docs", "examples")
OLD = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, RENAMED)) + r")(?![A-Za-z0-9_])")


def test_the_project_itself_uses_only_the_new_names():
    """Old names live in crawler/deprecations.py, this file and the README's list of renamed settings only."""
    allowed = {REPO / "crawler" / "deprecations.py", REPO / "tests" / "test_deprecations.py"}
    files = [path for folder in SOURCES for path in (REPO / folder).rglob("*")
             if path.suffix in (".py", ".md", ".toml", ".cfg", ".txt") and path not in allowed]
    files += [REPO / "Makefile", REPO / ".ci" / "run", REPO / "scrapy.cfg", REPO / "pyproject.toml"]
    found = [f"{path.relative_to(REPO)}: {name}" for path in files if path.is_file()
             for name in OLD.findall(path.read_text(encoding="utf-8", errors="replace"))]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    renamed = readme.split("\n### Renamed settings\n", 1)[1].split("\n## ", 1)[0]
    found += [f"README.md: {name}" for name in OLD.findall(readme.replace(renamed, ""))]
    assert found == []
    assert sorted(set(OLD.findall(renamed))) == sorted(RENAMED)  # every old name listed there


# -- the rules --

def test_an_old_name_moves_to_the_new_one_at_its_priority():
    settings = project_settings(RETRY_BACKOFF_BASE="7")
    assert rename_settings(settings) == [deprecated("RETRY_BACKOFF_BASE")]
    assert settings.getfloat("BACKOFF_BASE") == 7
    assert settings.getpriority("BACKOFF_BASE") == SETTINGS_PRIORITIES["cmdline"]
    assert "RETRY_BACKOFF_BASE" not in settings
    assert rename_settings(settings) == []  # done once: a second pass finds nothing


def test_when_both_are_set_the_new_name_wins():
    settings = project_settings(RETRY_BACKOFF_BASE="7", BACKOFF_BASE="0")
    assert rename_settings(settings) == ["settings RETRY_BACKOFF_BASE and BACKOFF_BASE are both set: BACKOFF_BASE "
                                         "wins (RETRY_BACKOFF_BASE is its deprecated name; remove it)"]
    assert settings.getfloat("BACKOFF_BASE") == 0 and "RETRY_BACKOFF_BASE" not in settings


def test_a_project_module_setting_both_gives_the_new_value_when_it_is_not_the_default():
    """A project's own settings module (``from crawler.settings import *`` and its changes) sets names at the
    project's priority, as crawler/settings.py does: the new name counts as set when its value is not ours."""
    settings = project_settings()
    settings.setdict({"STATS_FILE": "old.json", "STATSFILE_PATH": "new.json"}, priority="project")
    assert "both set" in rename_settings(settings)[0]
    assert settings["STATSFILE_PATH"] == "new.json"
    settings = project_settings()
    settings.setdict({"STATS_FILE": "old.json", "STATSFILE_PATH": ""}, priority="project")  # ours, restated
    assert rename_settings(settings) == [deprecated("STATS_FILE")]
    assert settings["STATSFILE_PATH"] == "old.json"


class CustomSpider(Spider):
    name = "custom"
    custom_settings = {"NEAR_DUPLICATE_SHINGLE": 5}


def test_a_crawler_reads_old_names_from_the_process_and_from_its_spider(caplog):
    """The crawler process's settings (command line, project) are renamed before any crawler exists, a
    spider's ``custom_settings`` when its crawler applies its add-ons; each warning is logged there, once."""
    with caplog.at_level(logging.WARNING, logger="crawler.deprecations"):
        crawler = get_crawler(CustomSpider, project_settings_dict(SECTION_MAX_PAGES=9))
    assert crawler.settings.getint("DISCOVERY_MAX_LISTING_PAGES") == 9
    assert crawler.settings.getint("DEDUP_NEAR_SHINGLE") == 5
    assert "SECTION_MAX_PAGES" not in crawler.settings and "NEAR_DUPLICATE_SHINGLE" not in crawler.settings
    assert sorted(r.getMessage() for r in caplog.records if r.name == "crawler.deprecations") == [
        deprecated("NEAR_DUPLICATE_SHINGLE"), deprecated("SECTION_MAX_PAGES")]


def test_the_spiders_from_crawler_reads_an_old_name_given_to_the_process():
    """``Crawler.crawl`` builds the spider before it applies the add-ons: the rename must happen earlier."""
    crawler = CrawlerRunner(project_settings_dict(SECTION_MAX_PAGES=9)).create_crawler(CoverageSpider)
    assert CoverageSpider.from_crawler(crawler, topic="topic.toml").section_pages == 9


def test_the_settled_middlewares_old_names_reach_a_crawler_under_their_new_ones():
    settings = CrawlerRunner(project_settings_dict(ERROR_RETRY_RUNS=1, REFRESH_AFTER_DAYS=2)).create_crawler(
        Spider).settings
    assert (settings.getint("SETTLED_ERROR_RETRY_RUNS"), settings.getfloat("SETTLED_REFRESH_AFTER_DAYS")) == (1, 2.0)


# -- a real crawl and a real command --

@pytest.fixture
def local_outlet(tmp_path, site: SiteServer):
    """A topic whose outlet is the test server itself, on the literal address 127.0.0.1."""
    site.route(f"{site.origin}/robots.txt", robots_txt())
    site.route(f"{site.origin}/", "<html><body><p>home</p></body></html>")
    (tmp_path / "topic.toml").write_text(TOPIC.format(url=site.origin))
    return tmp_path / "topic.toml"


def crawl_args(topic, archive, **settings: str) -> list[str]:
    args = ["crawl", "coverage", "-a", f"topic={topic}", "-s", f"ARCHIVE_DIR={archive}"]
    for name, value in {**FAST, **settings}.items():
        args += ["-s", f"{name}={value}"]
    return args


def test_old_names_on_a_crawls_command_line_take_effect_with_one_warning_each(tmp_path, site, local_outlet):
    stats_file = tmp_path / "stats.json"
    result = run_scrapy(crawl_args(local_outlet, tmp_path / "archive", ALLOW_PRIVATE_HOSTS="True",
                                   STATS_FILE=str(stats_file)), check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {entry.path for entry in site.requests()} >= {"/robots.txt", "/"}  # the guard let 127.0.0.1 through
    assert json.loads(stats_file.read_text())["downloader/response_count"] >= 2
    for old in ("ALLOW_PRIVATE_HOSTS", "STATS_FILE"):
        warnings = [line for line in result.stderr.splitlines() if deprecated(old) in line]
        assert len(warnings) == 1 and "WARNING" in warnings[0], result.stderr[-3000:]
    assert len([line for line in result.stderr.splitlines() if "[crawler.deprecations]" in line]) == 2


def test_the_new_name_wins_over_the_old_one_in_a_crawl(tmp_path, site, local_outlet):
    result = run_scrapy(crawl_args(local_outlet, tmp_path / "archive", ALLOW_PRIVATE_HOSTS="True",
                                   GUARD_ALLOW_PRIVATE_HOSTS="False"), check=False)
    assert result.returncode == 3  # nothing fetched: the guard refused 127.0.0.1
    assert site.requests() == []
    assert "settings ALLOW_PRIVATE_HOSTS and GUARD_ALLOW_PRIVATE_HOSTS are both set" in result.stderr


def test_an_old_name_given_to_a_presswarc_command_takes_effect_with_a_warning(tmp_path):
    (tmp_path / "topics").mkdir()
    (tmp_path / "topics" / "story.toml").write_text(TOPIC.format(url="https://www.alpha.test"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "-m", "crawler.cli", "check-topic", "story.toml",
                             "-s", f"TOPICS_DIR={tmp_path / 'topics'}"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "renamed" in result.stdout
    assert result.stderr.splitlines() == [f"warning: {deprecated('TOPICS_DIR')}"]
