"""What the coverage spider makes of a fetched article page: the item the pipelines get, or the outcome the store
records when there is nothing to read (a cut body, a PDF or an image, a failed fetch).

Every outcome is recorded under the URL that was asked for (the first of its redirect hops): that is the URL a
listing names on the next run, and the one the settled check (``crawler.fetch.settled``) looks up.
"""

from __future__ import annotations

from datetime import datetime, timezone

from scrapy.http import Request, Response

from crawler.contracts import Kind, Meta, Outcome
from crawler.items import ArticleItem
from crawler.spiders.builder import capture_time
from crawler.store import TopicStore
from crawler.topic import Outlet


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def content_type_of(response: Response) -> str:
    return response.headers.get(b"Content-Type", b"").decode("latin-1").lower()


def is_readable(content_type: str) -> bool:
    """Whether a page of this Content-Type is read as an article (HTML or XML; no type at all: tried)."""
    return not content_type or "html" in content_type or "xml" in content_type


def record_cut(store: TopicStore, response: Response, slug: str) -> bool:
    """Record a body cut short; True when it was over DOWNLOAD_MAXSIZE (it will be again: not tried again), False
    for an incomplete compressed stream (it may come whole next time: an error, tried again)."""
    oversize = response.meta.get(Meta.TRUNCATED) == "length"
    store.record_outcome(response.meta.get("redirect_urls", [response.url])[0], kind=Kind.ARTICLE, outlet=slug,
                         outcome=Outcome.TOO_LARGE if oversize else Outcome.ERROR, status=response.status,
                         fetched_at=_now())
    return oversize


def record_not_html(store: TopicStore, response: Response, slug: str) -> None:
    """Record a page that is no article (a PDF, an image): settled, not read."""
    store.record_outcome((response.meta.get("redirect_urls") or [response.url])[0], kind=Kind.ARTICLE, outlet=slug,
                         outcome=Outcome.NOT_HTML, status=response.status,
                         fetched_at=capture_time((response.meta.get(Meta.WARC) or {}).get("date")))


def record_failure(store: TopicStore, request: Request, slug: str, response: Response | None) -> None:
    """Record a failed fetch (an HTTP error, a timeout): an error, tried again by later runs up to a cap."""
    warc = request.meta.get(Meta.WARC) or {}
    store.record_outcome(request.meta.get("redirect_urls", [request.url])[0], kind=Kind.ARTICLE, outlet=slug,
                         outcome=Outcome.ERROR, status=response.status if response is not None else None,
                         warc_file=warc.get("file"), record_id=warc.get("record_id"), fetched_at=_now())


def article_item(response: Response, outlet: Outlet, via: str, content_type: str, arrival: int) -> ArticleItem:
    """The item of a fetched article page, with the WARC record it was archived in (or replayed from)."""
    warc = response.meta.get(Meta.WARC) or {}
    redirects = response.meta.get("redirect_urls")
    return ArticleItem(
        url=response.request.url if not redirects else redirects[0],
        final_url=response.url,
        outlet=outlet.name,
        outlet_slug=outlet.slug,
        via=via,
        html=response.body,
        status=response.status,
        fetched_at=capture_time(warc.get("date")) or _now(),
        content_type=content_type or None,
        warc_file=warc.get("file"),
        warc_record_id=warc.get("record_id"),
        hint_title=response.meta.get(Meta.HINT_TITLE),
        arrival=arrival,
        captured_at=warc.get("date"),
        warc_offset=warc.get("offset"),
        capture_ref=tuple(warc["source"]) if warc.get("source") else None,
    )
