"""The Scrapy item pipeline of extraction: each fetched page's article, through the worker pool, into its item.

Scrapy is imported inside the methods only: worker processes import this package (``pipelines.extract``) for
``extract_to_dict``, and Scrapy costs a third of a second to import and nothing to them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from crawler.paths import paths_for
from crawler.state import open_state
from pipelines.cuefile import read_cues_file
from pipelines.extract.pool import ExtractionPool, WorkerDied
from pipelines.extract.stages import _without_boilerplate, detect_language
from pipelines.prompts import SiteMemory

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.items import ArticleItem


class ExtractPipeline:
    """Runs :func:`~pipelines.extract.stages.extract_article` for each fetched page in a pool of worker processes
    (:class:`~pipelines.extract.pool.ExtractionPool`).

    Items wait on the pool's futures, so the reactor keeps going; Scrapy's scraper slot
    (``SCRAPER_SLOT_MAX_ACTIVE_SIZE``) stops the engine from taking more responses while too many wait, which
    bounds memory. A worker that dies costs only the page that killed it.

    Settings: ``EXTRACT_WORKERS`` (None = CPU count, 0 = in this process), ``EXTRACT_SITE_MEMORY_MIN_ARTICLES``,
    ``EXTRACT_FUNCTION`` (a module-level function with :func:`extract_to_dict`'s signature, to plug in another
    extractor), ``EXTRACT_CUES_FILE`` (the user's own prompt cues, on top of the packaged ones).
    """

    def __init__(self, crawler: Crawler) -> None:
        from scrapy.utils.misc import load_object

        self.crawler = crawler
        self.stats = crawler.stats
        workers = crawler.settings.get("EXTRACT_WORKERS")
        self.workers = (os.cpu_count() or 1) if workers in (None, "") else int(workers)
        self.min_articles = crawler.settings.getint("EXTRACT_SITE_MEMORY_MIN_ARTICLES")
        self.extract = load_object(crawler.settings.get("EXTRACT_FUNCTION"))
        self.memory = SiteMemory(self.min_articles)
        self.pool = ExtractionPool(self.workers, self.extract,
                                   on_crash=lambda: self.stats.inc_value("extract/worker_crashed"),
                                   extra_cues=read_cues_file(crawler.settings.get("EXTRACT_CUES_FILE")))
        self.state = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ExtractPipeline":
        pipeline = cls(crawler)
        pipeline.pool.start()  # as soon as the pipeline exists, so the workers' imports overlap start-up
        return pipeline

    def open_spider(self) -> None:
        run = getattr(self.crawler, "topic_run", None)  # a crawl of another spider keeps its own state
        self.state = run.store if run is not None else open_state(paths_for(self.crawler.settings,
                                                                             self.crawler.spider).state)
        self.memory = SiteMemory(self.min_articles, self.state.site_memory())

    def close_spider(self) -> None:
        if self.state is not None:
            self.state.save_site_memory(self.memory.learned())
        self.pool.shutdown()

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        from scrapy.exceptions import DropItem

        boilerplate = self.memory.boilerplate(item.outlet_slug)
        try:
            article = await self.pool.run((item.html, item.final_url, boilerplate, item.content_type))
        except WorkerDied as exc:
            raise DropItem(str(exc)) from exc
        except DropItem:
            raise
        except Exception as exc:
            self.stats.inc_value("extract/errors")
            raise DropItem(f"extraction failed on {item.final_url}: {exc!r}") from exc
        self.memory.observe_keys(item.outlet_slug, item.final_url, article.pop("memory_keys", []))
        learned = self.memory.boilerplate(item.outlet_slug) - boilerplate
        if learned:  # boilerplate recognised while this page was in the pool
            article["paragraphs"] = _without_boilerplate(article["paragraphs"], learned)
            article["text"] = "\n\n".join(article["paragraphs"])
            article["words"] = len(article["text"].split())
        if "language" not in article:  # a plugged-in extractor that leaves the language to the pipeline
            article["language"] = detect_language(article.get("text") or "", article.get("declared_language"))
        item.article = article
        item.html = b""  # the page stays in the WARC; the item need not carry it further
        self.stats.inc_value("extract/pages")
        if article.get("prompts_removed"):
            self.stats.inc_value("extract/prompts_removed", article["prompts_removed"])
        return item
