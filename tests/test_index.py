"""index.cdxj is written whole through a temporary file no one can plant in advance."""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders

from crawler.archive.index import add_to_index, rebuild_index
from crawler.archive.writer import RotatingWarcWriter


def warc_dir(tmp_path: Path) -> Path:
    """A topic's warc/ with one closed WARC file of two responses."""
    directory = tmp_path / "topic" / "warc"
    directory.mkdir(parents=True)
    writer = RotatingWarcWriter(directory, prefix="t", info={"isPartOf": "topic"})
    for n in range(2):
        body = f"page {n}".encode()
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write([writer.builder.create_warc_record(f"http://example.test/{n}", "response",
                                                        payload=BytesIO(body), length=len(body),
                                                        http_headers=headers)])
    writer.close()
    return directory


@pytest.mark.parametrize("update", [add_to_index, rebuild_index], ids=["add", "rebuild"])
def test_a_symlink_at_the_old_temporary_name_is_not_written_through(tmp_path, update):
    """The index used to be written to ``index.cdxj.<pid>.tmp``: a symlink planted there sent it into another file."""
    warcs = warc_dir(tmp_path)
    index = warcs.parent / "index.cdxj"
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (index.parent / f"index.cdxj.{os.getpid()}.tmp").symlink_to(victim)
    update(index, list(warcs.iterdir()) if update is add_to_index else warcs)
    assert victim.read_text() == "precious\n"
    assert not index.is_symlink() and len(index.read_text().splitlines()) == 2
    assert sorted(p.name for p in index.parent.iterdir()) == sorted(
        ["index.cdxj", "index.cdxj.lock", f"index.cdxj.{os.getpid()}.tmp", "warc"])  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert index.stat().st_mode & 0o777 == 0o666 & ~umask  # readable as before, not mkstemp's 0600


def test_a_symlink_at_the_index_lock_is_not_followed(tmp_path):
    warcs = warc_dir(tmp_path)
    victim = tmp_path / "victim"
    (warcs.parent / "index.cdxj.lock").symlink_to(victim)
    with pytest.raises(OSError):
        add_to_index(warcs.parent / "index.cdxj", list(warcs.iterdir()))
    assert not victim.exists() and not (warcs.parent / "index.cdxj").exists()
