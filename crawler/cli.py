"""``presswarc``: every presswarc command, from any directory.

``scrapy`` finds a project through a ``scrapy.cfg`` in the current directory or above it; an installed presswarc
has none there, so ``scrapy crawl coverage`` run elsewhere knows no spider. ``presswarc`` names the project's
settings module itself (``SCRAPY_SETTINGS_MODULE=crawler.settings``, unless already set) and hands the rest to
Scrapy's own command line, so options, ``--help`` and exit statuses are those of the ``scrapy`` commands. Only
``crawl`` is shortened: ``presswarc crawl TOPIC.toml ...`` is ``scrapy crawl coverage -a topic=TOPIC.toml ...``.

The commands themselves are the ``scrapy.commands`` entry points of the installed package (pyproject.toml);
``COMMANDS`` lists the ones ``presswarc`` offers, in the order its help shows them.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import EntryPoint, entry_points

from crawler import __version__

SETTINGS_MODULE = "crawler.settings"
SPIDER = "coverage"
# name -> description shown by `presswarc --help` when the command's own short_desc does not fit (crawl's is
# Scrapy's generic "Run a spider").
COMMANDS: dict[str, str | None] = {
    "crawl": "Crawl a topic's coverage (TOPIC.toml) into ARCHIVE_DIR/<topic>",
    "check-topic": None,
    "scan-warc": None,
    "report": None,
    "wacz": None,
    "export": None,
    "reextract": None,
    "recover-warc": None,
    "reindex": None,
    "rebuild-state": None,
}
HELP_FLAGS = ("-h", "--help", "help")


def installed_commands() -> dict[str, EntryPoint]:
    """The ``scrapy.commands`` entry points installed for presswarc's commands, by name."""
    return {ep.name: ep for ep in entry_points(group="scrapy.commands") if ep.name in COMMANDS}


def usage() -> str:
    """The text of ``presswarc --help``: every command with a one-line description."""
    installed = installed_commands()
    lines = [f"presswarc {__version__}: crawl the whole coverage of one news story into a WARC archive and text files",
             "", "Usage:", "  presswarc <command> [options] [args]", "", "Commands:"]
    for name, description in COMMANDS.items():
        if description is None:
            entry = installed.get(name)
            description = entry.load()().short_desc() if entry else "(not installed: reinstall presswarc)"
        lines.append(f"  {name:<14} {description}")
    lines += ["", 'Each command has its own help: "presswarc <command> --help".',
              "crawl: presswarc crawl TOPIC.toml [-s NAME=VALUE ...] [-a NAME=VALUE ...] (scrapy crawl's options)."]
    return "\n".join(lines)


def scrapy_argv(args: list[str]) -> list[str]:
    """The ``scrapy`` command line for a ``presswarc`` one (without the program name)."""
    name, rest = args[0], args[1:]
    if name != "crawl":
        return [name, *rest]
    if rest and not rest[0].startswith("-"):
        return ["crawl", SPIDER, "-a", f"topic={rest[0]}", *rest[1:]]
    return ["crawl", SPIDER, *rest]


def _has_topic(argv: list[str]) -> bool:
    return any(a == "-a" and b.startswith("topic=") for a, b in zip(argv, argv[1:])) or \
        any(a.startswith("-atopic=") for a in argv)


def main(argv: list[str] | None = None) -> None:
    """Run one presswarc command; exits with its status (2 and one line for an unknown command)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in HELP_FLAGS:
        print(usage())
        sys.exit(0 if args else 2)
    if args[0] == "--version":
        print(f"presswarc {__version__}")
        sys.exit(0)
    name = args[0]
    if name not in COMMANDS:
        print(f"presswarc: unknown command {name!r} (see presswarc --help)", file=sys.stderr)
        sys.exit(2)
    if name not in installed_commands():
        print(f"presswarc: the {name} command is not installed in this environment (reinstall presswarc: "
              f"pip install .)", file=sys.stderr)
        sys.exit(2)
    command = scrapy_argv(args)
    wants_help = any(flag in command for flag in ("-h", "--help"))
    if name == "crawl" and not wants_help and not _has_topic(command):
        print("presswarc: give the topic file first: presswarc crawl TOPIC.toml [options]", file=sys.stderr)
        sys.exit(2)
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", SETTINGS_MODULE)
    from scrapy.cmdline import execute

    execute(["scrapy", *command])


if __name__ == "__main__":
    main()
