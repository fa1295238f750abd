"""The atlas notebook runs end to end with quick settings (environment: conftest's notebook fixture)."""

import os

import nbformat
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_atlas_notebook_runs():
    path = os.path.join(ROOT, "notebooks", "atlas.ipynb")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "Eq. (3):" in text and "proved" in text  # Eq. (3)'s valley comes out with its Theorem 6 evidence
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
