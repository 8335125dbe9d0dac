"""Loaded by a crawl under test: writes fail with ENOSPC (disk full).

Put this directory on PYTHONPATH and set
- PRESSWARC_FAIL_WARC_WRITE_AFTER=N: every WARC write call after the first N fails;
- PRESSWARC_FAIL_MANIFEST_APPEND_AT=N: the N-th manifest append fails once, as a full disk does mid-line (half
  the line written, then ENOSPC); the appends before and after it succeed.
"""

import errno
import os

_limit = int(os.environ.get("PRESSWARC_FAIL_WARC_WRITE_AFTER", "-1"))
if _limit >= 0:
    from crawler.archive import writer

    _write = writer.RotatingWarcWriter.write
    _calls = {"n": 0}

    def _failing_write(self, records):
        _calls["n"] += 1
        if _calls["n"] > _limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return _write(self, records)

    writer.RotatingWarcWriter.write = _failing_write

_manifest_at = int(os.environ.get("PRESSWARC_FAIL_MANIFEST_APPEND_AT", "0"))
if _manifest_at > 0:
    from pipelines import manifest

    _append_write = manifest.ManifestWriter._write
    _appends = {"n": 0}

    def _write_once_short(self, data):
        _appends["n"] += 1
        if _appends["n"] != _manifest_at:
            return _append_write(self, data)
        written = _append_write(self, data[: len(data) // 2])
        if written:  # the next write of a full disk fails outright
            return written
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    manifest.ManifestWriter._write = _write_once_short
