"""Print glmxai's import graph between its units and check that imports run one way.

    python scripts/import_graph.py            # the graph, unit by unit, and any violation

A unit is a top-level module or subpackage of ``glmxai`` (``glmxai.xai``, ``glmxai.report``...).
``LAYERS`` orders them from the bottom up: a unit may import its own modules and units of lower
layers, never one of its own layer or above (so ``probes`` and ``analysis``, side by side, never
import each other). Only the orchestration on top (``glmxai.jobs``) puts the sections together; the Python API
(``glmxai.api``) sits above it.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "glmxai"

LAYERS: list[set[str]] = [
    {"io", "options"},
    {"allowlist", "job_log"},
    {"data"},
    {"models", "stats", "store", "wandb_log"},
    {"predictor", "motifs", "report", "figures", "explain_runs"},
    {"xai"},
    {"probes", "analysis"},
    {"jobs"},
    {"api"},
]


def unit(module: str) -> str:
    """``glmxai.xai.lime`` -> ``xai``; ``glmxai.report`` -> ``report``."""
    return module.split(".")[1]


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the glmxai modules it imports (at any depth of its code, lazy imports too)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "glmxai":
                names = [node.module] if node.module != "glmxai" else [f"glmxai.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.split(".")[0] == "glmxai"]
            else:
                continue
            graph[module].update(n for n in names if n.count(".") >= 1)
    return graph


def layer_of(name: str) -> int:
    for i, units in enumerate(LAYERS):
        if name in units:
            return i
    raise KeyError(f"glmxai.{name} is in no layer of scripts/import_graph.py LAYERS: place it")


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a unit of the importer's own layer or above, as 'a -> b' lines."""
    bad = []
    for module, imported in sorted(graph.items()):
        for target in sorted(imported):
            a, b = unit(module), unit(target)
            if a != b and layer_of(b) >= layer_of(a):
                bad.append(f"{module} -> {target} (layer {layer_of(a)} imports layer {layer_of(b)})")
    return bad


def main() -> int:
    graph = import_graph()
    units: dict[str, set[str]] = defaultdict(set)
    for module, imported in graph.items():
        units[unit(module)].update(unit(t) for t in imported if unit(t) != unit(module))
    for i, layer in reversed(list(enumerate(LAYERS))):
        for name in sorted(layer):
            print(f"{i} {name:13s} -> {', '.join(sorted(units.get(name, ()), key=layer_of)) or '-'}")
    bad = violations(graph)
    print("\n".join(["", "imports against the layers:", *bad]) if bad else "\nevery import runs downwards")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
