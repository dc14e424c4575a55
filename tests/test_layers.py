"""Imports run one way: no glmxai unit imports one of its own layer or above
(``scripts/import_graph.py`` defines the layers and prints the graph)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "import_graph.py"


@pytest.fixture(scope="module")
def layers():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_import_of_the_package_runs_downwards(layers):
    graph = layers.import_graph()
    assert len(graph) > 50  # the whole package was read
    assert layers.violations(graph) == []


def test_the_check_catches_an_upward_and_a_sideways_import(layers, tmp_path):
    package = tmp_path / "glmxai"
    for name, text in {"io.py": "from glmxai.report import Report\n",  # layer 0 imports layer 4
                       "probes/__init__.py": "", "analysis/__init__.py": "",
                       "probes/job.py": "def f():\n    from glmxai.analysis.faithfulness import g\n",  # siblings
                       "report.py": "from glmxai import io\n"}.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    found = layers.violations(layers.import_graph(package))
    assert [line.split(" (")[0] for line in found] == ["glmxai.io -> glmxai.report",
                                                       "glmxai.probes.job -> glmxai.analysis.faithfulness"]


def test_a_unit_outside_the_layers_is_named(layers, tmp_path):
    package = tmp_path / "glmxai"
    package.mkdir()
    (package / "newthing.py").write_text("from glmxai import io\n")
    with pytest.raises(KeyError, match="glmxai.newthing is in no layer"):
        layers.violations(layers.import_graph(package))
