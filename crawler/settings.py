"""Every presswarc default in one place, grouped per component.

Each value can be overridden on the command line (``-s NAME=value``), in a scrapyd job, or in a project that
imports these settings. The README's settings table mirrors this file. presswarc's own settings carry their
component's prefix, never a Scrapy namespace (``ROBOTSTXT_``, ``RETRY_``, ``DOWNLOAD_``); components read them
without a fallback value, so each default is here and nowhere else. Old names of renamed settings:
crawler/deprecations.py.
"""

from crawler import __version__

BOT_NAME = "presswarc"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# Commands (check-topic, report, wacz, ...) are registered as "scrapy.commands" entry points in pyproject.toml.

# --- Output -------------------------------------------------------------------------------------------------
# One directory per topic: ARCHIVE_DIR/<topic>/{warc/, index.cdxj, text/, manifest.jsonl, state.sqlite}.
ARCHIVE_DIR = "./archive"
# A crawl refuses to start when the topic directory, its warc/ or text/, or a file it writes in place is a symlink
# (a planted link would make it write elsewhere); True writes through them (an archive spread over disks on purpose).
ARCHIVE_ALLOW_SYMLINKS = False
# Where relative topic paths are looked up when they do not exist as given (useful under scrapyd).
TOPIC_FILES_DIR = None

# --- Politeness ---------------------------------------------------------------------------------------------
# A descriptive agent with a contact URL lets site operators reach the person running the crawl: a deployment
# sets its own USER_AGENT, with its own contact URL.
USER_AGENT = f"presswarc/{__version__} (news coverage archiver; +https://example.org/presswarc-contact)"
ROBOTSTXT_OBEY = True
# OutletRobotsMiddleware (crawler/middlewares/robots.py): only the first 500 KiB of a robots.txt is parsed (as Google
# does), and of that only the first 10 000 Allow/Disallow rules: every request is checked against the parsed
# rules, and a huge file costs CPU on each one.
ROBOTS_MAX_SIZE = 500 * 1024
ROBOTS_MAX_RULES = 10_000
# Redirects of a robots.txt are followed on its own host (or www. twin), this many hops at most (RFC 9309: at
# least five); one elsewhere, or one hop more, leaves that host uncrawled for the run.
ROBOTS_MAX_REDIRECTS = 5
# A distributed crawl reads each host's robots.txt once for all its workers (crawler/cluster/robots.py) and keeps
# what it read this long at most (RFC 9309: a cached robots.txt should not be used for more than 24 hours).
ROBOTS_SHARED_SECONDS = 24 * 3600
CONCURRENT_REQUESTS = 16  # outlets are crawled in parallel with each other
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5  # seconds between requests to one outlet
# No random spread around the delay: Scrapy draws a new one each time it looks at a waiting outlet, which makes
# the real gap longer than DOWNLOAD_DELAY on average; a regular gap is as polite and crawls at the bound.
DOWNLOAD_DELAY_JITTER = 0.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
# Items handled in parallel per response. A page yields one article or a handful of requests; Scrapy starts
# this many tasks for every response however few it yields (100 by default: measurable CPU per page).
CONCURRENT_ITEMS = 8
DOWNLOAD_TIMEOUT = 60
# A response whose body arrives slower than this many bytes per second, once MINRATE_GRACE seconds have
# passed since its headers, is given up (and not retried in this run): crawler/extensions/minrate.py. 0: off.
MINRATE_BYTES_PER_SEC = 500
MINRATE_GRACE = 10.0
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024  # a news page larger than 16 MB is not an article
# Cut a response at DOWNLOAD_MAXSIZE and archive it with WARC-Truncated: length (False: Scrapy drops it unseen):
# crawler/extensions/oversize.py.
OVERSIZE_TRUNCATE = True
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# BackoffRetryMiddleware (crawler/middlewares/retry.py), Scrapy's retries (RETRY_TIMES, RETRY_HTTP_CODES) with waits:
# the base of the exponential backoff between retries, in seconds; a Retry-After header wins when present.
BACKOFF_BASE = 1.0
# Also the longest Retry-After waited for: one asking for more (or for more than what is left of a run with a
# CLOSESPIDER_TIMEOUT) ends that outlet's run, its other requests dropped (coverage/<outlet>/retry_after_exceeded).
BACKOFF_MAX = 120.0
# A timed-out request is retried this many times at most (each attempt can cost a whole DOWNLOAD_TIMEOUT).
BACKOFF_TIMEOUT_RETRIES = 1
REDIRECT_MAX_TIMES = 10
# Requests to private/loopback/link-local/reserved addresses are refused unless this is True: literal IP hosts
# and localhost by the request guard (RequestGuardMiddleware), host names by the resolver below on the address
# they resolve to (the proxies named in http_proxy/https_proxy are exempt; behind a proxy the target's name is
# resolved by the proxy).
GUARD_ALLOW_PRIVATE_HOSTS = False
# Scrapy's caching resolver, refusing private answers unless GUARD_ALLOW_PRIVATE_HOSTS: crawler/resolver.py.
TWISTED_DNS_RESOLVER = "crawler.resolver.PublicAddressResolver"
COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False
# Scrapy's HTTP endpoint that runs Python code sent to it (for its MCP server): a scheduled crawl has no use
# for one, and it would start a server in every run. True turns it on.
REMOTE_CONTROL_ENABLED = False
FEED_EXPORT_ENCODING = "utf-8"
# What Scrapy's feed exports (`-O items.jsonl`, `-o items.csv`) write of each kept article: its archive references,
# the extraction result and the relevance verdict; not the raw HTML (bytes, and in the WARC already) nor the
# pipelines' working fields. `presswarc export` writes the documented table of the archive instead.
FEED_EXPORT_FIELDS = ["url", "final_url", "canonical_url", "outlet", "outlet_slug", "via", "status", "fetched_at",
                      "captured_at", "content_type", "warc_file", "warc_record_id", "warc_offset", "file",
                      "text_sha256", "duplicate_of", "similarity", "hint_title", "article", "relevance"]
