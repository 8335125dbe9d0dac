"""Run real ``scrapy crawl`` processes from tests (a Twisted reactor cannot be restarted in one process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]  # the repository root (this file is tests/support/crawl.py)


def run_scrapy(args: list[str], *, cwd: Path = REPO, env: dict[str, str] | None = None,
               timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m scrapy ARGS`` in the project, with its output captured (shown when it fails)."""
    full_env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env["SCRAPY_SETTINGS_MODULE"] = "crawler.settings"
    full_env.update(env or {})
    result = subprocess.run([sys.executable, "-m", "scrapy", *args], cwd=cwd, env=full_env,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"scrapy {' '.join(args)} exited {result.returncode}\n{result.stderr[-6000:]}")
    return result


def crawl(spider: str, archive: Path, *, spider_args: dict[str, str] | None = None,
          settings: dict[str, Any] | None = None, env: dict[str, str] | None = None,
          timeout: float = 180, check: bool = True) -> tuple[dict[str, Any], subprocess.CompletedProcess]:
    """Crawl with ARCHIVE_DIR=archive; returns the final stats (from STATSFILE_PATH) and the process."""
    archive.mkdir(parents=True, exist_ok=True)
    stats_path = archive.parent / f"stats-{uuid.uuid4().hex[:8]}.json"
    args = ["crawl", spider, "-s", f"ARCHIVE_DIR={archive}", "-s", f"STATSFILE_PATH={stats_path}",
            "-s", "SPIDER_MODULES=crawler.spiders,tests.spiders", "-s", "LOG_LEVEL=DEBUG"]
    for key, value in (spider_args or {}).items():
        args += ["-a", f"{key}={value}"]
    for key, value in (settings or {}).items():
        args += ["-s", f"{key}={value}"]
    result = run_scrapy(args, env=env, timeout=timeout, check=check)
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    return stats, result
