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
                                "--enable-debug-command", "local",  # DEBUG SLEEP: a Redis slow to answer
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


class RestartableRedis:
    """A redis-server that keeps its data on disk (append-only file, fsync on every write) and can be stopped and
    started again on the same port, as a production Redis restarts."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "yes", "--appendfsync", "always", "--dir",
                                         str(self.directory)], stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                break
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@contextmanager
def restartable_redis_server(directory: Path) -> Iterator[RestartableRedis]:
    server = RestartableRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