LOG_LEVEL = "INFO"
LOG_FORMATTER = "crawler.logformatter.ArticleLogFormatter"  # one short line per article, not its whole text

DOWNLOADER_MIDDLEWARES = {
    # Refuses non-HTTP schemes, private hosts, over-long URLs, and any request or redirect hop off the outlet's
    # hosts; first, so no robots.txt is fetched for a host the crawl will not visit.
    "crawler.middlewares.guard.RequestGuardMiddleware": 90,
    # Checks every request against its host's robots.txt, and holds requests until that file is parsed.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.robots.OutletRobotsMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    # Flags compressed bodies cut short (sees the raw body, just before decompression at 590).
    "crawler.middlewares.truncated.TruncatedBodyMiddleware": 595,
    "crawler.middlewares.retry.BackoffRetryMiddleware": 550,
    # Meta-refresh redirects, with a cheap look for the tag before decoding a whole page.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.refresh.QuickMetaRefreshMiddleware": 580,
    # Remembers each redirect hop (before the redirect middleware at 600 follows it): later runs go straight to
    # the target, and a URL that redirected counts as settled.
    "crawler.fetch.redirects.RedirectMemoryMiddleware": 610,
    # Closer to the network than decompression (590) and redirects (600): it sees every hop, raw bytes.
    "crawler.archive.recorder.WarcRecorderMiddleware": 890,
    # A re-checked article that answers 304, 404/410 or sends the reader home ends here (after the recorder and
    # the redirects): not modified, or removed.
    "crawler.fetch.versions.VersionAnswersMiddleware": 60,
}

