"""Fetching a capture a web archive's index listed (an article, or a feed or sitemap whose dates decide about the
articles' captures), and the article item it becomes (the other half of
``crawler.spiders.archives``, which finds the captures): a Wayback capture raw (``id_``), its archived redirects
followed to their target's capture; a Common Crawl record by byte range from its WARC file, its redirects looked
up in the index. The records the capture becomes are written by ``crawler.archive.capture``'s rules into the
crawl's own WARC files, before the item that points at them leaves.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from scrapy.http import Request, Response

from crawler.archive.capture import BrokenRecord, metadata_record, read_range, wayback_records
from crawler.archive.recorder import WarcRecorderMiddleware
from crawler.contracts import Kind, Meta, Source
from crawler.discovery.candidates import DiscoveryError
from crawler.discovery.feeds import parse_feed
from crawler.discovery.sitemaps import parse_sitemap
from crawler.discovery.cdx import (Capture, Dialect, capture_datetime, cdx_query_url, collapse, parse_cdx,
                                   parse_wayback_url, wayback_raw_url)
from crawler.items import ArticleItem
from crawler.query import slug_text
from crawler.spiders.builder import HINT_PRIORITY
from crawler.topic import Outlet
from crawler.urls.hosts import in_scope
from crawler.urls.normal import canonical_url, normalize_url

ARCHIVE_PRIORITY = -50  # below every live request: a live copy, when there is one, is listed first and wins
CDX_PRIORITY = 90
MAX_REDIRECT_HOPS = 5
REDIRECTS = (301, 302, 303, 307, 308)


class CaptureFetcher:
    """Capture requests and their callbacks; mixed into ``ArchiveSources`` (which provides ``_request``,
    ``_stat``, ``_failed``, ``_outlet``, ``also_in`` and the settings read here)."""

    def _capture_request(self, source: str, outlet: Outlet, capture: Capture, info: dict[str, Any],
                         hops: int = 0) -> Request | None:
        priority = ARCHIVE_PRIORITY + HINT_PRIORITY[self.topic.query.hint_score(slug_text(capture.url))]
        meta = {"outlet": outlet.slug, "url": capture.url, "timestamp": capture.timestamp, "hops": hops,
                "collection": info.get("collection"), "base": info.get("base")}
        if source == Source.WAYBACK:
            return self._request(wayback_raw_url(self.wayback_replay, capture.timestamp, capture.url),
                                 self.parse_wayback, source, Kind.CAPTURE, meta, priority, statuses=REDIRECTS)
        if capture.is_redirect:  # Common Crawl: its index names the target, whose capture is looked up
            if not capture.redirect or hops >= MAX_REDIRECT_HOPS or not in_scope(capture.redirect, outlet.hosts):
                self._failed(source, capture.url, outlet.slug, "archived redirect not followed "
                                                               f"(target {capture.redirect or 'unknown'})")
                return None
            url = cdx_query_url(info["base"], capture.redirect, Dialect.PYWB, self.topic.since, self.last_day,
                                exact=True)
            self._stat(source, "redirects_followed")
            return self._request(url, self.parse_redirect_target, source, Kind.CDX, dict(meta, hops=hops + 1),
                                 CDX_PRIORITY, statuses=(404,))
        if capture.filename is None or capture.offset is None or capture.length is None:
            self._failed(source, capture.url, outlet.slug, "the index names no file, offset and length")
            return None
        end = capture.offset + capture.length - 1
        meta.update(filename=capture.filename, offset=capture.offset, length=capture.length)
        # The data host ignores the query; it makes each range a URL of its own, so the WARC's records (and a replay
        # answering from them by URL) tell two records of one file apart.
        url = f"{self.cc_data}{capture.filename}?offset={capture.offset}&length={capture.length}"
        return self._request(url, self.parse_commoncrawl, source, Kind.CAPTURE, meta,
                             priority, headers={"Range": f"bytes={capture.offset}-{end}"}, statuses=(200, 206, 416))

    def _listing_request(self, outlet: Outlet, capture: Capture) -> Request:
        self._stat(Source.WAYBACK, "listings_listed")
        return self._request(wayback_raw_url(self.wayback_replay, capture.timestamp, capture.url),
                             self.parse_listing, Source.WAYBACK, Kind.CDX, {"outlet": outlet.slug, "url": capture.url},
                             CDX_PRIORITY)

    def parse_listing(self, response: Response) -> list[Request]:
        """An archived feed or sitemap: the dates it gives its entries decide about their captures."""
        info = self._answered(response)
        try:
            candidates = parse_feed(response.body, info["url"])
        except DiscoveryError:
            try:
                candidates = parse_sitemap(response.body, info["url"]).entries
            except DiscoveryError as error:
                self._failed(Source.WAYBACK, info["url"], info["outlet"], f"archived listing unreadable: {error}")
                candidates = []
        self._stat(Source.WAYBACK, "listings_read")
        for candidate in candidates:
            url = normalize_url(candidate.url)
            if url is not None and (candidate.published or candidate.lastmod):
                self.listed[canonical_url(url)] = candidate
        return self._released()

    def parse_redirect_target(self, response: Response) -> list[Request]:
        info = self._answered(response)
        try:
            captures = [c for c in parse_cdx(response.body, response.url).captures if c.is_page]
        except DiscoveryError:
            captures = []
        outlet = self._outlet(info["outlet"])
        if not captures:
            self._failed(info["source"], info["url"], outlet.slug, "the archived redirect's target has no capture")
            return self._released()
        request = self._capture_request(info["source"], outlet, collapse(captures)[0], info, hops=info["hops"])
        return ([request] if request is not None else []) + self._released()

    def parse_wayback(self, response: Response) -> Iterable[Any]:
        info = response.meta[Meta.ARCHIVE]
        outlet = self._outlet(info["outlet"])
        if 300 <= response.status < 400:
            return self._follow_wayback(response, info, outlet)
        found = parse_wayback_url(response.url)
        stamp, url = found if found else (info["timestamp"], info["url"])
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs]
        captured = capture_datetime(stamp)
        return self._item(response, outlet, Source.WAYBACK, url, captured, response.status, headers, response.body,
                          lambda builder: wayback_records(builder, url, captured, response.status, headers,
                                                          response.body, response.url))

    def _follow_wayback(self, response: Response, info: dict[str, Any], outlet: Outlet) -> list[Request]:
        """An archived redirect: its target's capture, when the target is still the outlet's."""
        location = response.headers.get(b"Location", b"").decode("latin-1")
        target = parse_wayback_url(response.urljoin(location)) if location else None
        if target is None and location:
            target = (info["timestamp"], response.urljoin(location))
        if target is None or info["hops"] >= MAX_REDIRECT_HOPS or not in_scope(target[1], outlet.hosts):
            self._failed(Source.WAYBACK, info["url"], outlet.slug, f"archived redirect not followed ({location[:200]})")
            return []
        self._stat(Source.WAYBACK, "redirects_followed")
        if canonical_url(normalize_url(target[1]) or target[1]) in self.released | self.seen_live:
            self._stat(Source.WAYBACK, "redirect_to_known")  # its target's own capture is on its way already
            return []
        capture = Capture(url=target[1], timestamp=target[0].ljust(14, "0"), status="200", mime="text/html")
        request = self._capture_request(Source.WAYBACK, outlet, capture, info, hops=info["hops"] + 1)
        return [request] if request is not None else []

    def parse_commoncrawl(self, response: Response) -> Iterable[Any]:
        info = response.meta[Meta.ARCHIVE]
        outlet = self._outlet(info["outlet"])
        data = response.body
        if response.status == 416:
            self._stat(Source.COMMONCRAWL, "range_refused")
            self._failed(Source.COMMONCRAWL, info["url"], outlet.slug, "416: range not satisfiable")
            return []
        if response.status == 200:  # a server that ignores Range: the record is cut out of the whole file
            data = data[info["offset"]:info["offset"] + info["length"]]
        try:
            record = read_range(data, info["length"])
        except BrokenRecord as error:
            self._stat(Source.COMMONCRAWL, "truncated_ranges")
            self._failed(Source.COMMONCRAWL, info["url"], outlet.slug, str(error))
            return []
        captured = capture_datetime("".join(ch for ch in record.warc_date if ch.isdigit()))

        def records(builder) -> list:
            return [record.data, metadata_record(builder, record.url, record.warc_date, record.record_id, {
                "source": "commoncrawl", "collection": info.get("collection"), "filename": info["filename"],
                "offset": info["offset"], "length": info["length"]})]
        return self._item(response, outlet, Source.COMMONCRAWL, record.url, captured, record.status, record.headers,
                          record.body, records, record_id=record.record_id)

    def _item(self, response: Response, outlet: Outlet, source: str, url: str, captured: datetime, status: int,
              headers: list[tuple[str, str]], body: bytes, records, record_id: str | None = None) -> list[Any]:
        """The article item of a capture, after its records are written (when this run records: a replay serves
        the archive's answer from the WARC, and the item points at that record)."""
        if canonical_url(normalize_url(url) or url) in self.seen_live:
            self._stat(source, "live_copy")
            return []
        if status != 200:
            self._failed(source, url, outlet.slug, f"the capture's status is {status}")
            return []
        warc = response.meta.get(Meta.WARC) or {}
        recorder = self.crawler.get_downloader_middleware(WarcRecorderMiddleware)
        if recorder is not None and recorder.writer is not None:
            writer = recorder.writer
            built = records(writer.builder)
            first = built[0]
            record_id = record_id or first.rec_headers.get_header("WARC-Record-ID")
            written = [writer.write_raw(first) if isinstance(first, bytes) else writer.write([first])[0]]
            written += writer.write(built[1:])
            warc = {"file": written[0].warc_file, "offset": written[0].offset, "record_id": record_id}
            self._stat(source, "records_written", len(written))
        self._stat(source, "captures_fetched")
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        captured_at = captured.isoformat()
        return [ArticleItem(url=url, final_url=url, outlet=outlet.name, outlet_slug=outlet.slug, via=source,
                            html=body, status=status,
                            fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            content_type=content_type or None, warc_file=warc.get("file"),
                            warc_record_id=warc.get("record_id"), arrival=self.next_arrival(),
                            captured_at=captured_at, warc_offset=warc.get("offset"), source=source,
                            also_in=self.also_in(url, source, captured_at))]
