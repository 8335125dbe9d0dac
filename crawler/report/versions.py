"""The section "Changed articles": which kept articles changed after their first capture, how, and which are gone.

Gathered from the archive (the manifest's version lines, the text files they name, the store's removals: the
crawl's own store, so a distributed crawl's too, or state.sqlite read-only), so ``presswarc report DIR`` rebuilds
it like the rest of the report. Per changed article it shows the headline change
and a word-level diff of the body (``<del>``/``<ins>`` in the HTML, a unified diff of the paragraphs in
``report.md``) and says when the paragraphs added at the end are a correction note ("Correction:", "Update:",
"Clarification:", or the same in another of the ten languages the extraction knows). Text from the web is escaped
through ``crawler.report.text`` as everywhere in the report.
"""

from __future__ import annotations

import difflib
import html
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable

from crawler.paths import TopicPaths
from crawler.report.section import Context, Section
from crawler.report.text import esc, md, md_code
from crawler.store import SqliteStore, TopicStore

logger = logging.getLogger(__name__)

STYLE = "ins{background:#dfd;text-decoration:none}del{background:#fdd}"  # the diff's insertions and deletions
CONTEXT_WORDS = 8  # unchanged words shown around each change in the HTML diff
CORRECTION_LABELS = {
    "en": ("Correction", "Corrections", "Update", "Updated", "Clarification", "Editor's note"),
    "de": ("Korrektur", "Berichtigung", "Aktualisierung", "Update", "Klarstellung", "Anmerkung der Redaktion"),
    "fr": ("Correction", "Rectificatif", "Mise à jour", "Précision", "Note de la rédaction"),
    "es": ("Corrección", "Fe de erratas", "Actualización", "Aclaración", "Nota del editor"),
    "ru": ("Исправление", "Поправка", "Обновление", "Уточнение", "Примечание редакции"),
    "it": ("Correzione", "Rettifica", "Aggiornamento", "Precisazione", "Nota della redazione"),
    "pt": ("Correção", "Atualização", "Esclarecimento", "Nota do editor"),
    "pl": ("Korekta", "Sprostowanie", "Aktualizacja", "Wyjaśnienie", "Od redakcji"),
    "nl": ("Correctie", "Rectificatie", "Update", "Verduidelijking", "Noot van de redactie"),
    "uk": ("Виправлення", "Оновлення", "Уточнення", "Примітка редакції"),
}


def correction_pattern(languages: Iterable[str] = ()) -> re.Pattern[str]:
    """A paragraph opening with a correction label of English or one of ``languages`` (all when none), then up
    to a few words (a time, a date) and a colon: "Correction:", "Update (17 July):", "Mise à jour :"."""
    chosen = set(languages) or set(CORRECTION_LABELS)
    labels = sorted({label for lang in chosen | {"en"} for label in CORRECTION_LABELS.get(lang, ())}, key=len,
                    reverse=True)
    return re.compile(r"^\W{0,3}(?:" + "|".join(map(re.escape, labels)) + r")\b[^:\n]{0,40}:", re.IGNORECASE)


def _parts(content: str) -> tuple[str, list[str]]:
    """(title, paragraphs) of a text file's content (the title without its date stamp)."""
    head, _, body = content.partition("\n\n")
    return re.sub(r"^ date \d{4}-\d{2}-\d{2} ?", "", head).strip(), [p.strip() for p in body.split("\n\n") if p.strip()]


def word_diff(before: list[str], after: list[str]) -> list[tuple[str, str]]:
    """The body's change word by word: (``equal`` | ``delete`` | ``insert``, text) runs, paragraphs joined."""
    old, new = " ".join(before).split(), " ".join(after).split()
    runs: list[tuple[str, str]] = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op in ("equal", "delete", "replace") and a2 > a1:
            runs.append(("equal" if op == "equal" else "delete", " ".join(old[a1:a2])))
        if op in ("insert", "replace") and b2 > b1:
            runs.append(("insert", " ".join(new[b1:b2])))
    return runs


