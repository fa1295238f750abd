"""The connectivity notebook runs end to end in quick mode."""

import os

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))


def test_notebook_runs_quick(monkeypatch):
    path = os.path.join(HERE, "..", "notebooks", "connectivity.ipynb")
    nb = nbformat.read(path, as_version=4)
    env_root = os.path.abspath(os.path.join(HERE, ".."))
    monkeypatch.setenv("LANDSCAPE_NB_QUICK", "1")
    monkeypatch.setenv("PYTHONPATH", env_root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": os.path.join(env_root, "notebooks")}})
    client.execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "not connected below alpha [proved" in text  # the Theorem 6 demonstration, with its evidence
    assert "connected below alpha" in text
