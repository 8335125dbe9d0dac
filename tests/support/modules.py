"""Functions a test runs inside another process (a pool worker) to see what that process has imported."""

from __future__ import annotations

import sys


def imports_scrapy() -> bool:
    """Whether Scrapy (or any module of it) is loaded in the calling process."""
    return any(name == "scrapy" or name.startswith("scrapy.") for name in sys.modules)
