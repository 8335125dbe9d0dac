"""``scrapy export DIR``: a topic's kept articles as one table, for analysis (Parquet, CSV or JSON lines).

One row per manifest line, in manifest order, on one fixed schema (``COLUMNS``, documented in docs/export.md):
the manifest's fields plus ``text``, the article's text read from its text file without the header line. The
same columns, with the same types, come out in every format, whatever an older or newer manifest holds: a field
it lacks is null, a field not in the schema is left out. ``--no-text`` writes the "hydratable" list instead
(``HYDRATE_COLUMNS``): enough to find each article again in a web archive (its URLs, its WARC record and capture
time, and the text's sha256 to check a re-extraction against) without redistributing the text itself.

pyarrow writes Parquet and CSV (quoting, nulls, booleans as every reader expects them); JSON lines are written
here, one ``json.dumps`` per row. Rows are written in batches, so memory does not grow with the topic. The output
appears whole or not at all: it is written under a temporary name beside the target and renamed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

from crawler import __version__
from crawler.commands.base import TopicDirCommand
from crawler.paths import TopicPaths
from pipelines.manifest import read_manifest
from pipelines.textfiles import is_text_file_name, render_text

FORMATS = ("parquet", "csv", "jsonl")
BATCH_ROWS = 1000

# (column, type) in output order; types: string, int64, bool, float64. `relevance` is the manifest's object as
# JSON text (a nested value would not fit a CSV cell, and one schema holds for every format).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("file", "string"),
    ("url", "string"),
    ("final_url", "string"),
    ("canonical_url", "string"),
    ("outlet", "string"),
    ("outlet_slug", "string"),
    ("title", "string"),
    ("author", "string"),
    ("published", "string"),
    ("language", "string"),
    ("words", "int64"),
    ("text_sha256", "string"),
    ("paywalled", "bool"),
    ("via", "string"),
    ("relevance", "json"),
    ("duplicate_of", "string"),
    ("similarity", "float64"),
    ("warc_file", "string"),
    ("warc_record_id", "string"),
    ("fetched_at", "string"),
    ("text", "string"),
)
HYDRATE_COLUMNS = ("url", "final_url", "canonical_url", "outlet", "published", "fetched_at", "warc_record_id",
                   "warc_file", "text_sha256")


class ExportError(ValueError):
    """A manifest value that does not fit the schema (reported in one line)."""


def _string(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError
    return int(value)


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError
    return float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


CONVERTERS: dict[str, Callable[[Any], Any]] = {"string": _string, "int64": _int, "float64": _float, "bool": _bool,
                                               "json": _json}
EXPECTED = {"string": "a string", "int64": "an integer", "float64": "a number", "bool": "true or false",
            "json": "a JSON value"}


def columns(text: bool) -> list[tuple[str, str]]:
    """The output's columns and their types: the full schema, or the hydratable list (``text=False``)."""
    if text:
        return list(COLUMNS)
    types = dict(COLUMNS)
    return [(name, types[name]) for name in HYDRATE_COLUMNS]


def article_text(content: str, title: str | None, published: str | None) -> str:
    """A text file's article text: its paragraphs separated by blank lines, without the header line (which the
    file has when the article has a title or a date) and without the final newline."""
    has_header = render_text(title, [], published) != "\n"
    body = content.split("\n\n", 1)[1] if has_header and "\n\n" in content else ("" if has_header else content)
    return body.strip("\n")


def read_text(paths: TopicPaths, entry: dict[str, Any], warn: Callable[[str], None]) -> str | None:
    """The article text of a manifest entry's file, or None (with a warning) when it cannot be read."""
    name = entry.get("file")
    if not isinstance(name, str) or not is_text_file_name(name):
        warn(f"manifest entry {name!r}: not a text file name, text left empty")
        return None
    try:
        raw = (paths.text_dir / name).read_bytes()
    except OSError as exc:
        warn(f"{paths.text_dir / name}: {exc.strerror or exc}, text left empty")
        return None
    if entry.get("text_sha256") and hashlib.sha256(raw).hexdigest() != entry["text_sha256"]:
        warn(f"{paths.text_dir / name}: does not match its manifest text_sha256 (exported as it is)")
    return article_text(raw.decode("utf-8", errors="replace"), entry.get("title"), entry.get("published"))


