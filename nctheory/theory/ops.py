"""Elementwise operations, one namespace per kind of value an update rule runs on.

An optimizer's update rule (``nctheory.theory.transforms``) is written once, with Python's
arithmetic operators and the few functions below. Run with :data:`SYMBOLIC` on sympy
scalars it yields the update as a formula (the symbolic engine and the LaTeX); run with
:func:`for_array` on numpy, cupy or torch arrays it is the numerical step of every backend.
"""

from __future__ import annotations

from types import SimpleNamespace

import sympy as sp

SYMBOLIC = SimpleNamespace(
    name="sympy",
    sign=sp.sign,
    sqrt=sp.sqrt,
    zeros_like=lambda x: sp.Integer(0),
    copy=lambda x: x,
)


def for_array(x) -> SimpleNamespace:
    """The namespace for arrays of the same library as ``x`` (numpy, cupy or torch)."""
    module = type(x).__module__.split(".")[0]
    if module == "torch":
        import torch

        return SimpleNamespace(name="torch", sign=torch.sign, sqrt=torch.sqrt,
                               zeros_like=torch.zeros_like, copy=torch.clone)
    if module == "cupy":
        import cupy

        return SimpleNamespace(name="cupy", sign=cupy.sign, sqrt=cupy.sqrt,
                               zeros_like=cupy.zeros_like, copy=cupy.copy)
    import numpy

    return SimpleNamespace(name="numpy", sign=numpy.sign, sqrt=numpy.sqrt,
                           zeros_like=numpy.zeros_like, copy=numpy.copy)
