"""docs/tutorial.ipynb runs from top to bottom (nbclient, the project's own kernel), so it never rots."""
from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO_ROOT


@pytest.mark.tutorial
def test_the_tutorial_notebook_runs_and_shows_what_it_promises(tmp_path):
    notebook = nbformat.read(REPO_ROOT / "docs" / "tutorial.ipynb", as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO_ROOT / "docs")}}).execute()
    text = "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []))
    assert "test MCC" in text and "ground-truth AUROC per sequence" in text and "TATAAAAG at -31" in text
    images = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if "image/png" in out.get("data", {})]
    assert images, "the logos were not drawn"
