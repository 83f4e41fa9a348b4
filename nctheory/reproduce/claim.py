"""What a claim analyser returns: :class:`ClaimResult`, made of :class:`Finding` objects.

A claim of the paper is decided by its *findings* (sub-claims), each with a verdict from
:data:`VERDICTS`, a sentence stating the measured numbers, the thresholds applied and the
run ids behind it. The claim's verdict combines them (:func:`combine_verdicts`):
*contradicted* when any finding is contradicted (a claim is a conjunction: one part that
fails in our runs fails it), *supported* when every finding is supported, *inconclusive*
otherwise (a part could not be decided: the runs never reached the regime it speaks about).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nctheory.errors import NCTheoryError

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)


@dataclass
class Finding:
    """One sub-claim and how our runs decided it.

    Attributes:
        name: a short identifier ("nc0_rate", "flip[adaptive]", ...).
        verdict: one of :data:`VERDICTS`.
        statement: what is claimed, in one sentence.
        evidence: what was measured (numbers, thresholds, the regime), in sentences.
        run_ids: the runs it rests on.
        counts: whether the claim's verdict depends on it; False for an observation the
            theory makes no prediction about (reported, not combined).
    """

    name: str
    verdict: str
    statement: str
    evidence: str
    run_ids: list = field(default_factory=list)
    counts: bool = True

    def __post_init__(self):
        self.run_ids = list(dict.fromkeys(self.run_ids))
        if self.verdict not in VERDICTS:
            raise NCTheoryError(f"finding {self.name!r}: verdict must be one of {', '.join(VERDICTS)}, "
                                f"got {self.verdict!r}")


def combine_verdicts(verdicts) -> str:
    """Contradicted if any is, supported if all are (and there is at least one), else inconclusive."""
    verdicts = list(verdicts)
    for v in verdicts:
        if v not in VERDICTS:
            raise NCTheoryError(f"verdict must be one of {', '.join(VERDICTS)}, got {v!r}")
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    if verdicts and all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    return INCONCLUSIVE


@dataclass
class ClaimResult:
    """A claim, its verdict and everything behind it.

    Attributes:
        name: the claim's key ("coupling", "momentum", "sign_scaling", "necessity").
        title: the claim as the paper states it.
        findings: the sub-claims (:class:`Finding`); :attr:`verdict` combines them.
        regime: the measured regime of the runs (terminal phase, physical time, ...).
        thresholds: name -> (value, justification) of every threshold applied.
        table: rows (dicts with the same keys) of the claim's numbers, one per condition.
        figures: paths of the figures (PNG; a PDF of the same name sits next to each).
        experiments: the sweep specs it was measured on.
        derived: quantities derived from the specs that the figures and report quote
            (optimal momenta, thresholds, bounds).
    """

    name: str
    title: str
    findings: list = field(default_factory=list)
    regime: str = ""
    thresholds: dict = field(default_factory=dict)
    table: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    experiments: list = field(default_factory=list)
    derived: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return combine_verdicts(f.verdict for f in self.findings if f.counts)

    @property
    def run_ids(self) -> list:
        return sorted({r for f in self.findings for r in f.run_ids})

    def finding(self, name: str) -> Finding:
        for f in self.findings:
            if f.name == name:
                return f
        raise NCTheoryError(f"claim {self.name!r} has no finding {name!r}; it has "
                            f"{', '.join(f.name for f in self.findings) or 'none'}")
