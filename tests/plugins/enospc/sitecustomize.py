"""Loaded by a crawl under test: the WARC write call fails with ENOSPC (disk full) after N successful calls.

Set PRESSWARC_FAIL_WARC_WRITE_AFTER=N and put this directory on PYTHONPATH.
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
