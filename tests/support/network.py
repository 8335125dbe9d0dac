"""What the tests need to know about this machine's network: a host name that resolves to loopback, and the
URLs a crawl archived."""

from __future__ import annotations

import socket
from pathlib import Path


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
