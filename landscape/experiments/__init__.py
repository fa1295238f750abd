"""The paper's experiments (Section 6), each a module with a Python API and a CLI entry."""
