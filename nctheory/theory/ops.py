"""Elementwise operations, one namespace per kind of value an update rule runs on; and the
package's one array-library dispatch.

An optimizer's update rule (``nctheory.theory.transforms``) is written once, with Python's
arithmetic operators and the few functions below. Run with :data:`SYMBOLIC` on sympy
scalars it yields the update as a formula (the symbolic engine and the LaTeX); run with
:func:`for_array` on numpy, cupy or torch arrays it is the numerical step of every backend.

Which library an array belongs to is decided here and nowhere else, by the
``array-api-compat`` package (the Data APIs consortium's shim that gives numpy, cupy and
torch one Array API namespace): :func:`array_namespace` for an array, :func:`namespace` for
a library named by a backend, :func:`library` for the name, :func:`to_numpy` for a host copy.
The UFM (:mod:`nctheory.runs.ufm`), the backends (:mod:`nctheory.runs.backends`) and the
metrics use these instead of inspecting types themselves. cupy is imported only when an
array is a cupy array or the cupy backend is asked for (array-api-compat checks
``sys.modules`` before importing it).
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace

import array_api_compat
import numpy as np
import sympy as sp

from nctheory.errors import NCTheoryError

#: The array libraries the numerical layer runs on.
LIBRARIES = ("numpy", "cupy", "torch")

SYMBOLIC = SimpleNamespace(
    name="sympy",
    sign=sp.sign,
    sqrt=sp.sqrt,
    zeros_like=lambda x: sp.Integer(0),
    copy=lambda x: x,
)


def array_namespace(*arrays):
    """The Array API namespace of the arrays' library (``array_api_compat.numpy``,
    ``.cupy`` or ``.torch``); the package's one dispatch on array types."""
    return array_api_compat.array_namespace(*arrays)


def library(x) -> str | None:
    """``"numpy"``, ``"cupy"`` or ``"torch"`` for an array of that library, else None
    (Python scalars, lists)."""
    try:
        xp = array_namespace(x)
    except TypeError:
        return None
    name = xp.__name__.rpartition(".")[2]
    return name if name in LIBRARIES else None


def namespace(name: str):
    """The Array API namespace of the library called ``name`` (one of :data:`LIBRARIES`);
    imports that library."""
    if name not in LIBRARIES:
        raise NCTheoryError(f"array library must be one of {', '.join(map(repr, LIBRARIES))}, got {name!r}")
    return import_module(f"array_api_compat.{name}")


def to_numpy(x) -> np.ndarray:
    """A numpy view or copy of ``x`` on the host: torch tensors are detached and moved to
    the CPU, cupy arrays copied from the device; anything else goes through ``np.asarray``."""
    which = library(x)
    if which == "torch":
        x = x.detach().cpu()
    elif which == "cupy":
        x = x.get()
    return np.asarray(x)


_FOR_NAMESPACE: dict = {}


def for_array(x) -> SimpleNamespace:
    """The update-rule namespace for arrays of the same library as ``x`` (numpy, cupy or
    torch): the Array API functions of :func:`array_namespace`, plus ``copy`` and ``name``.
    Python numbers and lists get numpy's.

    One namespace per library, built on first use (a step calls this once per parameter).
    """
    try:
        xp = array_namespace(x)
    except TypeError:
        xp = namespace("numpy")
    ops = _FOR_NAMESPACE.get(xp)
    if ops is None:
        ops = SimpleNamespace(name=xp.__name__.rpartition(".")[2], sign=xp.sign, sqrt=xp.sqrt,
                              zeros_like=xp.zeros_like, copy=lambda a: xp.asarray(a, copy=True))
        _FOR_NAMESPACE[xp] = ops
    return ops
