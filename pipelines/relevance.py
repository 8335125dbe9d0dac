"""Relevance: is the extracted article about the topic, inside its window, in one of its languages?

The decision uses the same query evaluator as discovery, now on the extracted title and body. An article that
fails is archived (it was fetched) but gets no text file; the reason is counted per outlet in the stats
(``coverage/<outlet>/off_topic``, ``…/out_of_window``, ``…/off_language``) and remembered in the state.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from scrapy.exceptions import DropItem, NotConfigured

from crawler.contracts import Kind, Outcome
from crawler.items import ArticleItem
from crawler.run import topic_run

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class NotKept(DropItem):
    """An article fetched and archived that produces no text file, with the reason as ``outcome``."""

    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def judge(item: ArticleItem, topic) -> tuple[Outcome, dict]:
    """The outcome of one article (kept, no text, off topic, out of the window, off language) and the match."""
    article = item.article or {}
    if not (article.get("text") or "").strip():
        return Outcome.NO_TEXT, {"matched": False, "terms": {}}  # nothing readable: an error page, a script, binary
    title = article.get("title") or item.hint_title or ""
    match = topic.query.match({"title": title, "body": article.get("text") or ""})
    relevance = {"matched": match.matched, "terms": match.terms}
    if not match.matched:
        return Outcome.OFF_TOPIC, relevance
    if not topic.in_window(_parse_day(article.get("published"))):
        return Outcome.OUT_OF_WINDOW, relevance
    language = article.get("language")
    if topic.languages and language and language not in topic.languages:
        return Outcome.OFF_LANGUAGE, relevance
    return Outcome.KEPT, relevance


def why(item: ArticleItem, topic) -> dict:
    """What the report shows of an article not kept: its title, the relevance score (the share of the query's
    positive terms found) and where each was found, the date and its source, the language."""
    article = item.article or {}
    terms = (item.relevance or {}).get("terms") or {}
    positive = topic.query.positive_terms()
    return {"title": article.get("title") or item.hint_title,
            "score": round(len(terms) / len(positive), 2) if positive else None, "terms": terms,
            "published": article.get("published"), "date_source": "page" if article.get("published") else None,
            "language": article.get("language")}


class RelevancePipeline:
    """Drops articles that are off topic, out of the window or in another language (``NotKept``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RelevancePipeline":
        if getattr(crawler, "topic_run", None) is None:
            raise NotConfigured("no topic: relevance needs one")
        return cls(crawler)

    def process_item(self, item: ArticleItem) -> ArticleItem:
        if item.recheck:  # a kept article asked for again: a version of it, whatever it says now (pipelines.versions)
            return item
        outcome, item.relevance = judge(item, topic_run(self.crawler).topic)
        if outcome == Outcome.KEPT:
            return item
        self.stats.inc_value(f"coverage/{item.outlet_slug}/{outcome}")
        state = topic_run(self.crawler).store
        state.record_outcome(item.url, kind=Kind.ARTICLE, outlet=item.outlet_slug, outcome=outcome,
                             final_url=item.final_url, status=item.status, warc_file=item.warc_file,
                             record_id=item.warc_record_id, fetched_at=item.fetched_at,
                             detail=why(item, topic_run(self.crawler).topic))
        raise NotKept(outcome, f"not kept ({outcome.replace('_', ' ')}): {item.final_url}")
