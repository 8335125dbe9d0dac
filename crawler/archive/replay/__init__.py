"""Offline replay: every request is answered from WARC files (``-s REPLAY_FROM=<file or directory>``).

Replay is a download handler for http and https, so the rest of Scrapy (robots.txt, redirects, retries,
decompression, cookies) works exactly as in a live crawl, and no network connection can be opened: there is no
network handler to open one. Only the middlewares that shape the request sent to a server (default headers,
credentials, proxy, timeout) are left out, as nothing is sent.

Record offsets come from the archive's ``index.cdxj`` (next to the WARC files or one level up, as a topic
directory keeps it) for the files it covers, and from one scan of the record headers for the others
(:func:`crawler.archive.records.scan`: bounded memory, damaged regions reported and read past); bodies are read
lazily from disk when a request asks for them, so memory does not grow with the archive, and a payload over
``DOWNLOAD_MAXSIZE`` is served cut there, flagged as a live oversize response is. A record's own headers (its
ID, a revisit's original, ``WARC-Truncated``) are read when it is served.

Matching is by method and URL, exact first, then canonicalized (scheme and host case, default port, fragment,
sorted query). When a URL has several records (a 503 that was retried, then a 200), successive requests get
them in recorded order, the last one repeating.

- :mod:`~crawler.archive.replay.index`: :class:`ReplayIndex`, where each request's record is;
- :mod:`~crawler.archive.replay.record`: :func:`read_record`, what a record serves (digest checked);
- :mod:`~crawler.archive.replay.handler`: :class:`ReplayDownloadHandler`, the Scrapy download handler;
- :mod:`~crawler.archive.replay.addon`: :class:`ReplayAddon` (``ADDONS``), which switches it on.
"""

from crawler.archive.cdxj import find_cdxj
from crawler.archive.replay.addon import ReplayAddon
from crawler.archive.replay.handler import ReplayDownloadHandler
from crawler.archive.replay.index import RecordPointer, ReplayIndex, replay_files, replay_key, shared_index
from crawler.archive.replay.record import ReplayError, ServedRecord, digest_matches, read_record

__all__ = ["RecordPointer", "ReplayAddon", "ReplayDownloadHandler", "ReplayError", "ReplayIndex", "ServedRecord",
           "digest_matches", "find_cdxj", "read_record", "replay_files", "replay_key", "shared_index"]
