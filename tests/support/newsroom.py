"""A multi-outlet news site that behaves like real ones: validators and 304s, sitemap indexes with ``lastmod``.

Each outlet serves robots.txt (with its ``Sitemap:`` line), a home page linking a few articles, an RSS feed, and a
sitemap index listing monthly sitemaps by ``lastmod``. With ``validators`` every feed and sitemap sends an
``ETag`` and a ``Last-Modified`` and answers a conditional request with 304, as publishing systems and CDNs do;
without, it never does. Articles are spread over the months, so a monthly sitemap lists those in the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed, section_page, sitemap_index, urlset

BODY = ["Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
        "He spoke at a regional conference in Tashkent attended by the Afghan president, Ashraf Ghani."]
OFF_TOPIC = ["The city council approved a new budget for road repairs on Tuesday evening.",
             "Local schools will reopen after the summer holidays with new timetables."]
LAST_MODIFIED = "Wed, 21 Jul 2021 08:00:00 GMT"


@dataclass
class Newsroom:
    """What a built site holds: the topic file, the outlets, and which articles a crawl must archive."""

    topic_file: Path
    outlets: list[str]
    expected: list[str] = field(default_factory=list)  # on-topic articles inside the window
    outside: list[str] = field(default_factory=list)  # articles dated outside the window
    articles: list[str] = field(default_factory=list)  # every article URL
    sitemaps: list[str] = field(default_factory=list)  # the monthly child sitemaps


def _reply(body: str, tag: str | None, content_type: str) -> Reply:
    headers = [("Content-Type", content_type)]
    if tag:
        headers += [("ETag", f'"{tag}"'), ("Last-Modified", LAST_MODIFIED)]
    return Reply(body=body, headers=headers)


def build_newsroom(site: SiteServer, directory: Path, *, outlets: int = 5, per_month: int = 3,
                   validators: bool = True, article_delay: float = 0.0, name: str = "newsroom") -> Newsroom:
    """Route a site of ``outlets`` outlets into ``site``; write its topic file into ``directory``."""
    hosts = [f"http://www.outlet{n}.test" for n in range(outlets)]
    room = Newsroom(directory / "topic.toml", hosts)
    lines = [f'name = "{name}"', "query = 'Lavrov'", "since = 2021-07-10", "until = 2021-07-20"]
    for number, outlet in enumerate(hosts):
        lines += ["[[outlet]]", f'name = "Outlet {number}"', f'url = "{outlet}/"']
        months = {"2021-06": "2021-06-15", "2021-07": "2021-07-16", "2021-08": "2021-08-05"}
        children = []
        feed_items = []
        for month, day in months.items():
            urls = [f"{outlet}/{month.replace('-', '/')}/story-{number}-{n}" for n in range(per_month)]
            for n, url in enumerate(urls):
                on_topic = n != per_month - 1  # the last story of each month is about something else
                words = [f"Story {number}-{month}-{n} has words of its own ({url})."] + (BODY if on_topic else OFF_TOPIC)
                html = article_page(f"{'Lavrov' if on_topic else 'Council'} story {number} {month} {n}", words,
                                    published=day)
                site.route(url, Reply(body=html, delay=article_delay))
                room.articles.append(url)
                if month == "2021-07":
                    if on_topic:
                        room.expected.append(url)
                else:
                    room.outside.append(url)
                feed_items.append({"url": url, "title": f"Story {n}", "published": day})
            child = f"{outlet}/sitemaps/{month}.xml"
            site.route(child, _reply(urlset([(u, day) for u in urls]), f"{number}-{month}" if validators else None,
                                     "application/xml"))
            children.append((child, f"{day}T12:00:00+00:00"))
            room.sitemaps.append(child)
        site.route(f"{outlet}/robots.txt", robots_txt(sitemaps=[f"{outlet}/sitemap-index.xml"]))
        site.route(f"{outlet}/sitemap-index.xml", _reply(sitemap_index(children), f"index-{number}" if validators
                                                         else None, "application/xml"))
        site.route(f"{outlet}/feed.xml", _reply(rss_feed(f"Outlet {number}", feed_items[-per_month:]),
                                                f"feed-{number}" if validators else None, "application/rss+xml"))
        site.route(f"{outlet}/", section_page(f"Outlet {number}", []).replace(
            "</head>", f'<link rel="alternate" type="application/rss+xml" href="{outlet}/feed.xml"></head>'))
    room.topic_file.write_text("\n".join(lines) + "\n")
    return room
