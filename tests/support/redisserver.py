"""A real redis-server on a free port of 127.0.0.1, for as long as a test needs it."""

from __future__ import annotations

import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import redis

from tests.support.network import free_port


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """Start redis-server (``make system-deps`` installs it); yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server; `make system-deps` does it)")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(directory)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)
