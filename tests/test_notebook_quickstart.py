"""The quick-start notebook executes (with tiny settings)."""

import os

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))


def run_notebook(name, timeout=300):
    path = os.path.join(HERE, "..", "notebooks", name)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    return nb


def test_quickstart_notebook_runs():
    nb = run_notebook("quickstart.ipynb")
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "Table 3" in text and "L* = 0.2590603" in text
    # landscape.plot keeps Jupyter's inline backend ($MPLBACKEND), so the Table 3 figure shows in the notebook
    shown = [o for c in nb.cells if c.cell_type == "code" and "plot.table3" in c.source
             for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert shown
