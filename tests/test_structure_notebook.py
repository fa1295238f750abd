"""The structure notebook executes with tiny settings (LANDSCAPE_NB_QUICK=1)."""

import os

import nbformat
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_structure_notebook_runs(monkeypatch):
    path = os.path.join(ROOT, "notebooks", "structure.ipynb")
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("LANDSCAPE_NB_QUICK", "1")
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))  # this checkout's code
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "h(2)_1: zero out-degree I" in text and "h(2)_3: zero in-degree II" in text
    assert "effective before: False after: True" in text
    assert "Theorem 5: APPLIES" in text
    assert "SS" in text and "Theorem 6" in text
