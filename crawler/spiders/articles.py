"""What the coverage spider makes of a fetched article page: the item the pipelines get, or the outcome the store
records when there is nothing to read (a cut body, a PDF or an image, a failed fetch).

Every outcome is recorded under the URL that was asked for (the first of its redirect hops): that is the URL a
listing names on the next run, and the one the settled check (``crawler.fetch.settled``) looks up.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator

from scrapy.exceptions import (CannotResolveHostError, DownloadConnectionRefusedError, DownloadTimeoutError,
                               ResponseDataLossError)
from scrapy.http import Request, Response
from twisted.internet import error as twisted_errors

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




def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and what it wraps: its cause and context, and the failures a Twisted ``ResponseNeverReceived`` or
    ``ResponseFailed`` carries (``reasons``), where a TLS error arrives."""
    seen: set[int] = set()
    todo = [exc] if exc is not None else []
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += [getattr(reason, "value", None) for reason in getattr(current, "reasons", None) or []
                 if isinstance(getattr(reason, "value", None), BaseException)]


def _is_tls(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("OpenSSL", "ssl", "service_identity")) or "SSL routines" in str(exc)


def error_cause(exc: BaseException | None, response: Response | None = None) -> str:
    """The ``crawler.contracts.ERROR_CAUSES`` key of a failed fetch: an HTTP status, or what the connection died of."""
    if response is not None and response.status >= 400:
        if response.status in (404, 410):
            return "not_found"
        return "http_5xx" if response.status >= 500 else "http_4xx"
    chain = list(_chain(exc))
    kinds = [
        ("tls", lambda e: _is_tls(e)),
        ("dns", lambda e: isinstance(e, (CannotResolveHostError, twisted_errors.DNSLookupError))),
        ("timeout", lambda e: isinstance(e, (DownloadTimeoutError, twisted_errors.TimeoutError, TimeoutError,
                                             twisted_errors.TCPTimedOutError))),
        ("connection_refused", lambda e: isinstance(e, (DownloadConnectionRefusedError,
                                                        twisted_errors.ConnectionRefusedError,
                                                        ConnectionRefusedError))),
        ("truncated", lambda e: isinstance(e, ResponseDataLossError)),
        ("connection_lost", lambda e: isinstance(e, (twisted_errors.ConnectionLost, twisted_errors.ConnectionDone,
                                                     ConnectionResetError))
         or type(e).__name__ in ("ResponseNeverReceived", "ResponseFailed")),
    ]
    for cause, test in kinds:
        if any(test(e) for e in chain):
            return cause
    return "other"


def _failure_detail(exc: BaseException | None, response: Response | None) -> dict[str, Any]:
    message = (f"HTTP {response.status}" if response is not None and response.status >= 400
               else f"{type(exc).__name__}: {exc}" if exc is not None else "")
    return {"cause": error_cause(exc, response), "message": " ".join(message.split())[:300]}


def record_cut(store: TopicStore, response: Response, slug: str) -> bool:
    """Record a body cut short; True when it was over DOWNLOAD_MAXSIZE (it will be again: not tried again), False
    for an incomplete compressed stream (it may come whole next time: an error, tried again)."""
    oversize = response.meta.get(Meta.TRUNCATED) == "length"
    store.record_outcome(response.meta.get("redirect_urls", [response.url])[0], kind=Kind.ARTICLE, outlet=slug,
                         outcome=Outcome.TOO_LARGE if oversize else Outcome.ERROR, status=response.status,
                         fetched_at=_now(), detail={"cause": "too_large" if oversize else "truncated",
                                                    "title": response.meta.get(Meta.HINT_TITLE)})
    return oversize


def record_not_html(store: TopicStore, response: Response, slug: str) -> None:
    """Record a page that is no article (a PDF, an image): settled, not read."""
    store.record_outcome((response.meta.get("redirect_urls") or [response.url])[0], kind=Kind.ARTICLE, outlet=slug,
                         outcome=Outcome.NOT_HTML, status=response.status,
                         fetched_at=capture_time((response.meta.get(Meta.WARC) or {}).get("date")),
                         detail={"content_type": content_type_of(response)[:100],
                                 "title": response.meta.get(Meta.HINT_TITLE)})


def record_failure(store: TopicStore, request: Request, slug: str, response: Response | None,
                   exc: BaseException | None = None) -> None:
    """Record a failed fetch (an HTTP error, a timeout) with its cause (:func:`error_cause`): an error, tried again
    by later runs up to a cap."""
    warc = request.meta.get(Meta.WARC) or {}
    store.record_outcome(request.meta.get("redirect_urls", [request.url])[0], kind=Kind.ARTICLE, outlet=slug,
                         outcome=Outcome.ERROR, status=response.status if response is not None else None,
                         warc_file=warc.get("file"), record_id=warc.get("record_id"), fetched_at=_now(),
                         detail={**_failure_detail(exc, response), "title": request.meta.get(Meta.HINT_TITLE)})


def record_refused(store: TopicStore, request: Request, slug: str, outcome: Outcome, reason: str) -> None:
    """Record an article request refused before it left (robots.txt, the outlet's budget), for the report."""
    store.record_outcome(request.meta.get("redirect_urls", [request.url])[0], kind=Kind.ARTICLE, outlet=slug,
                         outcome=outcome, fetched_at=_now(),
                         detail={"message": reason[:300], "title": request.meta.get(Meta.HINT_TITLE),
                                 "via": request.meta.get(Meta.VIA)})


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
        validators=response.meta.get(Meta.VALIDATORS), recheck=response.meta.get(Meta.RECHECK),
        replay_served=response.meta.get(Meta.REPLAY_SERVED),
    )
