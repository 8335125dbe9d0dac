"""A crawl never writes through a symlink in its topic directory unless ARCHIVE_ALLOW_SYMLINKS says it may."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.paths import IN_PLACE_FILES, TopicPaths, UnsafeArchive, topic_paths
from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

HOST = "http://www.paths.test"
TOPIC = f"""
name = "linked"
query = 'Lavrov'

[[outlet]]
name = "Paths Post"
url = "{HOST}/"
feeds = ["{HOST}/feed.xml"]
"""
ARTICLE = f"{HOST}/news/lavrov-1"
SETTINGS = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "RETRY_TIMES": "0", "EXTRACT_WORKERS": "0"}


def tree(root: Path) -> list[str]:
    """Every path under ``root`` (symlinks listed, not followed), to show that nothing was created."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def plant(paths: TopicPaths, where: str, elsewhere: Path) -> Path:
    """A symlink at ``where`` (the topic directory, a subdirectory or a file in it) pointing at ``elsewhere``."""
    link = paths.root / where if where != "." else paths.root
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere)
    return link


@pytest.mark.parametrize("where", [".", "warc", "text", *IN_PLACE_FILES, "warc/x.warc.gz.open"])
def test_create_refuses_a_symlink_where_the_crawl_writes(tmp_path, where):
    paths = topic_paths(tmp_path / "archive", "linked")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if where.startswith("warc/"):
        paths.warc_dir.mkdir(parents=True)
    plant(paths, where, elsewhere)
    before = tree(tmp_path)
    with pytest.raises(UnsafeArchive, match=f"is a symlink \\(to {elsewhere}\\).*ARCHIVE_ALLOW_SYMLINKS=True"):
        paths.create()
    assert tree(tmp_path) == before


def test_create_accepts_symlinked_directories_when_allowed(tmp_path):
    elsewhere = tmp_path / "disk2"
    elsewhere.mkdir()
    paths = topic_paths(tmp_path / "archive", "linked", allow_symlinks=True)
    plant(paths, "warc", elsewhere)
    assert paths.create().warc_dir.resolve() == elsewhere.resolve() and paths.text_dir.is_dir()


def test_a_symlinked_archive_dir_above_the_topic_is_the_users_choice(tmp_path):
    """ARCHIVE_DIR itself may be a symlink (a mount elsewhere): only what is inside a topic directory is checked."""
    (tmp_path / "real").mkdir()
    (tmp_path / "archive").symlink_to(tmp_path / "real")
    topic_paths(tmp_path / "archive", "linked").create()
    assert (tmp_path / "real" / "linked" / "warc").is_dir()


@pytest.fixture
def site(tmp_path):
    (tmp_path / "topic.toml").write_text(TOPIC)
    with SiteServer() as server:
        server.route(f"{HOST}/robots.txt", robots_txt())
        server.route(f"{HOST}/", "<html><body><p>Paths Post</p></body></html>")
        server.route(f"{HOST}/feed.xml", Reply(body=rss_feed("Paths Post", [
            {"url": ARTICLE, "title": "Lavrov speaks", "published": "2021-07-16"}]),
            headers=[("Content-Type", "application/rss+xml")]))
        server.route(ARTICLE, article_page("Lavrov speaks", [
            "Lavrov spoke about the talks in Tashkent at length today.",
            "He said the region needed a settlement that all neighbours could accept.",
            "The minister took questions from reporters for an hour afterwards."], published="2021-07-16"))
        yield server


def run(site: SiteServer, tmp_path: Path, **settings: str):
    return crawl("coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
                 settings={**SETTINGS, **settings}, env={"http_proxy": site.proxy_url}, check=False)


@pytest.mark.parametrize("where", [".", "warc", "text"])
def test_a_crawl_refuses_a_symlinked_topic_directory_in_one_line(site, tmp_path, where):
    """Exit status 2, one error line naming the link, no traceback, nothing written on either side of the link."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = plant(topic_paths(tmp_path / "archive", "linked"), where, elsewhere)
    before = tree(tmp_path / "archive")
    _, result = run(site, tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].endswith(
        f"error: {link} is a symlink (to {elsewhere}); a crawl does not write through symlinks in a topic "
        "directory (ARCHIVE_ALLOW_SYMLINKS=True allows it)")
    assert "Traceback" not in result.stderr and "Spider opened" not in result.stderr
    assert tree(tmp_path / "archive") == before and list(elsewhere.iterdir()) == []
    assert site.requests() == []


def test_a_crawl_writes_through_symlinked_directories_when_allowed(site, tmp_path):
    disk2 = tmp_path / "disk2"
    (disk2 / "text").mkdir(parents=True)
    (disk2 / "warc").mkdir()
    paths = topic_paths(tmp_path / "archive", "linked")
    plant(paths, "text", disk2 / "text")
    plant(paths, "warc", disk2 / "warc")
    stats, result = run(site, tmp_path, ARCHIVE_ALLOW_SYMLINKS="True")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((disk2 / "text").glob("*.txt"))) == 1 and list((disk2 / "warc").glob("*.warc.gz"))
    assert paths.text_dir.is_symlink() and paths.warc_dir.is_symlink()
    assert stats["item_scraped_count"] == 1
