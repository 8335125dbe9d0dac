"""``python -m pipelines.extract PAGE.html [--url URL] [--json]`` or ``--from-warc FILE --url URL``: the clean
text of one page, as the crawl would extract it.

A command on top of the layers: unlike the rest of ``pipelines``, it may read WARC files through
``crawler.archive`` (whose reader decodes br-encoded records too).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines.cuefile import CuesError, read_cues_file, use_extra_cues
from pipelines.extract.stages import extract_article


def _page_from_warc(warc_path: str, url: str) -> tuple[bytes, str | None]:
    """The decompressed body and Content-Type of the (first) response archived for ``url``."""
    from crawler.archive.reader import response_payloads

    page = response_payloads([Path(warc_path)], "WARC-Target-URI", {url}).get(url)
    if page is None:
        raise SystemExit(f"error: {warc_path}: no response record for {url}")
    return page


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.extract PAGE.html [--url URL] [--json]`` or ``--from-warc FILE --url URL``."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.extract",
                                     description="Print the clean article text of one page (body only).")
    parser.add_argument("page", nargs="?", help="an HTML file")
    parser.add_argument("--url", help="the page's URL (resolves links, helps date detection)")
    parser.add_argument("--json", action="store_true", help="print the whole extraction result as JSON")
    parser.add_argument("--from-warc", metavar="FILE", help="read the page from this WARC file (needs --url)")
    parser.add_argument("--cues", metavar="FILE", help="your own prompt cues (TOML), as EXTRACT_CUES_FILE in a crawl")
    args = parser.parse_args(argv)
    try:
        use_extra_cues(read_cues_file(args.cues))
    except CuesError as exc:
        parser.error(str(exc).replace("EXTRACT_CUES_FILE=", "--cues ", 1))
    if args.from_warc:
        if not args.url:
            parser.error("--from-warc needs --url")
        html, content_type = _page_from_warc(args.from_warc, args.url)
    elif args.page:
        html, content_type = Path(args.page).read_bytes(), None
    else:
        parser.error("give an HTML file or --from-warc FILE --url URL")
    url = args.url or Path(args.page).resolve().as_uri()
    article = extract_article(html, url, content_type=content_type)
    if args.json:
        data = article.to_dict()
        data.pop("memory_keys", None)
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif article.paragraphs:
        sys.stdout.write(article.text + "\n")
    return 0
