"""Extraction quality and speed on the development pages: bare trafilatura against our extraction, in one run.

    python bench/extraction.py [--pages DIR] [--in-process] [--speed] [--rounds N]

For every page of ``../shared/dev-pages/`` (real news pages with their human-annotated article text) it scores
word-token precision, recall and F1 (lowercased, split on non-word characters, token multisets) of
  - ``bare``: ``trafilatura.extract(html, url=url)`` on the page's bytes, default options (the baseline: what a
    user of the library would otherwise run), and
  - ``ours``: the body text printed by ``python -m pipelines.extract PAGE --url URL`` (the command users run;
    ``--in-process`` calls the same function directly, which is faster and prints the same text).
It prints a per-page table, the means, the ratio of our mean F1 to the baseline's, the pages where ours is lower,
and the share of pages that needed a second opinion (``pipelines.extract.opinion``) with what was chosen. Pages
where the bare output contains a prompt paragraph (as our text cues judge it) are marked with ``*``.

Then the speed of both, single-process, over the same pages (``--rounds`` passes, alternating bare and ours, each
warmed up first): CPU seconds of this process, so that other work on a shared machine does not count. ``--speed``
prints the speed part only.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import DEV_PAGES  # noqa: E402

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> Counter:
    return Counter(_TOKEN.findall(text.lower()))


def score(predicted: str, truth: str) -> tuple[float, float, float]:
    """Token-multiset precision, recall and F1."""
    guess, gold = tokens(predicted), tokens(truth)
    overlap = sum((guess & gold).values())
    precision = overlap / sum(guess.values()) if guess else 0.0
    recall = overlap / sum(gold.values()) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def bare_trafilatura(html: bytes, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url) or ""


def ours_by_command(path: Path, url: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "pipelines.extract", str(path), "--url", url, "--json"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"extraction of {path} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def ours_in_process(path: Path, url: str) -> dict:
    from pipelines.extract import extract_article

    return extract_article(path.read_bytes(), url).to_dict()


def carries_prompt(text: str) -> bool:
    from pipelines.prompts import is_call_to_action

    return any(is_call_to_action(line) for line in text.splitlines() if line.strip())


def quality(pages: Path, truth: list[dict], in_process: bool) -> None:
    ours = ours_in_process if in_process else ours_by_command
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: ours(pages / f"{t['id']}.html", t["url"]), truth))
    rows = []
    for page, result in zip(truth, results):
        bare_text = bare_trafilatura((pages / f"{page['id']}.html").read_bytes(), page["url"])
        rows.append((page["id"], carries_prompt(bare_text), score(bare_text, page["text"]),
                     score(result["text"], page["text"])))

    print(f"{'page':14} {'bare P':>7} {'R':>6} {'F1':>6}   {'ours P':>7} {'R':>6} {'F1':>6}   {'dF1':>7}")
    for page_id, prompt, bare, mine in rows:
        mark = "*" if prompt else " "
        print(f"{page_id[:12]}{mark} {bare[0]:7.3f} {bare[1]:6.3f} {bare[2]:6.3f}   "
              f"{mine[0]:7.3f} {mine[1]:6.3f} {mine[2]:6.3f}   {mine[2] - bare[2]:+7.3f}")
    count = len(rows)
    mean = [sum(r[k][i] for r in rows) / count for k in (2, 3) for i in range(3)]
    print(f"{'mean':14} {mean[0]:7.3f} {mean[1]:6.3f} {mean[2]:6.3f}   {mean[3]:7.3f} {mean[4]:6.3f} {mean[5]:6.3f}"
          f"   {mean[5] - mean[2]:+7.3f}")
    prompted = [r for r in rows if r[1]]
    better = sum(1 for r in prompted if r[3][2] > r[2][2])
    worse = sum(1 for r in rows if r[3][2] < r[2][2] - 1e-9)
    print(f"\npages: {count}; bare output carries a prompt on {len(prompted)} (*), ours higher on {better} of them;"
          f" ours lower than bare on {worse} page(s)")
    doubtful = [r for r in results if r.get("doubts")]
    chosen = Counter(r.get("chosen", "ours") for r in doubtful)
    reasons = Counter(reason for r in doubtful for reason in r["doubts"])
    print(f"second opinion: {len(doubtful)} of {count} pages ({len(doubtful) / count:.0%}); kept "
          + ", ".join(f"{name} {n}" for name, n in sorted(chosen.items())) + "; doubts: "
          + ", ".join(f"{name} {n}" for name, n in sorted(reasons.items())))
    print(f"mean F1: bare trafilatura {mean[2]:.3f}, ours {mean[5]:.3f}, ratio {mean[5] / mean[2]:.3f}")


def speed(pages: Path, truth: list[dict], rounds: int) -> None:
    import trafilatura

    from pipelines.extract import extract_article, load_language_detector

    work = [((pages / f"{t['id']}.html").read_bytes(), t["url"]) for t in truth]
    load_language_detector()
    for html, url in work:  # warm both: imports, caches, models
        trafilatura.extract(html, url=url)
        extract_article(html, url)
    bare = ours = 0.0
    for _ in range(rounds):
        started = time.process_time()
        for html, url in work:
            trafilatura.extract(html, url=url)
        bare += time.process_time() - started
        started = time.process_time()
        for html, url in work:
            extract_article(html, url)
        ours += time.process_time() - started
    total = rounds * len(work)
    print(f"speed, single process ({total} pages, CPU time): bare trafilatura.extract {total / bare:.1f} pages/s, "
          f"ours {total / ours:.1f} pages/s, ratio ours/bare {bare / ours:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=Path, default=DEV_PAGES, help="a folder with *.html and truth.jsonl")
    parser.add_argument("--in-process", action="store_true", help="call the extraction function directly")
    parser.add_argument("--speed", action="store_true", help="measure the speed only")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the pages for the speed figure")
    args = parser.parse_args()
    truth = [json.loads(line) for line in (args.pages / "truth.jsonl").read_text().splitlines() if line.strip()]
    if not args.speed:
        quality(args.pages, truth, args.in_process)
    speed(args.pages, truth, args.rounds)


if __name__ == "__main__":
    main()
