"""Extraction: one fetched page -> the article's clean text and metadata.

- :mod:`~pipelines.extract.stages`: the per-page stages (decode, parse, metadata, prompts, trafilatura,
  language), pure and free of Scrapy; :mod:`~pipelines.extract.metadata` reads the metadata from the one tree,
  :mod:`~pipelines.extract.opinion` asks a second opinion on doubtful pages;
- :mod:`~pipelines.extract.pool`: the worker processes that run them (warm-up, die-with-parent, crash recovery);
- :mod:`~pipelines.extract.pipeline`: the Scrapy item pipeline (``ITEM_PIPELINES``);
- :mod:`~pipelines.extract.cli`: ``python -m pipelines.extract PAGE.html`` on one page.

The dotted paths ``pipelines.extract.ExtractPipeline`` and ``pipelines.extract.extract_to_dict`` (the
``EXTRACT_FUNCTION`` default) name the re-exports below. Worker processes import this package for
``extract_to_dict``: nothing here imports Scrapy, which the pipeline leaves to its methods.
"""

from pipelines.extract.pipeline import ExtractPipeline
from pipelines.extract.pool import ExtractionPool, WorkerDied, die_with_parent, warm_up
from pipelines.extract.metadata import canonical_url, publication_date
from pipelines.extract.stages import (Article, decode_html, detect_language, extract_article, extract_to_dict,
                                      load_language_detector, looks_binary, main_paragraphs, parse_html)

__all__ = ["Article", "ExtractPipeline", "ExtractionPool", "WorkerDied", "canonical_url", "decode_html",
           "detect_language", "die_with_parent", "extract_article", "extract_to_dict", "load_language_detector",
           "looks_binary", "main_paragraphs", "parse_html", "publication_date", "warm_up"]
