"""The dependency rule: lower layers never import upper ones, and no two modules import each other in a cycle.

It reads every module's imports with ``ast`` (top-level and inside functions alike: a deferred import is still a
dependency), so a shortcut taken in a hurry fails here rather than in a reader's head.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("crawler", "pipelines")

# Layer of each module, by the longest matching prefix; a module may import its own layer and those below.
LAYERS = {
    "crawler.topic": 0, "crawler.query": 0, "crawler.urls": 0, "crawler.items": 0, "crawler.text": 0,
    "crawler.contracts": 0, "crawler.discovery": 0, "crawler.process": 0, "crawler.signals": 0, "crawler.fsutil": 0,
    "crawler": 0,
    "crawler.settings": 0,  # declarative data (every default once): any layer may read a default from it
    "crawler.deprecations": 0,  # old setting names -> new ones; reads crawler.settings only
    "crawler.compat": 1,  # wrappers of private Scrapy APIs, importing nothing of ours
    "crawler.paths": 1, "crawler.lock": 1, "crawler.store": 1, "crawler.state": 1, "crawler.run": 1,
    "crawler.archive": 2, "pipelines": 2,
    "crawler.spiders": 3, "crawler.fetch": 3, "crawler.middlewares": 3,
    "crawler.compression": 3, "crawler.resolver": 3, "crawler.extensions": 3, "crawler.cluster": 3,
    "crawler.logformatter": 3,
    "crawler.rebuild": 3,  # rebuilds a missing state at crawl start, and for `scrapy rebuild-state`
    "crawler.commands": 4, "crawler.report": 4,
    "pipelines.extract.cli": 4, "pipelines.extract.__main__": 4,  # `python -m pipelines.extract`: a command
}
# The archive layer and the pipelines sit side by side: neither imports the other.
SIDE_BY_SIDE = ("crawler.archive", "pipelines")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer(name: str) -> int:
    best = max((prefix for prefix in LAYERS if name == prefix or name.startswith(prefix + ".")), key=len)
    return LAYERS[best]


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(path, name, known) for name, path in found.items()}


def test_lower_layers_never_import_upper_ones():
    wrong = []
    for name, targets in graph().items():
        for target in targets:
            if layer(target) > layer(name):
                wrong.append(f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})")
            for a, b in (SIDE_BY_SIDE, SIDE_BY_SIDE[::-1]) if layer(name) < 4 else ():
                if (name == a or name.startswith(a + ".")) and (target == b or target.startswith(b + ".")):
                    wrong.append(f"{name} imports {target}: the archive and the pipelines stay apart")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    edges = graph()
    # package __init__ modules re-export their own submodules: that is not a cycle of dependencies
    edges = {n: {t for t in ts if not t.startswith(n + ".")} for n, ts in edges.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_rule_sees_a_violation():
    """The checker itself works: a module of the core importing a pipeline is reported."""
    assert layer("crawler.urls") < layer("pipelines.dedup")
    assert "crawler.state" in graph()["crawler.spiders.coverage"] or "crawler.store" in " ".join(
        graph()["crawler.spiders.coverage"])