ADDONS = {
    # Scrapy's listings (enabled components, overridden settings, the final stats) at DEBUG, matplotlib's INFO lines
    # quieted (crawler/quietlog.py); first, before Scrapy lists the add-ons.
    "crawler.quietlog.QuietLogAddon": -2,
    # Old names of renamed settings still work, with a warning (crawler/deprecations.py); first, so every other
    # add-on and component reads the new names.
    "crawler.deprecations.RenamedSettingsAddon": -1,
    # Switches the download handlers to the WARC replay when REPLAY_FROM is set.
    "crawler.archive.replay.ReplayAddon": 0,
    # Switches to scrapy-redis and the shared state when CLUSTER_REDIS_URL is set.
    "crawler.cluster.addon.DistributedAddon": 1,
}

SPIDER_MIDDLEWARES = {
    # The coverage spider budgets pages per outlet, not by link depth; tracking depth costs CPU per request.
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    # Scrapy's 2083-character URL limit drops a request without a word; ours (crawler.urls.MAX_URL_LENGTH, 8192)
    # refuses a longer one with an outcome, and an article at an address between the two is crawled.
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    # Whether an article an earlier run settled needs fetching again (asked by the spider before the frontier).
    "crawler.fetch.settled.SettledMiddleware": 100,
    # Kept articles asked for again on their schedule (VERSIONS_*), added to the start requests.
    "crawler.fetch.versions.VersionChecksMiddleware": 110,
}

ITEM_PIPELINES = {
    "pipelines.extract.ExtractPipeline": 100,
    "pipelines.relevance.RelevancePipeline": 200,
    # Dedup and the text files see articles in capture order, so NNN never depends on worker timing.
    "pipelines.order.CaptureOrderPipeline": 250,
    # A re-checked article: unchanged (dropped) or its next version (written by the text files as .vN.txt).
    "pipelines.versions.VersionsPipeline": 280,
    "pipelines.dedup.DedupPipeline": 300,
    "pipelines.textfiles.TextFilesPipeline": 400,
}

EXTENSIONS = {
    # The crawl's topic, archive paths, lock and store (crawler/run.py), built once and handed to every component.
    "crawler.extensions.topicrun.TopicRunExtension": 0,
    # A progress line (or live table) per outlet while crawling: PROGRESS_INTERVAL.
    "crawler.extensions.progress.Progress": 500,
    # A full disk stops the crawl with one clear error line (not one per failing write).
    "crawler.extensions.diskfull.DiskFullGuard": 60,
    # Fewer garbage-collector passes while crawling: GCTUNING_THRESHOLD.
    "crawler.extensions.gctuning.GcTuning": 50,
    # A response over DOWNLOAD_MAXSIZE is cut there and archived with WARC-Truncated: length: OVERSIZE_TRUNCATE.
    "crawler.extensions.oversize.OversizeTruncation": 100,
    # A response arriving slower than MINRATE_BYTES_PER_SEC is given up after MINRATE_GRACE.
    "crawler.extensions.minrate.MinimumRate": 110,
    # report.json / report.md / report.html in the topic directory when the crawl ends: REPORT_ENABLED.
    "crawler.report.ReportExtension": 800,
    # The final stats as JSON: STATSFILE_PATH.
    "crawler.extensions.statsfile.StatsFile": 900,
    # A few closing lines on stderr (kept, new, per outlet, errors, where the output is): SUMMARY_ENABLED.
    "crawler.extensions.summary.ClosingSummary": 950,
}
# Write the final stats as JSON to this path (off when empty): crawler/extensions/statsfile.py.
STATSFILE_PATH = ""
# Garbage-collector thresholds while crawling (crawler/extensions/gctuning.py); empty keeps Python's defaults.
GCTUNING_THRESHOLD = [10000, 20, 20]

