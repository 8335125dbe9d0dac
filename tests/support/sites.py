"""A real HTTP server on 127.0.0.1 for live-crawl tests, and builders for the pages news sites serve.

``SiteServer`` answers both as an origin (``http://127.0.0.1:<port>/...``) and as a forward HTTP proxy (absolute
request URIs), so a test can give outlets realistic host names (``http://www.alpha.test/``) by pointing the
crawl's ``http_proxy`` at it. Every request is logged, so tests assert on what was and was not fetched.
"""

from __future__ import annotations

import gzip as gzip_module
import socket
import zlib
import struct
import threading
import sys
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, unquote_plus, urlsplit

import brotli

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

Header = tuple[str, str]


@dataclass
class Reply:
    """One canned answer. ``gzip`` compresses the body on the wire; ``chunked`` sends it in chunks.

    ``encoding`` applies content-codings in the order listed (``"gzip"``, ``"deflate"``, ``"br"``, ``"zstd"``,
    ``"gzip, br"``, ``"gzip, gzip"``) and sends that ``Content-Encoding``; ``cut`` then keeps only
    ``encoded[:cut]`` (a negative value drops bytes from the end), sent with a matching Content-Length and a
    clean end: a server that sends a compressed stream cut short.

    When ``headers`` carry an ``ETag`` or ``Last-Modified`` the server honours conditional requests with 304.
    """

    body: str | bytes = b""
    status: int = 200
    headers: list[Header] = field(default_factory=list)
    delay: float = 0.0
    gzip: bool = False
    chunked: bool = False
    reset_after: int | None = None  # send this many body bytes, then reset the connection
    reset_delay: float = 0.0  # seconds between those bytes and the reset (a reset discards what is unread)
    trickle: float = 0.0  # seconds between body bytes (a slow-loris server)
    raw_body: bool = False  # send the body as given even when gzip is set (a wrong Content-Encoding)
    encoding: str | None = None  # content-codings applied in this order, sent as Content-Encoding
    cut: int | None = None  # send only encoded[:cut]

    def encoded(self) -> bytes:
        """The body as sent: ``encoding`` applied in order, then ``cut``."""
        body = self.payload()
        for coding in (self.encoding or "").split(","):
            body = ENCODERS[coding.strip()](body) if coding.strip() else body
        return body[:self.cut] if self.cut is not None else body

    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class LoggedRequest:
    """A request as the server received it."""

    method: str
    host: str
    path: str  # path and query
    headers: dict[str, str]
    time: float

    @property
    def url(self) -> str:
        return f"http://{self.host}{self.path}"


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data)


def _gzip(data: bytes) -> bytes:
    return gzip_module.compress(data, mtime=0)  # the same bytes every time: tests compare what was archived


ENCODERS = {"gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate,
            "br": brotli.compress, "zstd": zstd.compress}
# Content-codings Scrapy's decompression undoes, alone and stacked (applied in the order listed).
CODINGS = ["gzip", "deflate", "br", "zstd", "gzip, br", "gzip, gzip", "br, zstd", "zstd, deflate"]


def _as_reply(reply: Reply | str | bytes) -> Reply:
    return reply if isinstance(reply, Reply) else Reply(body=reply)


