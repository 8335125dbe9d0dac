"""Private Scrapy internals the crawl relies on, each in one place with the public API it lacks.

``tests/test_compat.py`` fails when one of these hooks disappears from the installed Scrapy.
"""

from __future__ import annotations

from typing import Any


def engine_drained(engine: Any) -> bool:
    """Nothing queued, nothing downloading, every start request handed out.

    Missing public API: Scrapy's ``ExecutionEngine.spider_is_idle()`` also requires the scraper to have no item
    in progress; the capture-order pipeline holds items on purpose and needs the rest of that test alone.
    """
    if engine.downloader.active:
        return False
    if engine._start is not None:  # noqa: SLF001 - start requests not all consumed
        return False
    return not engine._slot.scheduler.has_pending_requests()  # noqa: SLF001


def use_bundled_public_suffix_list() -> None:
    """Make the cookies middleware use tldextract's bundled public suffix list instead of downloading it.

    Scrapy's ``_split_domain`` is a ``TLDExtract`` with its default list URLs: on the first cookie of a crawl it
    fetches the list from publicsuffix.org (then GitHub) with ``requests``, synchronously in the reactor thread
    and past every request check of the crawl, logging two tracebacks when offline. A replay must not touch the
    network and a live crawl must not leave the outlets' hosts, so every crawl uses the bundled snapshot.

    Missing public API: Scrapy has no setting or hook for the suffix list (or the ``TLDExtract``) the cookies
    middleware judges public domains with; it is the module attribute ``_split_domain``.
    """
    from scrapy.downloadermiddlewares import cookies
    from tldextract import TLDExtract

    cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)  # noqa: SLF001


def engine_scheduler(crawler: Any) -> Any:
    """The scheduler of the crawler's running engine, or None before it opens and after it closes.

    Missing public API: Scrapy hands the scheduler to nobody; components that must reach it (the cluster's leases,
    released from spider callbacks and item signals) find it on the engine's private slot.
    """
    slot = _engine_slot(crawler)
    return slot.scheduler if slot is not None else None


def wake_engine(crawler: Any, seconds: float) -> None:
    """Have the engine ask its scheduler for requests again in ``seconds`` (sooner if something else wakes it).

    Missing public API: a scheduler that has requests but none due yet can only return None, and the engine then
    looks again at its next 5-second heartbeat; its ``nextcall`` (a ``CallLaterOnce``) is the only way to be
    asked sooner.
    """
    slot = _engine_slot(crawler)
    if slot is not None:
        slot.nextcall.schedule(seconds)


def _engine_slot(crawler: Any) -> Any:
    try:
        engine = crawler.engine  # Scrapy 2.19 raises RuntimeError before the crawl starts
    except (AttributeError, RuntimeError):
        return None
    return getattr(engine, "_slot", None)  # noqa: SLF001