def _read(paths: TopicPaths, name: str | None) -> str | None:
    path = paths.text_dir / name if name else None
    try:
        return path.read_text(encoding="utf-8") if path is not None and path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def _removals(paths: TopicPaths, store: TopicStore | None = None) -> list[Any]:
    if store is not None:
        return [a for a in store.tracked_articles() if a.removed]
    if not paths.state.exists():
        return []
    try:
        store = SqliteStore(paths.state, read_only=True)
        try:
            return [a for a in store.tracked_articles() if a.removed]
        finally:
            store.close()
    except sqlite3.Error as exc:  # a state made before versions were tracked has no such table
        logger.debug("report: no removals from %s (%s)", paths.state, exc)
        return []


def gather(ctx: Context) -> dict[str, Any]:
    return gather_versions(ctx.paths.root, ctx.extra.get("versions", ctx.entries),
                           ctx.topic.languages if ctx.topic else (), ctx.store)


def gather_versions(root: Path, entries: list[dict[str, Any]], languages: Iterable[str] = (),
                    store: TopicStore | None = None) -> dict[str, Any]:
    """The versions part of ``report.json``: totals, per-outlet counts, each new version with its changes, and
    the removed articles. ``entries``: every manifest line (first versions and later ones)."""
    paths = TopicPaths(Path(root))
    by_file = {e.get("file"): e for e in entries}
    correction = correction_pattern(languages)
    changed, outlets = [], {}
    for entry in entries:
        if not entry.get("version"):
            continue
        before, after = _read(paths, entry.get("previous")), _read(paths, entry.get("file"))
        old_title, old_body = _parts(before or "")
        new_title, new_body = _parts(after or "")
        added = new_body[len(old_body):] if new_body[:len(old_body)] == old_body else []
        slug = entry.get("outlet_slug") or ""
        diff = word_diff(old_body, new_body)
        changed.append({
            "file": entry.get("file"), "previous": entry.get("previous"), "version": entry.get("version"),
            "outlet": entry.get("outlet"), "outlet_slug": slug, "url": entry.get("url"),
            "captured_at": entry.get("captured_at"), "changed": entry.get("changed"),
            "first_captured_at": (by_file.get(entry.get("previous")) or {}).get("fetched_at"),
            "title_before": old_title, "title_after": new_title,
            "words_inserted": sum(len(t.split()) for op, t in diff if op == "insert"),
            "words_deleted": sum(len(t.split()) for op, t in diff if op == "delete"),
            "correction": next((p for p in added if correction.match(p)), None),
            "diff": diff, "unified": list(difflib.unified_diff(old_body, new_body, entry.get("previous") or "",
                                                               entry.get("file") or "", lineterm="", n=1)),
        })
        row = outlets.setdefault(slug, {"name": entry.get("outlet"), "changed": 0, "removed": 0})
        row["changed"] += 1
    removed = []
    for article in _removals(paths, store):
        entry = by_file.get(article.file) or {}
        removed.append({"file": article.file, "url": article.url, "outlet": entry.get("outlet") or article.outlet,
                        "outlet_slug": article.outlet, "title": article.title, "removed": article.removed,
                        "removed_at": article.removed_at})
        row = outlets.setdefault(article.outlet, {"name": entry.get("outlet") or article.outlet, "changed": 0,
                                                  "removed": 0})
        row["removed"] += 1
    totals = {"changed_articles": len({c["previous"].split(".", 1)[0] for c in changed if c["previous"]}),
              "new_versions": len(changed), "title_changes": sum(1 for c in changed if c["changed"] in ("title", "both")),
              "corrections": sum(1 for c in changed if c["correction"]), "removed": len(removed)}
    return {"totals": totals, "outlets": outlets, "changed": changed, "removed": removed}


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _summary(totals: dict[str, int]) -> str:
    return (f"{_count(totals['changed_articles'], 'article')} changed after the first capture "
            f"({_count(totals['new_versions'], 'new version')}, {_count(totals['title_changes'], 'headline change')}, "
            f"{_count(totals['corrections'], 'correction note')}); {totals['removed']} removed.")


def _fence(lines: list[str]) -> list[str]:
    """A fenced ``diff`` block longer than any backtick run inside, so web text cannot end it."""
    longest = max([len(run) for line in lines for run in re.findall(r"`+", line)] or [0])
    fence = "`" * max(3, longest + 1)
    return [fence + "diff", *lines, fence]


def markdown(part: Any, report: dict[str, Any]) -> str:
    """The section in ``report.md`` ("" when no article changed or went; the report writes its heading)."""
    return "\n".join(versions_markdown(part, md)).strip("\n")


