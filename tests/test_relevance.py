"""The relevance pipeline on single extracted articles: which are kept, and what the others leave behind.

An article that is not kept produces no text file, so the reason it was dropped must be counted per outlet and
remembered in the topic's state: the report's figures and the next run's "already fetched" both rest on it.
"""

from __future__ import annotations

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.state import close_state
from crawler.store import SqliteStore as State
from pipelines.relevance import NotKept, RelevancePipeline, judge
from tests.support.pipelines import TopicSpider, article_item, topic_crawler

ON_TOPIC = "Sergei Lavrov said the Taliban now control most of the Afghan border.\n\nHe spoke in Tashkent."


@pytest.fixture
def crawler(tmp_path):
    crawler = topic_crawler(tmp_path / "archive")
    yield crawler
    close_state(tmp_path / "archive" / "wire" / "state.sqlite")


@pytest.mark.parametrize("changes, outcome", [
    ({}, "kept"),
    ({"published": None}, "kept"),  # an unknown day is given the benefit of the doubt
    ({"language": None}, "kept"),
    ({"text": "   "}, "no_text"),
    ({"text": "The council approved a road budget.", "title": "Budget"}, "off_topic"),
    ({"text": "Lavrov spoke about cricket.", "title": "Lavrov"}, "off_topic"),  # Lavrov without Afghan*/Taliban
    ({"published": "2021-07-09"}, "out_of_window"),
    ({"published": "2021-07-21"}, "out_of_window"),
    ({"language": "de"}, "off_language"),
])
def test_judge_names_the_first_reason_an_article_fails(crawler, changes, outcome):
    fields = {"title": "Lavrov on Afghanistan", "text": ON_TOPIC, "published": "2021-07-16", "language": "en", **changes}
    item = article_item("https://www.alpha.test/a", "alpha", fields["title"], fields["text"],
                        published=fields["published"], language=fields["language"])
    assert judge(item, crawler.spider.topic)[0] == outcome


def test_the_title_counts_and_the_discovery_title_stands_in_for_a_missing_one(crawler):
    """The query runs over title and body: a body that only says Afghan* matches when the title says Lavrov."""
    topic = crawler.spider.topic
    item = article_item("https://www.alpha.test/a", "alpha", "Lavrov speaks", "The Taliban took Kandahar.")
    outcome, relevance = judge(item, topic)
    assert outcome == "kept" and relevance["matched"]
    assert set(relevance["terms"]) >= {"Lavrov", "Taliban"}
    item.article["title"] = None
    assert judge(item, topic)[0] == "off_topic"
    item.hint_title = "Lavrov speaks"  # the feed's or sitemap's title
    assert judge(item, topic)[0] == "kept"


def test_a_kept_article_passes_with_its_match(crawler):
    pipeline = RelevancePipeline.from_crawler(crawler)
    item = article_item("https://www.alpha.test/a", "alpha", "Lavrov on Afghanistan", ON_TOPIC)
    assert pipeline.process_item(item) is item
    assert item.relevance["matched"] and "Lavrov" in item.relevance["terms"]
    assert not [key for key in crawler.stats.get_stats() if key.startswith("coverage/")]
    assert State(crawler.settings["ARCHIVE_DIR"] + "/wire/state.sqlite").outcome_of(item.url) is None


def test_a_dropped_article_is_counted_per_outlet_and_remembered(crawler, tmp_path):
    pipeline = RelevancePipeline.from_crawler(crawler)
    item = article_item("https://beta.test/b", "beta", "Lavrov on Afghanistan", ON_TOPIC, published="2021-06-01")
    with pytest.raises(NotKept) as dropped:
        pipeline.process_item(item)
    assert dropped.value.outcome == "out_of_window"
    assert "not kept (out of window): https://beta.test/b" in str(dropped.value)
    assert crawler.stats.get_value("coverage/beta/out_of_window") == 1
    assert crawler.stats.get_value("coverage/alpha/out_of_window") is None
    # the next run reads the same file: it must know the URL was fetched, with what outcome and status
    assert State(tmp_path / "archive" / "wire" / "state.sqlite").outcome_of(item.url)[0::2] == ("out_of_window", 200)


def test_without_a_topic_the_pipeline_is_off():
    """The urllist spider crawls URLs without a topic: nothing to judge against."""
    crawler = get_crawler(TopicSpider)
    crawler.spider = object()
    with pytest.raises(NotConfigured):
        RelevancePipeline.from_crawler(crawler)
