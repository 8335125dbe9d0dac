"""``scrapy check-topic FILE``: validate a topic file and show what a crawl of it would do, without crawling."""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from urllib.parse import urljoin

from scrapy.exceptions import UsageError

from crawler.commands.base import ProjectCommand
from crawler.discovery.feeds import autodiscover_feeds
from crawler.discovery.robots import sitemaps_from_robots
from crawler.topic import TopicError, load_topic
from crawler.urls.hosts import in_scope


NONE_REACHABLE = 3  # as ``scrapy crawl`` when nothing could be fetched


class Command(ProjectCommand):
    """Catches a broken topic file before a scheduled crawl does, with one readable line instead of a traceback."""

    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "FILE"

    def short_desc(self) -> str:
        return "Validate a topic file and summarize it (query terms, window, outlets, hosts) without crawling"

    def long_desc(self) -> str:
        return ("Loads FILE as the coverage spider would (a relative path missing from the current directory is "
                "looked up under TOPIC_FILES_DIR), checks every key, URL, date and the query, and prints a summary. "
                "An invalid file prints one line naming the file, the key and what was expected, and exits "
                "with status 2. The topic file format is described in docs/topic-file.md.")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--online", action="store_true",
                            help="also read each outlet's robots.txt and home page and list the sitemaps and feeds "
                                 "a crawl would start from; names the outlets that do not answer, and exits 3 when none does")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give one topic file")
        topics_dir = self.settings.get("TOPIC_FILES_DIR") if self.settings is not None else None
        try:
            topic = load_topic(args[0], topics_dir=topics_dir)
        except TopicError as error:
            print(f"error: {error}", file=sys.stderr)
            self.exitcode = 2
            return
        print(topic.describe())
        if getattr(opts, "online", False) and topic.archives_only:
            print("\n--online: archives_only is set, so the outlets are not contacted")
        elif getattr(opts, "online", False):
            print()
            unreachable = []
            for outlet in topic.outlets:
                print(f"{outlet.name}:")
                lines, reachable = discover_online(outlet, self.settings.get("USER_AGENT"))
                for line in lines:
                    print(f"  {line}")
                if not reachable:
                    unreachable.append(outlet.name)
            if unreachable:
                print(f"{len(unreachable)} of {len(topic.outlets)} outlet(s) unreachable: {', '.join(unreachable)}",
                      file=sys.stderr)
            if len(unreachable) == len(topic.outlets):
                print("error: no outlet is reachable (network down, or the topic's URLs are wrong); exit status 3",
                      file=sys.stderr)
                self.exitcode = NONE_REACHABLE


def _fetch(url: str, user_agent: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    with urllib.request.urlopen(request, timeout=15) as response:  # honours http_proxy like Scrapy does
        return response.read(5_000_000)


def discover_online(outlet, user_agent: str) -> tuple[list[str], bool]:
    """What the start of a crawl would find for one outlet (sitemaps from robots.txt, feeds from the home page),
    and whether the outlet answered at all: an HTTP error status is an answer, a refused connection, an unknown
    host or a timeout is not."""
    lines = []
    answered = False
    robots_url = urljoin(outlet.url, "/robots.txt")
    try:
        sitemaps = outlet.sitemaps or tuple(sitemaps_from_robots(_fetch(robots_url, user_agent), robots_url))
        answered = True
        lines += [f"sitemap   {url}" for url in sitemaps] or ["sitemap   (none)"]
    except urllib.error.HTTPError as exc:
        answered = True
        lines.append(f"robots.txt unreadable: {exc}")
    except (OSError, ValueError) as exc:
        lines.append(f"robots.txt unreadable: {_reason(exc)}")
    try:
        feeds = outlet.feeds or tuple(u for u in autodiscover_feeds(_fetch(outlet.url, user_agent), outlet.url)
                                      if in_scope(u, outlet.hosts))
        answered = True
        lines += [f"feed      {url}" for url in feeds] or ["feed      (none)"]
    except urllib.error.HTTPError as exc:
        answered = True
        lines.append(f"home page unreadable: {exc}")
    except (OSError, ValueError) as exc:
        lines.append(f"home page unreadable: {_reason(exc)}")
    if not answered:
        lines.append("unreachable: neither robots.txt nor the home page answered")
    return lines, answered


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)  # urllib's URLError wraps the socket error
    return str(reason if reason is not None else exc)
