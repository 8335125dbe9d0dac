"""Headless Chromium for the tests that look at the report as a browser does."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

OVERFLOW_PROBE = ("<script>document.documentElement.setAttribute('data-overflow', "
                  "String(document.documentElement.scrollWidth > window.innerWidth))</script>")
"""Injected into a test's copy of a page (never the report itself, which has no script): marks the root element
``data-overflow="true"`` when the page is wider than the window, i.e. it would scroll sideways."""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("headless Chromium is needed (apt-get install chromium; `make system-deps` does it)")


def run_chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Chromium, headless, on a local page (no network: the report must need none)."""
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


def overflows(page: Path, width: int, profile: Path) -> bool:
    """Whether ``page`` scrolls sideways in a window ``width`` pixels wide (a probed copy is loaded)."""
    probed = page.with_name(f"probe-{width}-{page.name}")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", OVERFLOW_PROBE + "</body>"),
                      encoding="utf-8")
    dom = run_chromium(probed, profile, f"--window-size={width},844", "--dump-dom").stdout
    probed.unlink()
    assert 'data-overflow="' in dom, dom[:2000]
    return 'data-overflow="true"' in dom


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file, from its IHDR chunk."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])
