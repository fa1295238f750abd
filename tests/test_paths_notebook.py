"""The Property P notebook runs end to end (quick settings)."""

import os
import pathlib

import nbformat
from nbclient import NotebookClient


def test_property_p_notebook_runs():
    root = pathlib.Path(__file__).resolve().parents[1]
    nb = nbformat.read(root / "notebooks" / "property_p.ipynb", as_version=4)
    saved = {k: os.environ.get(k) for k in ("LANDSCAPE_NB_QUICK", "PYTHONPATH")}
    os.environ["LANDSCAPE_NB_QUICK"] = "1"  # the kernel inherits this environment
    os.environ["PYTHONPATH"] = str(root) + os.pathsep + (saved["PYTHONPATH"] or "")
    try:
        NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(root / "notebooks")}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "PASS Theorem 1 case 1" in text and "PASS Theorem 4" in text and "FAIL" not in text
    assert "PASS Theorem 2 case 2" in text
    assert "PASS Theorem 4 [certified" in text  # PASS only with the rigorous bound
    assert "True in a spurious valley (Theorem 6) [proved" in text and "not shown to be in a spurious valley" in text
