"""The replay's add-on: with REPLAY_FROM set, http(s) downloads go to the replay handler and the settings that
only matter to live servers (request-shaping middlewares, politeness delays) are switched off.
"""

from __future__ import annotations

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from crawler.compat import use_bundled_public_suffix_list


class ReplayAddon:
    """Switches http/https downloads to :class:`ReplayDownloadHandler` when REPLAY_FROM is set."""

    @classmethod
    def update_pre_crawler_settings(cls, settings: BaseSettings) -> None:
        """A replay judges cookie domains with the bundled public suffix list, so it never downloads one; a live
        crawl is left as Scrapy makes it."""
        if settings.get("REPLAY_FROM"):
            use_bundled_public_suffix_list()

    def update_settings(self, settings: BaseSettings) -> None:
        if not settings.get("REPLAY_FROM"):
            return
        handler = "crawler.archive.replay.handler.ReplayDownloadHandler"
        settings.set("DOWNLOAD_HANDLERS", {"http": handler, "https": handler, "ftp": None, "s3": None},
                     priority="addon")
        # Middlewares that only shape the request sent to a server (default headers, credentials, proxy,
        # timeout): a replay sends none, and matches records by method and URL alone. (The Referer middleware
        # stays: the redirect middlewares warn on every run without it.)
        from scrapy.downloadermiddlewares.defaultheaders import DefaultHeadersMiddleware
        from scrapy.downloadermiddlewares.downloadtimeout import DownloadTimeoutMiddleware
        from scrapy.downloadermiddlewares.httpauth import HttpAuthMiddleware
        from scrapy.downloadermiddlewares.httpproxy import HttpProxyMiddleware

        for middleware in (DefaultHeadersMiddleware, DownloadTimeoutMiddleware, HttpAuthMiddleware,
                           HttpProxyMiddleware):
            settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", middleware, None)
        # A replay is as fast as the disk: politeness delays protect live servers only.
        # The capture-order pipeline (pipelines/order.py) holds a replay's articles until nothing else can arrive;
        # Scrapy counts each held article's response against the scraper's 5 MB slot and stops downloading past
        # it, so a replay of more than 5 MB of articles would wait for ever. The held articles keep no HTML.
        for name, value in (("SCRAPER_SLOT_MAX_ACTIVE_SIZE", 1 << 50), ("DOWNLOAD_DELAY", 0),
                            ("AUTOTHROTTLE_ENABLED", False),
                            ("CONCURRENT_REQUESTS_PER_DOMAIN", 64), ("CONCURRENT_REQUESTS", 64),
                            ("BACKOFF_BASE", 0)):
            if (settings.getpriority(name) or 0) <= SETTINGS_PRIORITIES["project"]:
                settings.set(name, value, priority="spider")
