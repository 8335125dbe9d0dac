"""The item that carries one fetched article page from the spider through the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ArticleItem:
    """A fetched page that discovery believed to be an article of an outlet.

    The spider fills the fetch fields; ``article`` (the extraction result as a dict), ``relevance`` and the
    duplicate fields are added by the pipelines in their order: extract -> relevance -> dedup -> text files.
    """

    url: str  # the URL as discovered and requested
    final_url: str  # after redirects
    outlet: str  # outlet name as in the topic file
    outlet_slug: str
    via: str  # discovery path: sitemap | feed | section | search
    html: bytes
    status: int
    fetched_at: str  # ISO 8601 UTC
    content_type: str | None = None  # the response's Content-Type header, for its charset
    warc_file: str | None = None
    warc_record_id: str | None = None
    hint_title: str | None = None
    article: dict[str, Any] | None = None
    canonical_url: str | None = None
    relevance: dict[str, Any] = field(default_factory=dict)
    duplicate_of: str | None = None
    similarity: float | None = None
    text_content: str | None = None  # the rendered text file, once dedup has computed it
    text_sha256: str | None = None
    minhash: Any = None  # the near-duplicate signature, kept until the file is written
    file: str | None = None  # the text file name, once written
    lease: str | None = None  # distributed crawls: the queue lease this article holds until its file is written
    arrival: int | None = None  # the page's place in this run's arrivals (crawler.spiders.coverage)
    captured_at: str | None = None  # the response record's WARC-Date (the original's, when replaying)
    warc_offset: int | None = None  # the response record's offset in warc_file
    # (file, offset) of the record as first recorded: where a replay copied it from, so a replay orders its
    # articles as the recording crawl did (pipelines/order.py); None: warc_file and warc_offset are that place
    capture_ref: tuple[str, int] | None = None
    source: str = "live"  # a crawler.contracts.Source value: where this copy came from
    also_in: list[dict[str, str]] = field(default_factory=list)  # other captures: {"source", "captured_at", "url"}
    # Versions (crawler.fetch.versions, pipelines.versions): the validators the response sent; for a re-checked
    # kept article its TrackedArticle fields, and once it is found changed its version, previous file and what changed
    validators: tuple[str | None, str | None] | None = None
    recheck: dict[str, Any] | None = None
    version: int | None = None
    previous: str | None = None
    changed: str | None = None
    replay_served: tuple[int, int] | None = None  # replay: which of its URL's records the page was, of how many
