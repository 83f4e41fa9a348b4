"""Is the spec's own update rule the optimizer users run? Lock-step against the reference.

The measurements of a check run on the spec's reference implementation (an optimizer the
package did not write), and the prediction of a linear theory comes from the spec's
chain; for sign-based and adaptive theories the prediction is qualitative, so a wrong
update rule in the spec (Lion's betas swapped, Adam's bias correction dropped) would pass
unseen. :func:`compare_with_reference` closes that gap: the spec's own step
(:class:`~nctheory.pytorch.spec_optimizer.SpecOptimizer`) and the reference run side by
side on the same random float64 parameters and an open-loop sequence of random gradients
(no training feedback that could amplify rounding), and must agree to float64 rounding.

Tolerance: each step of either implementation rounds every entry with a relative error of
a few ulps of the largest quantity it touches -- the weights, or the step ``eta d``; the
two differ by at most ``C eps S`` per step with ``S = max_t (|W_t| + eta |d_t| / (1 - mu))``
(a momentum buffer sums past steps with weights ``mu^k``, at most ``1 / (1 - mu)`` times one
step), and with open-loop gradients the differences add up over ``T`` steps, not multiply.
``C = 32`` covers the longest chain of operations here (NAdam: ~12 roundings per entry)
with a factor 2 to spare. A wrong rule or hyperparameter is off by ``O(eta)`` per step.
torch keeps scalar optimizer state (NAdam's momentum product) in the default dtype, so the
comparison runs under the float64 default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nctheory.pytorch.spec_optimizer import SpecOptimizer, implementation_name

STEPS = 60
SHAPE = (5, 7)
ROUNDINGS = 32
EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class RuleComparison:
    """The spec's rule against its reference: ``agrees`` is None when no reference ran."""

    reference: str | None
    steps: int
    max_error: float
    tolerance: float
    agrees: bool | None

    @property
    def sentence(self) -> str:
        if self.agrees is None:
            return "no reference implementation is installed: the spec's rule was not compared"
        relation = "<=" if self.agrees else ">"
        return (f"the spec's own update rule and {self.reference} agree over {self.steps} steps on random "
                f"parameters and gradients: max difference {self.max_error:.3g} {relation} the float64 "
                f"rounding bound {self.tolerance:.3g}" if self.agrees else
                f"the spec's own update rule differs from {self.reference}: over {self.steps} steps on random "
                f"parameters and gradients the max difference is {self.max_error:.3g} {relation} the float64 "
                f"rounding bound {self.tolerance:.3g}")


def _trajectory(make, w0, grads):
    p = torch.nn.Parameter(torch.tensor(w0))
    optimizer = make([p])
    out = []
    for g in grads:
        p.grad = torch.tensor(g)  # a fresh tensor: qhoptim adds the decay to the gradient in place
        optimizer.step()
        out.append(p.detach().numpy().copy())
    return np.array(out), optimizer


def compare_with_reference(spec, steps: int = STEPS, seed: int = 0) -> RuleComparison:
    """Lock-step comparison of ``spec.step`` with ``spec.reference_class`` (module docstring)."""
    reference = spec.reference_class
    if reference is None or reference.resolve() is None:
        return RuleComparison(None, steps, float("nan"), float("nan"), None)
    rng = np.random.default_rng(seed)
    w0, grads = rng.normal(size=SHAPE), rng.normal(size=(steps, *SHAPE))
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        ours, _ = _trajectory(lambda p: SpecOptimizer(p, spec), w0, grads)
        theirs, optimizer = _trajectory(lambda p: reference.build(spec, p), w0, grads)
    finally:
        torch.set_default_dtype(default)
    lr = float(spec.values["lr"])
    mu = max([0.0] + [float(spec.values[k]) for k in ("momentum", "beta1") if k in spec.values])
    moves = np.abs(np.diff(np.concatenate([w0[None], theirs]), axis=0))
    scale = float(np.abs(theirs).max() + moves.max() / (1 - mu) + lr)
    tolerance = steps * ROUNDINGS * EPS * scale
    error = float(np.abs(ours - theirs).max())
    agrees = bool(np.isfinite(error) and error <= tolerance)
    return RuleComparison(implementation_name(optimizer), steps, error, tolerance, agrees)
