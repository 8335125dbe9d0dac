"""The switch: ``CLUSTER_REDIS_URL`` set to a Redis URL puts the cluster's scheduler, dupefilter and components in
place (crawler.cluster has the whole picture); unset, the crawl stays local and nothing here runs."""

from __future__ import annotations

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from crawler.state import share_state_in


class DistributedAddon:
    """Turns the crawl distributed when ``CLUSTER_REDIS_URL`` holds a Redis URL; does nothing otherwise."""

    def update_settings(self, settings: BaseSettings) -> None:
        url = settings.get("CLUSTER_REDIS_URL")
        if not url:
            return
        settings.set("REDIS_URL", url, priority="addon")
        settings.set("SCHEDULER", "crawler.cluster.scheduler.TopicScheduler", priority="addon")
        settings.set("SCHEDULER_PERSIST", True, priority="addon")  # the queue outlives any one worker
        settings.set("SCHEDULER_QUEUE_CLASS", "scrapy_redis.queue.PriorityQueue", priority="addon")
        settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", priority="addon")
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES",
                                                "crawler.cluster.politeness.ClusterPolitenessMiddleware", 105)
        # One robots.txt request per host for the cluster, not one per worker.
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES",
                                                "crawler.middlewares.robots.OutletRobotsMiddleware", None)
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES",
                                                "crawler.cluster.robots.ClusterRobotsMiddleware", 100)
        settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES",
                                                "crawler.cluster.leases.LeaseSpiderMiddleware", 950)
        settings.set_in_component_priority_dict("EXTENSIONS", "crawler.cluster.registry.WorkerRegistry", 10)
        # The per-outlet delay becomes the cluster's: a worker's own download slots must not add theirs (a
        # request would leave later than its turn, closer to the next worker's request to the same outlet).
        settings.set("CLUSTER_OUTLET_DELAY", settings.getfloat("DOWNLOAD_DELAY"), priority="addon")
        settings.set("DOWNLOAD_DELAY", 0, priority=SETTINGS_PRIORITIES["cmdline"] + 1)
        share_state_in(url)
