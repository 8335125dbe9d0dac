"""Rebuild ``example.warc.gz``: serve the example's outlets locally and record a real crawl of them.

The outlets of ``site.py`` are served by a local server that also acts as an HTTP proxy, so the crawl sees
their real-looking hostnames (``http://www.themoscowtimes.com/...``) while every byte stays on 127.0.0.1.
The WARC written by the crawler's own recorder becomes the fixture: a live crawl, archived as it happened.

    python examples/lavrov-afghanistan/build_fixture.py
    python examples/lavrov-afghanistan/build_fixture.py --second-capture

``--second-capture`` appends a later run to the fixture as it is: the recorded crawl is replayed into a fresh
archive, then the outlets are crawled again live as a day later (``build_site(edited=True)``: one story's headline
rewritten, a correction appended), and that run's records are added after the first run's, which stay byte for
byte. Its kept articles are asked for again (``VERSIONS_ENABLED``), so the replay shows one changed article.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from tests.support.sites import SiteServer  # noqa: E402


def load_example_site():
    """The example's ``site.py`` (loaded by path: the name ``site`` belongs to the standard library)."""
    spec = importlib.util.spec_from_file_location("example_site", HERE / "site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def crawl(server, archive: str, *settings: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(http_proxy=server.proxy_url, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
               SCRAPY_SETTINGS_MODULE="crawler.settings")
    arguments = [f"ARCHIVE_DIR={archive}", "DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", "BACKOFF_BASE=0",
                 "WARC_OPERATOR=presswarc example fixture", "EXTRACT_WORKERS=0", *settings]
    subprocess.run([sys.executable, "-m", "scrapy", "crawl", "coverage", "-a", f"topic={HERE / 'topic.toml'}",
                    *[part for setting in arguments for part in ("-s", setting)]], cwd=REPO, env=env, check=True)


def second_capture() -> None:
    with SiteServer() as server, tempfile.TemporaryDirectory() as tmp:
        load_example_site().build_site(server, edited=True)
        crawl(server, tmp, f"REPLAY_FROM={HERE / 'example.warc.gz'}")
        warc = Path(tmp) / "lavrov-afghanistan" / "warc"
        replayed = set(warc.glob("*.warc.gz"))
        crawl(server, tmp, "VERSIONS_ENABLED=True")
        with open(HERE / "example.warc.gz", "ab") as out:
            for path in sorted(set(warc.glob("*.warc.gz")) - replayed):
                with open(path, "rb") as fh:
                    shutil.copyfileobj(fh, out)
        print(f"appended a second capture to {HERE / 'example.warc.gz'} ({len(server.requests())} requests)")


def main() -> None:
    if "--second-capture" in sys.argv[1:]:
        return second_capture()
    with SiteServer() as server, tempfile.TemporaryDirectory() as tmp:
        load_example_site().build_site(server)
        crawl(server, tmp)
        files = sorted((Path(tmp) / "lavrov-afghanistan" / "warc").glob("*.warc.gz"))
        with open(HERE / "example.warc.gz", "wb") as out:
            for path in files:  # gzip members concatenate into one valid WARC file
                with open(path, "rb") as fh:
                    shutil.copyfileobj(fh, out)
        print(f"wrote {HERE / 'example.warc.gz'} ({(HERE / 'example.warc.gz').stat().st_size} bytes, "
              f"{len(server.requests())} requests recorded)")


if __name__ == "__main__":
    main()
