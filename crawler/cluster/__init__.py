"""Several workers, one crawl: the same spider on scrapy-redis, on with ``-s CLUSTER_REDIS_URL=redis://host:port/db``.

scrapy-redis provides the shared request queue (a Redis sorted set, so priorities hold) and the shared request
fingerprints. What a news crawl needs beyond that is here, one Scrapy component per module, each kept small:

- the topic's state (fetched URLs and outcomes, feed validators, archived payload digests, text files claimed per
  canonical URL, MinHash signatures, the file-number counter via ``INCR``, site memory) lives in Redis instead of
  ``state.sqlite`` (``crawler.store.redis.RedisStore``), so workers never fetch an article twice, never write two
  files for one article and never reuse a number.
- ``addon.DistributedAddon``: turns the crawl distributed when ``CLUSTER_REDIS_URL`` holds a Redis URL, by setting the
  scheduler, the dupefilter and the components below; does nothing otherwise.
- ``scheduler.TopicScheduler``: scrapy-redis's scheduler with keys named after the topic, one sorted set of
  requests per outlet, and *leases*: a request taken from the queue is moved atomically (one Lua script) into the
  worker's lease hash, and leaves it only once its response has been handled and its item written or dropped
  (``leases.LeaseSpiderMiddleware``). A worker that dies (its heartbeat key expires) leaves its leases behind; the
  others put them back in the queue. Nothing taken is lost. The same script only takes a request of an outlet
  whose *slot* is free and takes the slot with it: the per-outlet delay holds for the whole cluster (the slot is
  held through the download, then cools down for ``DOWNLOAD_DELAY``), and a worker never waits on an outlet
  another worker holds while other outlets have work due; when none is due, the engine is woken when the first
  may be.
- ``registry.WorkerRegistry`` (extension): the heartbeat, taking back dead workers' leases, keeping an idle worker
  open while others still work (they may find more; it looks again every second), a fresh fingerprint set for a
  new crawl, and a clean stop with one clear error when Redis goes away (the queue stays in Redis; the next start
  resumes it).
- ``politeness.ClusterPolitenessMiddleware``: gives an outlet's slot back when its request is refused before the
  download (the request guard, robots.txt), which no signal reports. A slot is a lock with a lifetime, renewed
  while its download lasts, so a dead worker can never block an outlet.
- ``robots.ClusterRobotsMiddleware``: each host's robots.txt requested once for the cluster (the first worker to
  read it leaves what it parsed in Redis; the others obey that), instead of once per worker.
- ``scripts``: the Lua scripts that make those moves atomic, and what the components share (worker id, timings).
- ``background``: how these components talk to Redis without ever blocking the reactor: on the worker's asyncio
  client (``crawler.store.redisclient.connect_async``), in submission order where order matters (a retry's copy
  queued before its old lease ends, a slot handed over before the next look at the queue). The topic store keeps
  redis-py's blocking client: the pipelines and the frontier ask it synchronously.

Every key is ``presswarc:<topic>:...``: ``requests`` (the outlets that have queued requests), ``requests:<outlet>``
(an outlet's queue), ``queued`` (their count), ``fingerprints``, ``leases:<worker>``, ``worker:<worker>``
(heartbeat), ``slot:<outlet>``, ``robots`` (host -> the robots.txt read), ``opening`` (the lock a starting worker
takes), and the state's.

Everything else (WARC files per worker, named with host and pid; manifest lines appended with one ``O_APPEND``
write each; ``scrapy reindex`` over all files) works unchanged on a shared ``ARCHIVE_DIR``.
"""
