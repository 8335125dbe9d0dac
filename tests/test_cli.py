"""``presswarc``, the installed command: every command from any directory, with the underlying exit statuses.

``scrapy crawl coverage`` only works where Scrapy finds the project's ``scrapy.cfg``; a user who installs the
package runs commands elsewhere. So these tests install a wheel of this checkout into a virtualenv of its own
(``tests/support/installed.py``) and run ``presswarc`` from scratch directories that hold no project at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest

from crawler.cli import COMMANDS, scrapy_argv
from pipelines.manifest import read_manifest
from tests.support.crawl import REPO
from tests.support.installed import EXAMPLE, example_crawl, run_installed


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_presswarc_offers_every_scrapy_command_of_the_project():
    """A command added to pyproject.toml's entry points and forgotten here would be missing from presswarc."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert set(COMMANDS) == set(project["project"]["entry-points"]["scrapy.commands"])
    assert project["project"]["scripts"]["presswarc"] == "crawler.cli:main"


def test_crawl_takes_the_topic_file_first():
    assert scrapy_argv(["crawl", "t.toml", "-s", "A=1"]) == ["crawl", "coverage", "-a", "topic=t.toml", "-s", "A=1"]
    assert scrapy_argv(["crawl", "-a", "topic=t.toml"]) == ["crawl", "coverage", "-a", "topic=t.toml"]
    assert scrapy_argv(["report", "DIR"]) == ["report", "DIR"]


def test_help_lists_every_command(tmp_path):
    result = run_installed("presswarc", ["--help"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ") and line.strip()}
    assert set(COMMANDS) <= listed
    assert "not installed" not in result.stdout


def test_check_topic_from_any_directory(tmp_path):
    result = run_installed("presswarc", ["check-topic", str(EXAMPLE / "topic.toml")], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "lavrov-afghanistan" in result.stdout and "The Moscow Times" in result.stdout


def test_crawl_from_any_directory_writes_the_example_articles():
    """The quick start's crawl, with the topic file and the WARC named relative to a directory outside the
    project: ``Spider not found`` before ``presswarc`` existed."""
    result, topic_dir = example_crawl()
    assert result.returncode == 0, result.stderr[-4000:]
    texts = sorted(path.name for path in (topic_dir / "text").iterdir())
    assert len(texts) == 7  # six articles and the later version of one (the example's second run)
    assert sorted(entry["file"] for entry in read_manifest(topic_dir / "manifest.jsonl")) == texts
    assert (topic_dir / "report.html").exists()


def test_exit_statuses_are_those_of_the_commands(tmp_path):
    bad_topic = tmp_path / "bad.toml"
    bad_topic.write_text('name = "x"\n')
    result = run_installed("presswarc", ["check-topic", str(bad_topic)], cwd=tmp_path)
    assert result.returncode == 2 and "bad.toml" in one_line(result.stderr)

    (tmp_path / "empty").mkdir()
    result = run_installed("presswarc", ["crawl", str(EXAMPLE / "topic.toml"), "-s", f"REPLAY_FROM={tmp_path / 'empty'}",
                                         "-s", f"ARCHIVE_DIR={tmp_path / 'archive'}"], cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "no WARC" in result.stderr.splitlines()[-1], result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "archive" / "lavrov-afghanistan").exists()


@pytest.mark.parametrize("args, message", [(["crawl"], "give the topic file first"), (["nosuch"], "unknown command")])
def test_bad_command_lines_get_one_line(tmp_path, args, message):
    result = run_installed("presswarc", args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in one_line(result.stderr)


def test_scrapy_inside_the_project_still_works():
    """In a checkout ``scrapy`` keeps finding the project through scrapy.cfg, without SCRAPY_SETTINGS_MODULE."""
    env = {k: v for k, v in os.environ.items() if k != "SCRAPY_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "coverage" in result.stdout.split()
