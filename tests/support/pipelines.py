"""A real Scrapy crawler whose spider carries a topic, for driving the article pipelines one item at a time.

The relevance and dedup pipelines read the topic from the running spider and open the topic's state under
``ARCHIVE_DIR``; a crawler from ``scrapy.utils.test.get_crawler`` with its spider attached (as
``Crawler.crawl`` attaches it) is all they need, so their decisions can be checked without a crawl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from crawler.items import ArticleItem
from crawler.topic import Topic, parse_topic
from tests.support.settings import project_settings_dict

TOPIC = {"name": "wire", "query": "Lavrov AND (Afghan* OR Taliban)", "since": "2021-07-10", "until": "2021-07-20",
         "languages": ["en"],
         "outlet": [{"name": "Alpha", "url": "https://www.alpha.test/"}, {"name": "Beta", "url": "https://beta.test/"}]}


class TopicSpider(Spider):
    """A spider that only names its topic, as the coverage spider does for the pipelines."""

    name = "topic-spider"

    def __init__(self, topic: Topic, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.topic_name = topic.name


def topic_crawler(archive: Path, topic: dict[str, Any] | None = None, **settings: Any) -> Crawler:
    """A crawler with the project's settings, ``ARCHIVE_DIR=archive`` and ``settings``, whose spider crawls ``topic``
    (default ``TOPIC``)."""
    from crawler.paths import topic_paths
    from crawler.run import TopicRun
    from crawler.state import open_state

    crawler = get_crawler(TopicSpider, project_settings_dict(ARCHIVE_DIR=str(archive), **settings))
    crawler.spider = TopicSpider.from_crawler(crawler, topic=parse_topic(topic or TOPIC))
    paths = topic_paths(archive, crawler.spider.topic.name).create()
    crawler.topic_run = TopicRun(crawler.spider.topic, paths, open_state(paths.state))  # as TopicRunExtension does
    return crawler


def article_item(url: str, outlet: str, title: str, text: str, *, published: str | None = "2021-07-16",
                 language: str | None = "en", canonical_url: str | None = None) -> ArticleItem:
    """An item as the extract pipeline leaves it: fetched, archived, and with its article extracted."""
    paragraphs = [p for p in text.split("\n\n") if p]
    return ArticleItem(url=url, final_url=url, outlet=outlet.capitalize(), outlet_slug=outlet, via="sitemap",
                       html=b"<html></html>", status=200, fetched_at="2021-07-21T08:00:00Z",
                       warc_file="a.warc.gz", warc_record_id="<urn:uuid:1>",
                       article={"title": title, "text": "\n\n".join(paragraphs), "paragraphs": paragraphs,
                                "published": published, "language": language, "canonical_url": canonical_url})
