"""Log lines for items that name the article instead of dumping it (an item carries a whole page of text)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.logformatter import LogFormatter

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


def _name(item: Any) -> str:
    return getattr(item, "final_url", None) or getattr(item, "url", None) or type(item).__name__


class ArticleLogFormatter(LogFormatter):
    """Scraped items at DEBUG and dropped ones (off topic, duplicate...) at INFO, each as one short line.

    Lines below ``LOG_LEVEL`` are not built at all when Scrapy's own handler does the logging (``LOG_ENABLED``):
    that handler would drop them, but only after the logging module had built a record for each, two or three
    per page."""

    def __init__(self, minimum_level: int = logging.NOTSET) -> None:
        self.minimum_level = minimum_level

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ArticleLogFormatter":
        settings = crawler.settings
        level = logging.NOTSET
        if settings.getbool("LOG_ENABLED"):
            value = settings.get("LOG_LEVEL")
            named = value if isinstance(value, int) else logging.getLevelName(str(value).upper())
            level = named if isinstance(named, int) else logging.NOTSET
        return cls(level)

    def _entry(self, entry: dict | None) -> dict | None:
        return entry if entry is not None and entry["level"] >= self.minimum_level else None

    def crawled(self, request, response, spider):
        return self._entry(super().crawled(request, response, spider))

    def scraped(self, item, response, spider):
        return self._entry({"level": logging.DEBUG, "msg": "written: %(item)s -> %(file)s",
                            "args": {"item": _name(item), "file": getattr(item, "file", None)}})

    def dropped(self, item, exception, response, spider):
        return self._entry({"level": logging.INFO, "msg": "%(reason)s",
                            "args": {"reason": str(exception) or _name(item)}})

    def item_error(self, item, exception, response, spider):
        return {"level": logging.ERROR, "msg": "error processing %(item)s", "args": {"item": _name(item)}}
