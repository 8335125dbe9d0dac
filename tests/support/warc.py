"""Reading WARC files in tests: records with their raw payloads, and ``warcio check`` run as a real command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.crawl import REPO


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    """warcio's own ``check`` command line in a subprocess, through ``python -m crawler.archive`` (warcio's
    ``main`` with its br decoder fixed: the bare ``warcio`` script fails on any br-encoded record)."""
    return subprocess.run([sys.executable, "-m", "crawler.archive", "check", "-v", str(path)],
                          capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": str(REPO)})
