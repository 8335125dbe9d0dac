"""The README's settings table against ``crawler/settings.py``, and docs/api.md's example and signatures against the
code: documentation that cannot drift from it.

The rule, checked on the names in the first column of the table under "## Settings":

- every setting ``crawler/settings.py`` defines that Scrapy's ``scrapy.settings.default_settings`` does not
  (presswarc's own) has a row: a user can only set what the README tells them exists;
- every name in the table is a setting ``crawler/settings.py`` defines: presswarc's own, or a Scrapy setting the
  project sets (those the README lists because their default differs from Scrapy's, or matters to the crawl).
  A name of neither kind documents nothing that exists, or a Scrapy setting presswarc leaves to Scrapy's docs;
- a default cell that is a plain value shows ``crawler/settings.py``'s value: a backticked literal, a number
  with or without a unit (s, bytes/s, KiB, MiB, GiB; MB and GB as either powers of ten or of two), or "–" for a
  setting off by default (None or empty). A row naming several settings gives their defaults in order,
  separated by commas. Cells that describe a default in words ("CPU count", "auto") are not compared.

A name Scrapy no longer defines counts as presswarc's own here: one that settings.py still sets after Scrapy dropped
it fails the first rule, and is removed from settings.py rather than documented.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import subprocess
import sys

import pytest
import scrapy.settings.default_settings as scrapy_defaults

import crawler.settings as project_settings
from tests.support.crawl import REPO

NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def settings_table() -> list[tuple[list[str], str]]:
    """(names in the first column, default cell) of each row of the README's settings table."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3 and NAME.search(cells[0]):
            rows.append((NAME.findall(cells[0]), cells[1]))
    return rows


def defined(module) -> dict[str, object]:
    return {name: getattr(module, name) for name in dir(module) if name.isupper() and not name.startswith("_")}


OURS = defined(project_settings)
SCRAPY = defined(scrapy_defaults)


def test_the_table_is_found():
    assert len(settings_table()) > 30


def test_every_own_setting_has_a_row():
    documented = {name for names, _ in settings_table() for name in names}
    own = {name for name in OURS if name not in SCRAPY}
    assert sorted(own - documented) == []


def test_every_row_names_a_setting_the_project_defines():
    listed = {name for names, _ in settings_table() for name in names}
    assert sorted(listed - set(OURS)) == []


UNITS = {"": (1,), "s": (1,), "bytes/s": (1,), "KiB": (2**10,), "MiB": (2**20,), "GiB": (2**30,),
         "KB": (10**3, 2**10), "MB": (10**6, 2**20), "GB": (10**9, 2**30)}


def plain_values(cell: str) -> list[object] | None:
    """The values a plain default cell stands for, each as a tuple of acceptable values; None for a cell in
    words. `True`, `./archive`, `[1, 2]`, 5, 0.8, 10 000, 16 MB, 0.5 s, –."""
    if cell in ("–", "-"):
        return [(None,)]
    match = re.fullmatch(r"`([^`]*)`", cell)
    if match:
        try:
            return [(ast.literal_eval(match.group(1)),)]
        except (ValueError, SyntaxError):
            return [(match.group(1),)]  # a bare string: a path, a dotted name
    match = re.fullmatch(r"(\d[\d ]*(?:\.\d+)?) ?(s|bytes/s|KiB|MiB|GiB|KB|MB|GB)?", cell)
    if match:
        number = ast.literal_eval(match.group(1).replace(" ", ""))
        return [tuple(number * factor for factor in UNITS[match.group(2) or ""])]
    return None


def test_plain_defaults_match_the_settings_module():
    wrong, compared = [], 0
    for names, cell in settings_table():
        parts = [plain_values(part.strip()) for part in cell.split(", ")] if len(names) > 1 else [plain_values(cell)]
        if len(parts) != len(names) or None in parts:
            continue
        for name, (accepted,) in zip(names, parts):
            if name not in OURS:  # reported by test_every_row_names_a_setting_the_project_defines
                continue
            actual, compared = OURS[name], compared + 1
            off = accepted == (None,) and actual in (None, "", [], {}) and actual is not False
            same = any(actual == value and isinstance(actual, bool) == isinstance(value, bool) for value in accepted)
            if not off and not same:
                wrong.append(f"{name}: README {cell}, settings.py {actual!r}")
    assert wrong == []
    assert compared > 25


# -- docs/api.md: its example runs and prints what the page says; the signatures it gives are the code's -------

def api_example() -> tuple[str, str]:
    """The example's code and the output the page shows for it."""
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    output = text.split("It prints:\n\n```text\n", 1)[1].split("```", 1)[0]
    return code, output


def test_the_api_example_prints_what_the_page_says():
    code, output = api_example()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == output


@pytest.mark.parametrize("function", ["crawler.topic.load_topic", "crawler.topic.parse_topic",
                                      "pipelines.extract.extract_article", "pipelines.extract.extract_to_dict",
                                      "crawler.archive.reader.response_payloads", "pipelines.manifest.read_manifest"])
def test_the_api_page_gives_each_function_s_real_signature(function):
    module, name = function.rsplit(".", 1)
    signature = inspect.signature(getattr(importlib.import_module(module), name))
    bare = signature.replace(parameters=[p.replace(annotation=inspect.Parameter.empty)
                                         for p in signature.parameters.values()],
                             return_annotation=inspect.Signature.empty)
    assert f"{name}{bare}" in (REPO / "docs" / "api.md").read_text(encoding="utf-8")
