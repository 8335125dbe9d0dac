"""`scrapy recover-warc` closes what a killed crawl left and never cuts through a planted symlink."""

from __future__ import annotations

import socket

from tests.support.crawl import run_scrapy


def _warc_gz_record() -> bytes:
    from io import BytesIO
    from warcio.warcwriter import WARCWriter
    buf = BytesIO()
    w = WARCWriter(buf, gzip=True, warc_version="1.1")
    w.write_record(w.create_warcinfo_record("x.warc.gz", {"software": "t"}))
    return buf.getvalue()


def _host() -> str:
    import re
    return re.sub(r"[^A-Za-z0-9.]+", "_", socket.gethostname()) or "host"


def test_recover_warc_truncates_symlink_target(tmp_path):
    """A planted .open symlink in warc/: `scrapy recover-warc` must not cut the file it points to."""
    topic = tmp_path / "topic"
    (topic / "warc").mkdir(parents=True)
    victim = tmp_path / "precious.warc.gz"
    victim.write_bytes(_warc_gz_record() + b"USER DATA THAT IS NOT A RECORD" * 100)
    size = victim.stat().st_size
    link = topic / "warc" / f"presswarc-20240101000000000-00001-{_host()}-999999.warc.gz.open"
    link.symlink_to(victim)
    result = run_scrapy(["recover-warc", str(topic)], check=False)
    print(result.stdout, result.stderr)
    assert victim.stat().st_size == size, f"victim cut from {size} to {victim.stat().st_size} bytes"


def test_recover_warc_zeroes_non_warc_symlink_target(tmp_path):
    topic = tmp_path / "topic"
    (topic / "warc").mkdir(parents=True)
    victim = tmp_path / "notes.txt"
    victim.write_text("my thesis\n" * 1000)
    link = topic / "warc" / f"presswarc-20240101000000000-00001-{_host()}-999999.warc.gz.open"
    link.symlink_to(victim)
    result = run_scrapy(["recover-warc", str(topic)], check=False)
    print(result.stdout, result.stderr)
    assert victim.stat().st_size == 10000, f"victim is now {victim.stat().st_size} bytes"
