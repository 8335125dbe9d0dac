"""An extraction function that kills its own worker process on chosen pages, to test the pool's recovery.

URLs containing ``crash-once`` kill the worker the first time (a marker file under ``CRASH_MARKER_DIR`` records
it) and extract normally on the retry; URLs containing ``crash-always`` kill every worker that tries.
"""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

from pipelines.extract import extract_to_dict


def extract_or_die(html: bytes, url: str, boilerplate: frozenset[str], content_type: str | None = None) -> dict:
    if "crash-always" in url:
        os.kill(os.getpid(), signal.SIGKILL)
    if "crash-once" in url:
        marker = Path(os.environ["CRASH_MARKER_DIR"]) / hashlib.sha1(url.encode()).hexdigest()
        if not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
    return extract_to_dict(html, url, boilerplate, content_type)
