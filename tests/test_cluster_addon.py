"""The switch to a distributed crawl names its components by dotted path: a path that no longer loads would only
show when a worker starts, so each one is loaded here. A local crawl must get none of them."""

from __future__ import annotations

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

from crawler import state
from crawler.cluster.addon import DistributedAddon
from crawler.cluster.leases import LeaseSpiderMiddleware
from crawler.cluster.politeness import ClusterPolitenessMiddleware
from crawler.cluster.registry import WorkerRegistry
from crawler.cluster.scheduler import TopicScheduler

URL = "redis://127.0.0.1:1/0"  # never connected to: the addon only writes settings


def project_settings(**values) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.update(values, priority="cmdline")
    return settings


@pytest.fixture
def distributed_settings():
    settings = project_settings(CLUSTER_REDIS_URL=URL, DOWNLOAD_DELAY=1.5)
    try:
        DistributedAddon().update_settings(settings)
        yield settings
    finally:
        state.share_state_in(None)  # process-wide: later tests crawl locally


def test_the_project_enables_the_addon():
    addons = project_settings().getdict("ADDONS")
    assert [load_object(path) for path in addons if path.endswith("DistributedAddon")] == [DistributedAddon]


def test_every_path_the_addon_sets_loads(distributed_settings):
    settings = distributed_settings
    assert load_object(settings["SCHEDULER"]) is TopicScheduler
    loaded = {load_object(path): order for name in ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS")
              for path, order in settings.getdict(name).items()}
    assert loaded[ClusterPolitenessMiddleware] == 105
    assert loaded[LeaseSpiderMiddleware] == 950
    assert loaded[WorkerRegistry] == 10
    load_object(settings["SCHEDULER_QUEUE_CLASS"])
    load_object(settings["DUPEFILTER_CLASS"])


def test_the_outlet_delay_becomes_the_clusters(distributed_settings):
    assert distributed_settings.getfloat("CLUSTER_OUTLET_DELAY") == 1.5
    assert distributed_settings.getfloat("DOWNLOAD_DELAY") == 0
    assert state._SHARED_URL == URL


def test_a_local_crawl_stays_local():
    settings = project_settings(DOWNLOAD_DELAY=1.5)
    before = settings.copy_to_dict()
    DistributedAddon().update_settings(settings)
    assert settings.copy_to_dict() == before
    assert state._SHARED_URL is None
    crawler = get_crawler(settings_dict={"CLUSTER_REDIS_URL": None, "CLUSTER_OUTLET_DELAY": 1.0})
    for component in (LeaseSpiderMiddleware, WorkerRegistry, ClusterPolitenessMiddleware):
        with pytest.raises(NotConfigured):
            component.from_crawler(crawler)
