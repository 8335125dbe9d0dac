"""The prompt cues: the packaged ``pipelines/cues/prompts.toml``, plus a file of the user's own (``EXTRACT_CUES_FILE``).

A site's prompts are worded in ways no packaged list foresees (a local outlet's own donation line, a language the
package lacks). A user adds cues in a TOML file of the same layout as the packaged one, outside the installed
package (which an upgrade replaces): each list it gives is appended to the packaged list of that name, and a
``[text.<language>]`` table the package lacks is a new language. Nothing packaged can be removed this way: the
packaged lists are tuned against the extraction benchmark, a user's file only adds.

The file is checked whole before anything uses it (:func:`read_cues_file`): an unknown table or key, a value that
is not a list of strings, or a pattern that is not a regular expression is refused with one line naming the file
and the key (a misspelt key would otherwise be ignored silently and the cue never match). The crawl command checks
it before the crawl starts; extraction workers receive the checked cues, not the path.

The cues in use are per process (extraction runs in worker processes): :func:`use_extra_cues` sets the user's
cues and clears every cache built from the cues (functions decorated with :func:`cue_cache`).
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, TypeVar

CUES_RESOURCE = ("pipelines", "cues/prompts.toml")  # read as package data: works from a zipped egg (scrapyd)

# What a cues file may contain: table -> key -> kind. "words": lower-cased plain strings; "patterns": regular
# expressions (matched against lower-cased text); "phrases": lists of words; "literals": plain strings matched as
# a whole paragraph (buttons).
DOM_KEYS = {name: "words" for name in ("tokens", "furniture", "variants", "negators", "states", "content_heads",
                                        "access", "embeds", "vendors")} | {"phrases": "phrases"}
TEXT_KEYS = {"labels": "patterns", "appeals": "patterns", "offers": "patterns", "notices": "patterns",
             "credits": "patterns", "stems": "patterns", "address": "words", "imperatives": "words",
             "buttons": "literals"}
RUN_KEYS = {"words": "words"}

F = TypeVar("F", bound=Callable[..., Any])
_caches: list[Any] = []
_extra: dict[str, Any] | None = None


class CuesError(ValueError):
    """A cues file that cannot be used; its message is one line naming the file and what to fix."""


def cue_cache(function: F) -> F:
    """``lru_cache`` for a function whose result depends on the cues: cleared when :func:`use_extra_cues` changes
    them. Used by every cache of :mod:`pipelines.prompts` and :mod:`pipelines.domcues`."""
    cached = lru_cache(maxsize=65536)(function)
    _caches.append(cached)
    return cached  # type: ignore[return-value]


@lru_cache(maxsize=1)
def packaged_cues() -> dict[str, Any]:
    """The cues of the installed package."""
    package, name = CUES_RESOURCE
    return tomllib.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


def _strings(where: str, key: str, value: Any, kind: str) -> list[Any]:
    if not isinstance(value, list):
        raise CuesError(f"{where}.{key} must be a list ({'of word lists' if kind == 'phrases' else 'of strings'}), "
                        f"not {type(value).__name__}")
    checked: list[Any] = []
    for index, item in enumerate(value):
        if kind == "phrases":
            if not (isinstance(item, list) and item and all(isinstance(w, str) and w.strip() for w in item)):
                raise CuesError(f"{where}.{key}[{index}] must be a list of words, like [\"support\", \"us\"]")
            checked.append([w.strip().lower() for w in item])
            continue
        if not isinstance(item, str) or not item.strip():
            raise CuesError(f"{where}.{key}[{index}] must be a non-empty string, not {item!r}")
        if kind == "patterns":
            try:
                re.compile(item)
            except re.error as exc:
                raise CuesError(f"{where}.{key}[{index}] {item!r} is not a regular expression ({exc})") from None
            checked.append(item)
        else:
            checked.append(" ".join(item.split()).lower())
    return checked


def check_cues(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a parsed cues file) checked against the layout of the packaged file, plain words lower-cased;
    :class:`CuesError` (without the file name) on the first thing wrong."""
    known = {"dom": DOM_KEYS, "text": None, "run": RUN_KEYS}
    checked: dict[str, Any] = {}
    for table, content in data.items():
        if table not in known:
            raise CuesError(f"unknown table [{table}] (a cues file has [dom], [text.<language>] and [run])")
        if not isinstance(content, dict):
            raise CuesError(f"{table} must be a table ([{table}]), not a value")
        if table == "text":
            checked["text"] = {}
            for language, keys in content.items():
                if not isinstance(keys, dict):
                    raise CuesError(f"text.{language} must be a table ([text.{language}]), not a value")
                checked["text"][language] = _check_table(f"text.{language}", keys, TEXT_KEYS)
        else:
            checked[table] = _check_table(table, content, known[table])
    return checked


def _check_table(where: str, content: dict[str, Any], keys: dict[str, str]) -> dict[str, list[Any]]:
    checked = {}
    for key, value in content.items():
        if key not in keys:
            raise CuesError(f"unknown key {where}.{key} (known: {', '.join(sorted(keys))})")
        checked[key] = _strings(where, key, value, keys[key])
    return checked


def read_cues_file(path: str | Path | None) -> dict[str, Any] | None:
    """The checked cues of the user's file at ``path`` (None for no path); :class:`CuesError`, one line naming
    ``EXTRACT_CUES_FILE`` and the file, when it is missing, not TOML, or not a cues file."""
    if path in (None, ""):
        return None
    where = f"EXTRACT_CUES_FILE={path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CuesError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise CuesError(f"{where}: a directory, not a cues file (TOML)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CuesError(f"{where}: cannot be read ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CuesError(f"{where}: not valid TOML ({exc})") from None
    try:
        return check_cues(data)
    except CuesError as exc:
        raise CuesError(f"{where}: {exc}") from None


def merge_cues(base: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    """``base`` with each list of ``extra`` appended to the list of that name (duplicates dropped, order kept)."""
    if not extra:
        return base
    merged = {table: ({lang: dict(keys) for lang, keys in content.items()} if table == "text" else dict(content))
              for table, content in base.items()}
    for table, content in extra.items():
        groups = content.items() if table == "text" else [(None, content)]
        for language, keys in groups:
            target = merged.setdefault(table, {})
            if language is not None:
                target = target.setdefault(language, {})
            for key, values in keys.items():
                have = list(target.get(key, []))
                have += [v for v in values if v not in have]
                target[key] = have
    return merged


def use_extra_cues(extra: dict[str, Any] | None) -> None:
    """Use ``extra`` (from :func:`read_cues_file`) on top of the packaged cues in this process, from now on."""
    global _extra
    _extra = extra or None
    cues.cache_clear()
    for cached in _caches:
        cached.cache_clear()


@lru_cache(maxsize=1)
def cues() -> dict[str, Any]:
    """The cues in use in this process: the packaged ones, and the user's (:func:`use_extra_cues`)."""
    return merge_cues(packaged_cues(), _extra)
