"""The comparison of a batched series with the one-at-a-time series (tests of nctheory.sweep.batched)."""

import math

import numpy as np


def gap(batched, alone) -> float:
    """``max |batched - alone| / max |alone|`` over a series: relative to the series' own scale
    (an entry-wise relative error means nothing for entries that pass through zero). NaN must sit
    at the same places and infinities must agree (else the gap is inf); a difference where every
    compared value is 0 is an infinite gap."""
    a, b = np.asarray(batched, dtype=float), np.asarray(alone, dtype=float)
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return math.inf
    finite = ~np.isnan(b)
    if not finite.any():
        return 0.0
    same_inf = np.isinf(b[finite]) & (a[finite] == b[finite])
    a, b = a[finite][~same_inf], b[finite][~same_inf]
    if not b.size:
        return 0.0
    diff, scale = np.abs(a - b).max(), np.abs(b).max()
    with np.errstate(over="ignore"):
        return 0.0 if diff == 0 else float(diff / (scale if scale > 0 else np.finfo(float).tiny))