def rows(paths: TopicPaths, text: bool = True, warn: Callable[[str], None] = lambda message: None
         ) -> Iterator[dict[str, Any]]:
    """The export's rows, one per manifest entry, each holding exactly the columns of ``columns(text)``."""
    schema = columns(text)
    for number, entry in enumerate(read_manifest(paths.manifest), 1):
        row: dict[str, Any] = {}
        for name, kind in schema:
            if name == "text":
                row[name] = read_text(paths, entry, warn)
                continue
            value = entry.get(name)
            try:
                row[name] = None if value is None else CONVERTERS[kind](value)
            except (ValueError, TypeError, OverflowError):
                raise ExportError(f"{paths.manifest}: entry {number} ({entry.get('file')}): {name} is {value!r}, "
                                  f"expected {EXPECTED[kind]}") from None
        yield row


def arrow_schema(schema: list[tuple[str, str]], topic: str):
    import pyarrow as pa

    types = {"string": pa.string(), "json": pa.string(), "int64": pa.int64(), "float64": pa.float64(),
             "bool": pa.bool_()}
    metadata = {"presswarc.export": json.dumps({"version": __version__, "topic": topic})}
    return pa.schema([pa.field(name, types[kind]) for name, kind in schema], metadata=metadata)


def _batches(source: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in source:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def write_rows(source: Iterator[dict[str, Any]], schema: list[tuple[str, str]], fmt: str, stream, topic: str
               ) -> int:
    """Write the rows to an open binary stream in ``fmt``; returns how many."""
    count = 0
    if fmt == "jsonl":
        for row in source:
            stream.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
            count += 1
        return count
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    arrow = arrow_schema(schema, topic)
    writer = (pq.ParquetWriter(stream, arrow, compression="zstd") if fmt == "parquet"
              else pa_csv.CSVWriter(stream, arrow))
    try:
        for batch in _batches(source):
            writer.write_table(pa.Table.from_pylist(batch, schema=arrow))
            count += len(batch)
    finally:
        writer.close()
    return count


def export_topic(paths: TopicPaths, output: Path, fmt: str, text: bool = True,
                 warn: Callable[[str], None] = lambda message: None) -> int:
    """Write the topic's export to ``output`` (whole or not at all); returns the number of rows."""
    schema = columns(text)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            count = write_rows(rows(paths, text, warn), schema, fmt, stream, paths.root.name)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def default_output(root: Path, fmt: str, text: bool) -> Path:
    """``<topic>.<format>`` in the current directory (``<topic>-hydrate.<format>`` without the text)."""
    return Path(f"{root.name}{'' if text else '-hydrate'}.{fmt}")


class Command(TopicDirCommand):
    requires_crawler_process = False

    def syntax(self) -> str:
        return "DIR [--format parquet|csv|jsonl] [-o FILE] [--no-text]"

    def short_desc(self) -> str:
        return "Export DIR's kept articles as one table (Parquet, CSV or JSON lines) for analysis"

    def long_desc(self) -> str:
        return ("One row per kept article (manifest.jsonl), on the schema of docs/export.md: the manifest's fields "
                "and the article text. --no-text writes the hydratable list (URLs, WARC record, capture time, text "
                "sha256) to share without the text. The format is --format, else the suffix of -o, else parquet; "
                "the default output is <topic>.<format> in the current directory.")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--format", dest="export_format", help="parquet (default), csv or jsonl")
        parser.add_argument("-o", "--output", help="the file to write (default: <topic>.<format> here)")
        parser.add_argument("--no-text", action="store_true",
                            help="leave the text out: URLs, WARC record and capture time, text sha256 only")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            self.fail("give one topic directory (ARCHIVE_DIR/<topic>)")
            return
        paths = TopicPaths(Path(args[0]))
        if not paths.root.is_dir():
            self.fail(f"{paths.root}: no such topic directory")
            return
        if not paths.manifest.is_file():
            self.fail(f"{paths.root}: not a topic directory (no manifest.jsonl)")
            return
        suffix = Path(opts.output).suffix.lstrip(".").lower() if opts.output else ""
        fmt = (opts.export_format or (suffix if suffix in FORMATS else "parquet")).lower()
        if fmt not in FORMATS:
            self.fail(f"--format {opts.export_format}: expected one of {', '.join(FORMATS)}")
            return
        text = not opts.no_text
        output = Path(opts.output) if opts.output else default_output(paths.root, fmt, text)
        if output.is_dir() or not output.parent.is_dir():
            self.fail(f"{output}: cannot write there ({'a directory' if output.is_dir() else 'no such directory'})")
            return
        try:
            count = export_topic(paths, output, fmt, text, warn=lambda line: print(f"warning: {line}",
                                                                                   file=sys.stderr))
        except ExportError as exc:
            self.fail(str(exc))
            return
        except OSError as exc:
            self.fail(f"{output}: {exc.strerror or exc}")
            return
        print(f"{output}: {count} rows ({fmt}{'' if text else ', no text'})")