def _url_key(url: str) -> str:
    """Routes match however a client escapes the URL (``%28`` or ``(``, ``%20`` or ``+``)."""
    parts = urlsplit(url)
    path = unquote(parts.path or "/")
    return f"http://{parts.netloc.lower()}{path}" + (f"?{unquote_plus(parts.query)}" if parts.query else "")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._answer(send_body=True)

    def _target(self) -> tuple[str, str]:
        if self.path.startswith(("http://", "https://")):
            parts = urlsplit(self.path)
            return parts.netloc.lower(), (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return (self.headers.get("Host") or self.server.host_port).lower(), self.path

    def _answer(self, send_body: bool) -> None:
        host, path = self._target()
        site: SiteServer = self.server.site
        site._log(LoggedRequest(self.command, host, path, {k: v for k, v in self.headers.items()}, time.time()))
        reply = site._next_reply(f"http://{host}{path}")
        if reply.delay:
            time.sleep(reply.delay)
        self._send(reply, send_body)

    def _not_modified(self, reply: Reply) -> bool:
        names = {name.lower(): value for name, value in reply.headers}
        etag, modified = names.get("etag"), names.get("last-modified")
        if etag and self.headers.get("If-None-Match") == etag:
            return True
        return bool(modified and self.headers.get("If-Modified-Since") == modified)

    def _send(self, reply: Reply, send_body: bool) -> None:
        status = 304 if reply.status == 200 and self._not_modified(reply) else reply.status
        body = b"" if status == 304 else reply.payload()
        if reply.gzip and body and not reply.raw_body:
            body = gzip_module.compress(body)
        if reply.encoding and status != 304:
            body = reply.encoded()
        elif reply.cut is not None:
            body = body[:reply.cut]
        self.send_response(status)
        names = {name.lower() for name, _ in reply.headers}
        for name, value in reply.headers:
            self.send_header(name, value)
        if "content-type" not in names and status != 304:
            self.send_header("Content-Type", "text/html; charset=utf-8")
        if reply.gzip and body:
            self.send_header("Content-Encoding", "gzip")
        if reply.encoding and status != 304:
            self.send_header("Content-Encoding", reply.encoding)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not send_body:
            return
        try:
            if reply.reset_after is not None:
                self.wfile.write(body[:reply.reset_after])
                self.wfile.flush()
                time.sleep(reply.reset_delay)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            if reply.trickle:
                for index in range(len(body)):
                    self.wfile.write(body[index:index + 1])
                    self.wfile.flush()
                    time.sleep(reply.trickle)
                return
            if reply.chunked:
                for start in range(0, len(body), 1000):
                    piece = body[start:start + 1000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    site: "SiteServer"
    host_port: str

    def handle_error(self, request, client_address) -> None:
        """A client that went away (a killed crawl, a cancelled download) is not the server's error."""
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class SiteServer:
    """Routes URLs to canned replies; unknown URLs get 404. Use as a context manager."""

    def __init__(self) -> None:
        self._routes: dict[str, list[Reply]] = {}
        self._served: dict[str, int] = {}
        self._log_entries: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.site = self
        self.port = self._server.server_address[1]
        self._server.host_port = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def proxy_url(self) -> str:
        return self.origin

    def __enter__(self) -> "SiteServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, url: str, *replies: Reply | str | bytes) -> None:
        """Serve ``replies`` in order to successive requests of ``url``; the last one repeats."""
        if not replies:
            raise ValueError("route() needs at least one reply")
        with self._lock:
            self._routes[_url_key(url)] = [_as_reply(r) for r in replies]
            self._served[_url_key(url)] = 0

    def redirect(self, url: str, target: str, status: int = 301) -> None:
        self.route(url, Reply(body=b"", status=status, headers=[("Location", target)]))

    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log_entries)

    def count(self, url: str) -> int:
        key = _url_key(url)
        return sum(1 for entry in self.requests() if _url_key(entry.url) == key)

    def _log(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log_entries.append(entry)

    def _next_reply(self, url: str) -> Reply:
        key = _url_key(url)
        with self._lock:
            replies = self._routes.get(key)
            if not replies:
                return Reply(body="<html><body><h1>Not found</h1></body></html>", status=404)
            served = self._served[key]
            self._served[key] = served + 1
            return replies[min(served, len(replies) - 1)]


# -- builders for what news sites serve ------------------------------------------------------------------

PROMPTS = {
    "donation": (
        '<div class="support-box donation-appeal"><h3>Support independent journalism</h3>'
        "<p>We have a small favor to ask. Independent reporting costs money, and readers like you keep it "
        "free for everyone. Please consider making a contribution today.</p>"
        '<p><a class="button" href="/donate">Contribute today</a></p><p>Remind me later</p></div>'
    ),
    "newsletter": (
        '<aside class="newsletter-signup"><form action="/subscribe"><p>Sign up for our free weekly newsletter '
        'and get the day\'s top stories in your inbox.</p><input type="email" name="email">'
        "<button>Subscribe</button></form></aside>"
    ),
    "paywall": (
        '<div class="paywall"><p>You have read all of your free articles this month.</p>'
        "<p>Already a subscriber? Log in to continue reading.</p></div>"
    ),
}


def article_page(title: str, paragraphs: list[str], *, published: str | None = None, author: str | None = None,
                 site_name: str = "Outlet", canonical: str | None = None, prompt: str | None = None,
                 lang: str = "en", related: list[tuple[str, str]] | None = None, read_more: str | None = None,
                 paywalled: bool = False) -> str:
    """An article page with the chrome real news sites have: navigation, metadata, related links, footer.

    ``prompt`` places a donation/newsletter/paywall box in the middle of the article body; ``read_more`` an
    inline "Read more:" link paragraph; ``paywalled`` marks the page as a teaser (JSON-LD and a paywall box).
    """
    head = [f"<title>{escape(title)} - {escape(site_name)}</title>",
            f'<meta property="og:title" content="{escape(title)}">',
            f'<meta property="og:site_name" content="{escape(site_name)}">']
    if published:
        head.append(f'<meta property="article:published_time" content="{published}T09:30:00+00:00">')
    if author:
        head.append(f'<meta name="author" content="{escape(author)}">')
    if canonical:
        head.append(f'<link rel="canonical" href="{escape(canonical)}">')
        head.append(f'<meta property="og:url" content="{escape(canonical)}">')
    if paywalled:
        head.append('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
                    f'"headline": "{escape(title)}", "isAccessibleForFree": false}}</script>')
    body = [f"<p>{escape(p)}</p>" for p in paragraphs]
    middle = max(1, len(body) // 2)
    if read_more:
        body.insert(middle, f'<p>Read more: <a href="/related">{escape(read_more)}</a></p>')
    if prompt:
        body.insert(middle, PROMPTS[prompt])
    if paywalled:
        body.append(PROMPTS["paywall"])
    links = "".join(f'<li><a href="{escape(u)}">{escape(t)}</a></li>' for u, t in (related or []))
    byline = f'<p class="byline">By {escape(author)}</p>' if author else ""
    dateline = f'<time datetime="{published}">{published}</time>' if published else ""
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">{''.join(head)}</head>
<body>
<header class="site-header"><a href="/">{escape(site_name)}</a>
<nav><ul><li><a href="/news/">News</a></li><li><a href="/world/">World</a></li>
<li><a href="/opinion/">Opinion</a></li><li><a href="/about/">About us</a></li></ul></nav></header>
<main>
<article>
<h1>{escape(title)}</h1>
{byline}{dateline}
<div class="article-body">
{''.join(body)}
</div>
</article>
<aside class="related"><h2>Related articles</h2><ul>{links}</ul></aside>
</main>
<footer><p>&copy; 2021 {escape(site_name)}. All rights reserved.</p>
<p><a href="/privacy">Privacy policy</a> | <a href="/contact">Contact</a></p></footer>
</body></html>
"""


def section_page(title: str, links: list[tuple[str, str]], next_url: str | None = None) -> str:
    """A listing page: headlines linking to articles, optionally a rel=next link to its next page."""
    items = "".join(f'<li><h3><a href="{escape(u)}">{escape(t)}</a></h3></li>' for u, t in links)
    pager = f'<a rel="next" class="next" href="{escape(next_url)}">Next page</a>' if next_url else ""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head><body>"
            f"<h1>{escape(title)}</h1><ul class='headlines'>{items}</ul><nav class='pager'>{pager}</nav>"
            "</body></html>")


def robots_txt(disallow: list[str] | tuple[str, ...] = (), sitemaps: list[str] | tuple[str, ...] = (),
               crawl_delay: float | None = None) -> str:
    lines = ["User-agent: *"] + [f"Disallow: {path}" for path in disallow]
    if not disallow:
        lines.append("Allow: /")
    if crawl_delay is not None:
        lines.append(f"Crawl-delay: {crawl_delay}")
    lines += [f"Sitemap: {url}" for url in sitemaps]
    return "\n".join(lines) + "\n"


def _rfc822(day: str) -> str:
    return formatdate(time.mktime(time.strptime(day + " 12:00", "%Y-%m-%d %H:%M")), usegmt=True)


def rss_feed(title: str, items: list[dict]) -> str:
    """RSS 2.0 with items of ``url``, ``title``, optional ``summary`` and ``published`` (YYYY-MM-DD)."""
    entries = []
    for item in items:
        parts = [f"<title>{escape(item['title'])}</title>", f"<link>{escape(item['url'])}</link>",
                 f"<guid>{escape(item['url'])}</guid>"]
        if item.get("summary"):
            parts.append(f"<description>{escape(item['summary'])}</description>")
        if item.get("published"):
            parts.append(f"<pubDate>{_rfc822(item['published'])}</pubDate>")
        entries.append(f"<item>{''.join(parts)}</item>")
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{escape(title)}</title><link>http://example.invalid/</link><description>{escape(title)}"
            f"</description>{''.join(entries)}</channel></rss>")


def atom_feed(title: str, items: list[dict]) -> str:
    """Atom 1.0 with the same item fields as :func:`rss_feed`."""
    entries = []
    for item in items:
        updated = f"{item.get('published', '2021-07-15')}T12:00:00Z"
        entries.append(f"<entry><title>{escape(item['title'])}</title><link href=\"{escape(item['url'])}\"/>"
                       f"<id>{escape(item['url'])}</id><updated>{updated}</updated>"
                       f"<summary>{escape(item.get('summary', ''))}</summary></entry>")
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><id>urn:feed</id><updated>2021-07-20T00:00:00Z</updated>"
            f"{''.join(entries)}</feed>")


def sitemap_index(sitemaps: list[tuple[str, str | None]]) -> str:
    entries = "".join(f"<sitemap><loc>{escape(loc)}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "")
                      + "</sitemap>" for loc, lastmod in sitemaps)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>')


def urlset(urls: list[tuple[str, str | None]]) -> str:
    entries = "".join(f"<url><loc>{escape(loc)}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "")
                      + "</url>" for loc, lastmod in urls)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>')


def news_sitemap(articles: list[dict], publication: str = "Outlet", language: str = "en") -> str:
    """A Google News sitemap with ``url``, ``title`` and ``published`` (YYYY-MM-DD) per article."""
    entries = "".join(
        f"<url><loc>{escape(a['url'])}</loc><news:news><news:publication><news:name>{escape(publication)}"
        f"</news:name><news:language>{language}</news:language></news:publication>"
        f"<news:publication_date>{a['published']}T10:00:00+00:00</news:publication_date>"
        f"<news:title>{escape(a['title'])}</news:title></news:news></url>"
        for a in articles)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{entries}</urlset>')