def versions_markdown(part: dict[str, Any] | None, cell: Callable[[Any], str]) -> list[str]:
    if not part or not (part["changed"] or part["removed"]):
        return []
    lines = [_summary(part["totals"])]
    for slug, row in part["outlets"].items():
        mine = [c for c in part["changed"] if c["outlet_slug"] == slug]
        if not mine:
            continue
        lines += ["", f"### {cell(row['name'])}"]
        for change in mine:
            lines += ["", f"**{cell(change['title_after'])}** — version {change['version']} "
                          f"({md_code(change['file'])}, replaces {md_code(change['previous'])}), captured "
                          f"{cell(change['captured_at'])}, changed: {cell(change['changed'])}"]
            if change["title_before"] != change["title_after"]:
                lines += ["", f"Headline: ~~{cell(change['title_before'])}~~ → {cell(change['title_after'])}"]
            if change["correction"]:
                lines += ["", f"Correction note added: {cell(change['correction'])}"]
            if change["unified"]:
                lines += ["", *_fence(change["unified"])]
    if part["removed"]:
        lines += ["", "### Removed articles", "", "| outlet | title | file | why | noticed |", "|---|---|---|---|---|"]
        for gone in part["removed"]:
            lines.append(f"| {cell(gone['outlet'])} | {cell(gone['title'])} | {cell(gone['file'])} | "
                         f"{cell(gone['removed'])} | {cell(gone['removed_at'])} |")
    return lines


def _diff_html(runs: list[tuple[str, str]]) -> str:
    shown = []
    for index, (op, text) in enumerate(runs):
        if op == "insert":
            shown.append(f"<ins>{html.escape(text)}</ins>")
        elif op == "delete":
            shown.append(f"<del>{html.escape(text)}</del>")
        else:
            words = text.split()
            head = words[:CONTEXT_WORDS] if index else []
            tail = words[-CONTEXT_WORDS:] if index < len(runs) - 1 else []
            if len(words) <= len(head) + len(tail) + 1:
                shown.append(html.escape(text))
            else:
                shown.append(html.escape(" ".join(head)) + (" … " if head else "… ") + html.escape(" ".join(tail)))
    return " ".join(shown)


def html_fragment(part: Any, report: dict[str, Any]) -> str:
    """The section in ``report.html`` ("" when no article changed or went; the report writes its heading)."""
    fragment = versions_html(part, esc)
    return f"<style>{STYLE}</style>{fragment}" if fragment else ""


def versions_html(part: dict[str, Any] | None, escape: Callable[[Any], str]) -> str:
    if not part or not (part["changed"] or part["removed"]):
        return ""
    out = [f"<p>{html.escape(_summary(part['totals']))}</p>"]
    for slug, row in part["outlets"].items():
        mine = [c for c in part["changed"] if c["outlet_slug"] == slug]
        if not mine:
            continue
        out.append(f"<h3>{escape(row['name'])}</h3>")
        for change in mine:
            headline = (f"<del>{escape(change['title_before'])}</del> → <ins>{escape(change['title_after'])}</ins>"
                        if change["title_before"] != change["title_after"] else escape(change["title_after"]))
            note = (f"<p><strong>Correction note added:</strong> {escape(change['correction'])}</p>"
                    if change["correction"] else "")
            out.append(f'<div class="version"><p><strong>{headline}</strong><br><span class="muted">version '
                       f"{change['version']} ({escape(change['file'])}, replaces {escape(change['previous'])}), "
                       f"captured {escape(change['captured_at'])}; changed: {escape(change['changed'])}</span></p>"
                       f'{note}<p class="diff">{_diff_html(change["diff"])}</p></div>')
    if part["removed"]:
        rows = "".join(f"<tr><td>{escape(g['outlet'])}</td><td>{escape(g['title'])}</td><td>{escape(g['file'])}</td>"
                       f"<td>{escape(g['removed'])}</td><td>{escape(g['removed_at'])}</td></tr>" for g in part["removed"])
        out.append('<h3 id="removed">Removed articles</h3><table><thead><tr><th>outlet</th><th>title</th><th>file'
                   f"</th><th>why</th><th>noticed</th></tr></thead><tbody>{rows}</tbody></table>")
    return "\n".join(out)


SECTION = Section("versions", "Changed articles", gather, html_fragment, markdown)
