"""What the tests need to know about this machine's network: a free port on loopback, a host name that resolves
to loopback, and the URLs a crawl archived."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on now, for a server a test starts (redis-server, scrapyd, pywb):
    the kernel picks it, so parallel tests and other users of the machine do not collide."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loopback_name() -> str | None:
    """A host name, other than ``localhost`` (which the request guard refuses by name), that resolves to
    127.0.0.1 here: the machine's own name usually does (/etc/hosts). None when there is none."""
    for name in (socket.gethostname(), socket.getfqdn()):
        if not name or name == "localhost" or name.endswith(".localhost"):
            continue
        try:
            address = socket.gethostbyname(name)
        except OSError:
            continue
        if address == "127.0.0.1":
            return name.lower()
    return None


def archived_urls(warc_dir: Path) -> list[str]:
    """The target URI of every request and response record in the WARC files of a directory."""
    from warcio.archiveiterator import ArchiveIterator

    urls = []
    for path in sorted(warc_dir.glob("*.warc.gz")):
        with open(path, "rb") as fh:
            urls += [record.rec_headers.get_header("WARC-Target-URI") for record in ArchiveIterator(fh)
                     if record.rec_type in ("request", "response")]
    return urls