# --- Discovery bounds (crawler/spiders/coverage.py, crawler/discovery/sitemaps.py) ----------------------------
# Listing pages (sections, search results) followed per start page through their "next" links.
DISCOVERY_MAX_LISTING_PAGES = 5
# Sitemap indexes nested deeper than this below a start sitemap are not followed (a chain of indexes is a trap).
DISCOVERY_MAX_DEPTH = 3
# Sitemaps requested per outlet and run, newest first (by lastmod, or the month in the name) when there are more.
DISCOVERY_MAX_SITEMAPS = 100
# URLs read from one sitemap file (the sitemap protocol's own limit); the rest of a larger file is not read.
DISCOVERY_MAX_URLS_PER_SITEMAP = 50000

# --- Web archives as sources (crawler/spiders/archives.py, crawler/discovery/cdx.py) ---------------------------
# Used when a topic names them (archives = ["wayback", "commoncrawl"]); tests point them at loopback servers.
# The Wayback Machine's CDX API (Internet Archive dialect: output=json is one array of arrays).
ARCHIVES_WAYBACK_CDX_URL = "https://web.archive.org/cdx/search/cdx"
# A prefix ending in "/" to which "<timestamp>id_/<url>" is appended: the raw capture, without replay rewriting.
ARCHIVES_WAYBACK_REPLAY_URL = "https://web.archive.org/web/"
# Common Crawl's collinfo.json: each collection's CDX API ("cdx-api") and crawl period ("from", "to").
ARCHIVES_COMMONCRAWL_INDEX_URL = "https://index.commoncrawl.org/collinfo.json"
# The data host: a record is read with a Range request for "<base>/<filename>".
ARCHIVES_COMMONCRAWL_DATA_URL = "https://data.commoncrawl.org/"
# Seconds between two requests to one archive (one at a time each): they are shared public services.
ARCHIVES_DELAY = 1.0
# Captures fetched per outlet and archive in one run (query hints and capture order decide which).
ARCHIVES_MAX_CAPTURES_PER_OUTLET = 200
# Days after "until" in which captures are still looked for: a story is often first captured weeks after it ran
# (Common Crawl crawls monthly, with gaps); the page's own publication date still decides the window.
ARCHIVES_AFTER_DAYS = 42

# --- WARC recorder (crawler/archive/recorder.py, writer.py) ---------------------------------------------------
# None means: on for live crawls, off when replaying (the source already is an archive).
WARC_ENABLED = None
WARC_PREFIX = "presswarc"
WARC_MAX_SIZE = 1_000_000_000  # bytes; a file is closed and a new one begun past this size
WARC_OPERATOR = ""  # who runs the crawl (name, email), written into each warcinfo record
# Identical payloads of one URL are stored once; later copies become revisit records.
WARC_DEDUP = True
# index.cdxj is brought up to date with the files of the run when the spider closes (`scrapy reindex` rebuilds it).
WARC_INDEX = True

# --- Offline replay (crawler/archive/replay/) -----------------------------------------------------------------
# A WARC file or a directory of them: every request is answered from it, the network is never used.
REPLAY_FROM = None
# Records whose digest does not match their content are refused (logged as errors) rather than served.
REPLAY_VERIFY_DIGESTS = True
# Locate records through the archive's index.cdxj when it covers a file (no scan of that file at start).
REPLAY_USE_INDEX = True
# After unreadable bytes in a WARC file, the next record is looked for this far (bytes) before the rest of the
# file is given up: a record of a crawl is at most DOWNLOAD_MAXSIZE of payload, so the next one starts within it.
REPLAY_RESYNC_WINDOW = 16 * 1024 * 1024
# The records a replay serves are copied verbatim (record IDs, WARC-Dates kept) into the topic's warc/ and indexed,
# so the replayed topic is a whole archive (wacz, reextract, reindex work on it); records of the topic's own
# warc/ are not copied again.
REPLAY_COPY_RECORDS = True

