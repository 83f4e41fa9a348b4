"""Vectorised rate, stability and acceleration maps over hyperparameter grids.

The exact objects of :mod:`nctheory.theory.symbolic.analysis` are compiled once with
``sympy.lambdify`` and evaluated on numpy arrays: the coefficients of the characteristic
polynomial give the rate (roots in closed form for degree <= 2, batched eigenvalues of
the companion matrix otherwise), and the Schur-Cohn inequalities give the stability and
acceleration regions as boolean arrays, without solving anything per point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from nctheory.errors import NCTheoryError
from nctheory.theory.symbolic.analysis import acceleration_conditions, stability_conditions
from nctheory.theory.symbolic.rowsum import X, row_sum_dynamics


@dataclass(frozen=True)
class RegionMap:
    """Arrays over a broadcast grid: ``rate`` (spectral radius), ``stable`` (rate < 1),
    ``accelerates`` (rate < 1 - eta lambda, for 0 < eta lambda < 1)."""

    grid: dict
    rate: np.ndarray
    stable: np.ndarray
    accelerates: np.ndarray


_COMPILED: dict = {}


def _compiled(spec, free: tuple):
    """lambdified charpoly coefficients and region inequalities, memoised per spec and axes."""
    key = (spec.name, spec.chain, tuple(sorted((k, v) for k, v in spec.values.items() if k not in free)), free)
    if key not in _COMPILED:
        _COMPILED[key] = _compile(spec.without(*free), free)
    return _COMPILED[key]


def _compile(spec, free: tuple):
    symbols = [spec.symbols()[n] for n in free]
    coeffs = sp.Poly(row_sum_dynamics(spec).charpoly(X), X).all_coeffs()
    coefficient_fn = sp.lambdify(symbols, coeffs, "numpy")
    stable_fn = sp.lambdify(symbols, list(stability_conditions(spec).inequalities), "numpy")
    accel_fn = sp.lambdify(symbols, list(acceleration_conditions(spec).inequalities), "numpy")
    a = (spec.symbols()["lr"] * spec.symbols()["weight_decay"]).subs(spec.substitution())
    a_fn = sp.lambdify(symbols, a, "numpy")
    return coefficient_fn, stable_fn, accel_fn, a_fn


def spectral_radius(coefficients: list, shape) -> np.ndarray:
    """Largest root modulus of monic-normalised polynomials, elementwise over arrays."""
    coefficients = [np.broadcast_to(np.asarray(c, dtype=np.float64), shape) for c in coefficients]
    lead = coefficients[0]
    normed = [c / lead for c in coefficients[1:]]
    degree = len(normed)
    if degree == 1:
        return np.abs(normed[0])
    if degree == 2:
        b, c = normed
        root = np.sqrt(b.astype(np.complex128) ** 2 - 4 * c)
        return np.maximum(np.abs((-b + root) / 2), np.abs((-b - root) / 2))
    companion = np.zeros(shape + (degree, degree))
    companion[..., 0, :] = -np.stack(normed, axis=-1)
    companion[..., np.arange(1, degree), np.arange(degree - 1)] = 1.0
    return np.abs(np.linalg.eigvals(companion)).max(axis=-1)


def region_map(spec, **grids) -> RegionMap:
    """Evaluate rate, stability and acceleration on a grid of hyperparameters.

    ``grids`` maps hyperparameter names (torch's) to arrays that broadcast together;
    every other hyperparameter must be set on ``spec``. Example::

        mu, lr = np.meshgrid(np.linspace(0, 0.999, 1000), np.linspace(1e-3, 1, 1000))
        heavy_ball = nctheory.optimizers.sgd_momentum.SPEC
        region_map(heavy_ball.with_hparams(weight_decay=0.5, dampening=0), momentum=mu, lr=lr)
    """
    unknown = sorted(set(grids) - set(spec.hyperparameter_names))
    if unknown:
        raise NCTheoryError(f"{spec.name}: cannot map over {', '.join(unknown)}; "
                            f"hyperparameters are {', '.join(spec.hyperparameter_names)}")
    free = tuple(sorted(grids))
    missing = [n for n in spec.hyperparameter_names if n not in grids and n not in spec.values]
    if missing:
        spec.require_values(*missing)
    arrays = [np.asarray(grids[n], dtype=np.float64) for n in free]
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    coefficient_fn, stable_fn, accel_fn, a_fn = _compiled(spec, free)
    rate = spectral_radius(coefficient_fn(*arrays), shape)
    stable = _all_positive(stable_fn(*arrays), shape)
    a = np.broadcast_to(np.asarray(a_fn(*arrays), dtype=np.float64), shape)
    accelerates = _all_positive(accel_fn(*arrays), shape) & (a > 0) & (a < 1)
    return RegionMap({n: grids[n] for n in free}, rate, stable, accelerates)


def _all_positive(values, shape) -> np.ndarray:
    out = np.ones(shape, dtype=bool)
    for v in values:
        out &= np.broadcast_to(np.asarray(v, dtype=np.float64), shape) > 0
    return out
