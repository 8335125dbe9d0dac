"""Log lines for items that name the article instead of dumping it (an item carries a whole page of text)."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.logformatter import LogFormatter


def _name(item: Any) -> str:
    return getattr(item, "final_url", None) or getattr(item, "url", None) or type(item).__name__


class ArticleLogFormatter(LogFormatter):
    """Scraped items at DEBUG and dropped ones (off topic, duplicate...) at INFO, each as one short line."""

    def scraped(self, item, response, spider):
        return {"level": logging.DEBUG, "msg": "written: %(item)s -> %(file)s",
                "args": {"item": _name(item), "file": getattr(item, "file", None)}}

    def dropped(self, item, exception, response, spider):
        return {"level": logging.INFO, "msg": "%(reason)s", "args": {"reason": str(exception) or _name(item)}}

    def item_error(self, item, exception, response, spider):
        return {"level": logging.ERROR, "msg": "error processing %(item)s", "args": {"item": _name(item)}}
