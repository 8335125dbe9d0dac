"""Fixtures several test modules share: a real HTTP test server and a real redis-server, each for one test.

The helpers under ``tests/support`` assert too (``check_archive`` says which promise an archive broke); they are
registered for pytest's assertion rewriting so their failures show the values compared, as a test's own do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

pytest.register_assert_rewrite("tests.support")

from tests.support.redisserver import redis_server  # noqa: E402
from tests.support.sites import SiteServer  # noqa: E402


@pytest.fixture
def site() -> Iterator[SiteServer]:
    """An empty ``SiteServer`` (origin and proxy on 127.0.0.1); the test routes what it serves. A module that
    needs a site built the same way for every test overrides this with its own ``site``."""
    with SiteServer() as server:
        yield server


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """The URL of a redis-server of the test's own, on a free port of 127.0.0.1, stopped after the test."""
    with redis_server(tmp_path) as url:
        yield url