# --- Existing WARC collections (scrapy scan-warc: crawler/archive/scan.py, crawler/commands/scan_warc.py) -----
# What reads the WARC files in the prefilter pass: "checked" (crawler/archive/framing.py: every record's framing,
# fields and digest checked, damage named and read past), "fastwarc" (resiliparse's FastWARC: 1.3x faster, but it
# trusts each Content-Length, so one lying record loses the rest of the file) or "warcio" (bench/scan.py).
SCAN_WARC_READER = "checked"
# Seconds an HTTP(S) source may stay silent (connecting, or between two reads) before it is given up.
SCAN_WARC_HTTP_TIMEOUT = 60.0

# --- Extraction (pipelines/extract/) ----------------------------------------------------------------------
# Worker processes for extraction (about 175 MB each); 0 runs it in the crawling process. None = one per CPU.
EXTRACT_WORKERS = None
# A paragraph repeated verbatim in this many articles of one outlet is its boilerplate.
EXTRACT_SITE_MEMORY_MIN_ARTICLES = 3
# The function a worker runs per page (dotted path; signature of pipelines.extract.extract_to_dict).
EXTRACT_FUNCTION = "pipelines.extract.extract_to_dict"
# A TOML file of the user's own prompt cues, laid out like pipelines/cues/prompts.toml: each list is added to the
# packaged list of that name (pipelines/cuefile.py). None: the packaged cues only.
EXTRACT_CUES_FILE = None

# --- Duplicates (pipelines/dedup.py) ----------------------------------------------------------------------
# Two cleaned texts whose estimated Jaccard similarity over word shingles reaches the threshold are copies of one
# story (a wire story run by several outlets with small edits: spelling, quotes, a changed paragraph).
DEDUP_NEAR_THRESHOLD = 0.8
DEDUP_NEAR_NUM_PERM = 128
DEDUP_NEAR_SHINGLE = 3  # words per shingle

# --- Already settled by an earlier run (crawler/fetch/settled.py) ------------------------------------------
# Article URLs an earlier run settled (an outcome recorded, a redirect remembered) are not requested again;
# False fetches every listed article (nothing a run writes changes: an unchanged text writes no file).
SETTLED_ENABLED = True
# Archived articles are never requested again unless older than this many days (None: never).
SETTLED_REFRESH_AFTER_DAYS = None
# A URL that failed is retried on later runs up to this many times (a 404 is given up after 2).
SETTLED_ERROR_RETRY_RUNS = 3

# --- Versions of kept articles (crawler/fetch/versions.py, pipelines/versions.py) ---------------------------
# Kept articles are asked for again (conditionally) at these ages, in hours after their first capture; a changed
# cleaned text or title is written as NNN_<hex>.v2.txt (v3, ...). None: on when the topic's window reaches into
# the last 7 days (or has no end); True or False: always or never.
VERSIONS_ENABLED = None
VERSIONS_SCHEDULE = [1, 6, 24, 72, 168]
# The time the schedule is judged at, ISO 8601 (empty: the clock); for tests, or to check as of another moment.
VERSIONS_NOW = ""

# --- Progress and report (crawler/extensions/) ------------------------------------------------------------
PROGRESS_INTERVAL = 10.0  # seconds; 0 turns the progress display off
REPORT_ENABLED = True  # write the coverage report when a crawl ends (`scrapy report DIR` writes it any time)
# Print a short summary to stderr when a crawl ends, whatever LOG_LEVEL (crawler/extensions/summary.py).
SUMMARY_ENABLED = True

# --- Distributed crawls (crawler/cluster/) ------------------------------------------------------------------
# A Redis URL (redis://host:port/db): several `scrapy crawl` workers share one topic's crawl through scrapy-redis
# (queue, fingerprints) and Redis (state, file numbers, per-outlet politeness). None: a local crawl, no Redis.
CLUSTER_REDIS_URL = None
# A Redis that does not answer (restarting, failing over) is waited for this long, each command retried with
# exponential back-off (one error line when it goes, one when it is back); past that the worker stops, exit 2.
CLUSTER_REDIS_RETRY_SECONDS = 60.0
