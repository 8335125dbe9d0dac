"""The bundled example (``examples/lavrov-afghanistan``): where it and its golden text files are, and its replay.

The example test, the extraction-pool and report tests, and ``tests/fixtures/make_golden.py`` all replay the same
recorded crawl; one definition keeps them replaying it the same way (offline, from ``example.warc.gz``, with
extraction in the crawling process).
"""

from __future__ import annotations

from pathlib import Path

from tests.support.crawl import REPO, crawl

EXAMPLE = REPO / "examples" / "lavrov-afghanistan"
GOLDEN = REPO / "tests" / "fixtures" / "example-golden"


def replay_example(archive: Path) -> tuple[dict, Path]:
    """Replay the example into ``archive``; returns the crawl's final stats and its topic directory."""
    stats, _ = crawl("coverage", archive, spider_args={"topic": str(EXAMPLE / "topic.toml")},
                     settings={"REPLAY_FROM": str(EXAMPLE / "example.warc.gz"), "EXTRACT_WORKERS": "0"})
    return stats, archive / "lavrov-afghanistan"
