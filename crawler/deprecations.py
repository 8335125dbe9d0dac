"""Renamed settings: each old name keeps working for one release, with one warning line naming its new name.

presswarc's own settings carry their component's prefix (``GUARD_``, ``BACKOFF_``, ``MINRATE_``, ...), out of
Scrapy's own namespaces (``ROBOTSTXT_``, ``RETRY_``, ``DOWNLOAD_``), where a later Scrapy release could give one of
our names a meaning of its own. ``RENAMED`` is the only table of old names; ``rename_settings`` applies it:

- an old name set (``-s OLD=value``, a project's settings module, a spider's ``custom_settings``) moves to its new
  name, at the old one's priority, and is removed;
- both set (the new one at a priority above the project's, or to a value other than ``crawler/settings.py``'s
  default): the new one wins, and the old one is removed all the same.

It runs where settings are read: in every crawl through ``RenamedSettingsAddon`` (first in ``ADDONS``), and in
every presswarc command through ``crawler.commands.base.ProjectCommand``.
"""

from __future__ import annotations

import logging

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

import crawler.settings as defaults

logger = logging.getLogger(__name__)

# old name -> new name. Drop the table's entries one release after they were added.
RENAMED: dict[str, str] = {
    "ALLOW_PRIVATE_HOSTS": "GUARD_ALLOW_PRIVATE_HOSTS",
    "ROBOTSTXT_MAX_SIZE": "ROBOTS_MAX_SIZE",
    "ROBOTSTXT_MAX_RULES": "ROBOTS_MAX_RULES",
    "ROBOTSTXT_MAX_REDIRECTS": "ROBOTS_MAX_REDIRECTS",
    "RETRY_BACKOFF_BASE": "BACKOFF_BASE",
    "RETRY_BACKOFF_MAX": "BACKOFF_MAX",
    "RETRY_TIMEOUT_TIMES": "BACKOFF_TIMEOUT_RETRIES",
    "DOWNLOAD_MIN_RATE": "MINRATE_BYTES_PER_SEC",
    "DOWNLOAD_MIN_RATE_GRACE": "MINRATE_GRACE",
    "TRUNCATE_OVERSIZE": "OVERSIZE_TRUNCATE",
    "STATS_FILE": "STATSFILE_PATH",
    "GC_THRESHOLD": "GCTUNING_THRESHOLD",
    "SECTION_MAX_PAGES": "DISCOVERY_MAX_LISTING_PAGES",
    "SITE_MEMORY_MIN_ARTICLES": "EXTRACT_SITE_MEMORY_MIN_ARTICLES",
    "NEAR_DUPLICATE_THRESHOLD": "DEDUP_NEAR_THRESHOLD",
    "NEAR_DUPLICATE_NUM_PERM": "DEDUP_NEAR_NUM_PERM",
    "NEAR_DUPLICATE_SHINGLE": "DEDUP_NEAR_SHINGLE",
    "REFRESH_AFTER_DAYS": "SETTLED_REFRESH_AFTER_DAYS",
    "ERROR_RETRY_RUNS": "SETTLED_ERROR_RETRY_RUNS",
    "TOPICS_DIR": "TOPIC_FILES_DIR",
    "DISTRIBUTED": "CLUSTER_REDIS_URL",
    "DISTRIBUTED_OUTLET_DELAY": "CLUSTER_OUTLET_DELAY",
    "DISTRIBUTED_REDIS_RETRY_SECONDS": "CLUSTER_REDIS_RETRY_SECONDS",
}
# Warnings of the renames done on a crawler process's settings, before its logging is set up: each crawler logs
# them once its own settings are complete (RenamedSettingsAddon.update_settings), so they reach the crawl's log.
PENDING = "_RENAMED_SETTINGS_WARNINGS"
_UNSET = object()


def _explicitly_set(settings: BaseSettings, name: str) -> bool:
    """Whether ``name`` holds more than crawler/settings.py's default (a project module restating the default at
    the same priority counts as not set: nothing tells the two apart, and the old name's value is then wanted)."""
    priority = settings.getpriority(name)
    if priority is None:
        return False
    return priority > SETTINGS_PRIORITIES["project"] or settings[name] != getattr(defaults, name, _UNSET)


def rename_settings(settings: BaseSettings) -> list[str]:
    """Move every old name set in ``settings`` to its new name (the new one wins when both are set); returns one
    warning line per old name found."""
    lines = []
    for old, new in RENAMED.items():
        old_priority = settings.getpriority(old)
        if old_priority is None or old_priority <= SETTINGS_PRIORITIES["default"]:
            continue  # unset, or a default of Scrapy's should a later release define the old name itself
        if _explicitly_set(settings, new):
            lines.append(f"settings {old} and {new} are both set: {new} wins ({old} is its deprecated name; "
                         f"remove it)")
        else:
            settings.set(new, settings[old], priority=max(old_priority, settings.getpriority(new) or 0))
            lines.append(f"setting {old} is deprecated and will be removed in the next release: use {new}")
        del settings[old]
    return lines


class RenamedSettingsAddon:
    """Applies ``RENAMED`` to a crawl's settings: to the crawler process's (command line, project module) before
    any crawler exists, so every component, the spider's ``from_crawler`` included, reads the new names; then to
    each crawler's own (a spider's ``custom_settings``), where the warnings are logged."""

    @classmethod
    def update_pre_crawler_settings(cls, settings: BaseSettings) -> None:
        lines = rename_settings(settings)
        if lines:
            settings.set(PENDING, [*(settings.get(PENDING) or []), *lines], priority="addon")

    def update_settings(self, settings: BaseSettings) -> None:
        lines = [*(settings.get(PENDING) or []), *rename_settings(settings)]
        if PENDING in settings:
            del settings[PENDING]
        for line in lines:
            logger.warning(line)
