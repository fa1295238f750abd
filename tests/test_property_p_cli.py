"""`landscape property-p` end to end: builds, verifies, writes report and figure."""

import json
import os

import numpy as np
import pytest

from landscape import cli, paths


@pytest.mark.parametrize("case,seed", [("theorem4", 1), ("theorem2.2", 1), ("theorem3", 1)])
def test_property_p_cli_writes_verified_report(tmp_path, case, seed, capsys):
    out = str(tmp_path / case)
    rc = cli.main(["property-p", "--case", case, "--seed", str(seed), "--n", "16", "--refine", "1", "--out", out])
    assert rc == 0
    assert "PASS" in capsys.readouterr().out
    summary = json.load(open(os.path.join(out, "report.json")))
    rep = paths.PathReport.load(os.path.join(out, "report.npz"))
    assert summary["passed"] and rep.passed and summary["case"] == case
    assert len(rep.labels) > 1  # odd seeds start degenerate: loss-invariant moves came first
    # the tolerances of paths.verify: rise ≤ 1e-9·max(L0, 1), end within 1e-8 of the infimum
    assert rep.max_increase <= 1e-9 * max(rep.losses[0], 1.0) and abs(rep.end_loss - rep.infimum) <= 1e-8
    np.testing.assert_allclose(summary["end_loss"], rep.end_loss, rtol=0, atol=0)
    with open(os.path.join(out, "loss_along_path.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_property_p_cli_rejects_unknown_case():
    with pytest.raises(SystemExit):
        cli.main(["property-p", "--case", "theorem7"])
