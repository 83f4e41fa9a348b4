"""The evidence section: predicted against measured with verdicts (a wrong prediction is refuted),
and vector figures whose bytes do not depend on when they were made."""

import hashlib

import numpy as np
import pytest

import nctheory
from nctheory.errors import NCTheoryError
from nctheory.render.appendix_evidence import EvidenceRow, evidence_rows, evidence_section, evidence_table
from nctheory.render.appendix_figures import rate_figure, trajectory_figure


def test_quick_evidence_verifies_the_recurrences_and_refutes_the_control():
    rows = evidence_rows(seed=0, quick=True)
    controls = [r for r in rows if r.control]
    assert len(controls) == 1 and controls[0].verdict == "refuted"  # wrong weight decay: wrong predicted rate
    assert [r.verdict for r in rows if not r.control] == ["verified"] * (len(rows) - 1)
    for row in rows:
        if not row.control:  # the fit on the measured run equals the fit on the prediction
            assert row.predicted == row.measured, (row.optimizer, row.predicted, row.measured)
    assert controls[0].predicted != controls[0].measured
    table = evidence_table(rows)
    assert "refuted" in table and r"\label{tab:evidence}" in table and "(control)" in table


def test_table_shows_a_refuted_row_as_refuted():
    row = EvidenceRow("sgd", r"$\lr\wdecay = 0.05$", "rate", "$0.9$", "$0.95$", "$0.1$", "refuted", control=True)
    table = evidence_table([row])
    assert r"\texttt{sgd}\newline(control)" in table and "& refuted \\\\" in table


def test_bad_figure_directory_is_refused_before_any_run(tmp_path):
    with pytest.raises(NCTheoryError, match="not an existing directory"):
        evidence_section(tmp_path / "missing")
    with pytest.raises(NCTheoryError, match="seed"):
        evidence_section(tmp_path, seed=-1)


def test_figures_are_vector_pdfs_with_identical_bytes(tmp_path):
    steps = np.arange(50)
    curves = [("heavy ball", steps, 0.9 ** steps + 1e-3 * np.cos(steps), 0.9 ** steps)]
    spec = nctheory.optimizer("sgd_momentum", lr=0.05, weight_decay=1.0, dampening=0).without("momentum")
    digests = []
    for attempt in range(2):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        trajectory_figure(curves, folder / "trajectory.pdf")
        rate_figure([("heavy ball", spec, [(0.5, "$\\mu = 1/2$")])], 0.05, folder / "rate.pdf")
        digests.append([hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in ("trajectory.pdf", "rate.pdf")])
        data = (folder / "rate.pdf").read_bytes()
        assert data.startswith(b"%PDF") and b"CreationDate" not in data and b"/Subtype /Image" not in data  # no raster
    assert digests[0] == digests[1]
    with pytest.raises(NCTheoryError, match="pdf"):
        trajectory_figure(curves, tmp_path / "trajectory.png")
