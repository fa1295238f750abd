"""The notebook runs end to end (quick settings) in a fresh kernel."""

import os

import nbformat
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_notebook_runs():
    path = os.path.join(ROOT, "notebooks", "slices.ipynb")
    nb = nbformat.read(path, as_version=4)
    env_backup = dict(os.environ)
    os.environ["LANDSCAPE_NB_QUICK"] = "1"
    os.environ["PYTHONPATH"] = ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": os.path.join(ROOT, "notebooks")}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "= y4²/2" in outputs and "[2.]" in outputs  # the red line's loss printed by the notebook
    n_images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert n_images >= 4
