"""The paper's experiments (Section 6), each a module with a Python API and a CLI entry."""


def add_preset_arguments(p, name: str) -> None:
    """The CLI options shared by the preset experiments (``fig3``, ``fig4``)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_const", const="quick", dest="preset", help="small net, seconds (CI)")
    g.add_argument("--full", action="store_const", const="full", dest="preset", help="the paper's sizes (default)")
    p.add_argument("--steps", type=int, help="GD steps (overrides the preset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--out", default=f"results/{name}", help=f"output folder ({name}.npz, {name}.png)")
    p.add_argument("--no-progress", action="store_true")
