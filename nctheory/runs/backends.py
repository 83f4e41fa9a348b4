"""Where a training run executes: array library, device and floating-point type.

``resolve_backend(backend, device, dtype, model)`` turns the user's request into a
:class:`Backend`, or raises :class:`~nctheory.errors.NCTheoryError` naming the argument:

* ``backend``: ``"auto"`` (torch), ``"torch"``, ``"numpy"`` or ``"cupy"``. numpy and cupy
  run only the unconstrained features model (:mod:`nctheory.runs.ufm`), whose gradients are
  analytic; networks need torch's autograd.
* ``device``: ``"auto"`` (CUDA when torch sees a GPU, else CPU), ``"cpu"`` or ``"cuda"``.
  numpy is CPU-only and cupy CUDA-only.
* ``dtype``: ``"float64"`` (the default for verification runs; THEORY.md section 5) or
  ``"float32"``.

Asking for CUDA or cupy on a machine without a GPU is an error ("no CUDA device is
available: ..."), never a silent fall-back: a run that claims to test the GPU must run on it.
cupy is imported only when it is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.theory import ops

BACKENDS = ("auto", "torch", "numpy", "cupy")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float64", "float32")
UFM_ONLY = ("numpy", "cupy")


def cuda_available() -> bool:
    """Whether torch sees a CUDA device."""
    import torch

    return bool(torch.cuda.is_available())


def cupy_available() -> bool:
    """Whether cupy imports and sees at least one CUDA device (imports cupy)."""
    try:
        import cupy
    except Exception:  # not installed, or a broken CUDA install
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@dataclass(frozen=True)
class Backend:
    """A resolved execution target.

    Attributes:
        name: "torch", "numpy" or "cupy".
        device: "cpu" or "cuda".
        dtype: "float64" or "float32".
    """

    name: str
    device: str
    dtype: str

    @property
    def torch_dtype(self):
        import torch

        return torch.float64 if self.dtype == "float64" else torch.float32

    @property
    def torch_device(self):
        import torch

        return torch.device(self.device)

    @property
    def numpy_dtype(self):
        return np.float64 if self.dtype == "float64" else np.float32

    @property
    def xp(self):
        """The Array API namespace of a numpy / cupy backend
        (:func:`nctheory.theory.ops.namespace`; imports cupy for cupy)."""
        if self.name not in UFM_ONLY:
            raise NCTheoryError(f"backend {self.name!r} has no array module (it is torch)")
        return ops.namespace(self.name)

    @property
    def label(self) -> str:
        return f"{self.name}-{self.device}" if self.name == "torch" else self.name


def _choice(value, allowed, argument):
    if not isinstance(value, str) or value not in allowed:
        raise NCTheoryError(f"{argument} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def resolve_backend(backend: str = "auto", device: str = "auto", dtype: str = "float64",
                    model: str = "ufm") -> Backend:
    """The :class:`Backend` for a request; raises NCTheoryError naming the bad argument.

    ``auto`` means torch, on CUDA when available else on CPU. numpy and cupy are allowed
    only for ``model="ufm"``.
    """
    _choice(backend, BACKENDS, "backend")
    _choice(device, DEVICES, "device")
    _choice(dtype, DTYPES, "dtype")
    if backend == "auto":
        backend = "torch"
    if backend in UFM_ONLY and model != "ufm":
        raise NCTheoryError(
            f"backend={backend!r} runs only the unconstrained features model (model='ufm'); "
            f"model={model!r} needs backend='torch' (autograd)")
    if backend == "numpy":
        if device == "cuda":
            raise NCTheoryError("device='cuda' is not possible with backend='numpy' (CPU only); "
                                "use backend='cupy' or backend='torch'")
        return Backend("numpy", "cpu", dtype)
    if backend == "cupy":
        if device == "cpu":
            raise NCTheoryError("device='cpu' is not possible with backend='cupy' (CUDA only); "
                                "use backend='numpy'")
        if not cupy_available():
            raise NCTheoryError(
                "no CUDA device is available: backend='cupy' needs cupy (pip install "
                "'nctheory[gpu]') and a CUDA GPU; use backend='numpy' or 'torch' on this machine")
        return Backend("cupy", "cuda", dtype)
    if device == "auto":
        device = "cuda" if cuda_available() else "cpu"
    elif device == "cuda" and not cuda_available():
        raise NCTheoryError(
            "no CUDA device is available: device='cuda' needs a GPU visible to torch "
            "(torch.cuda.is_available() is False); use device='cpu' or 'auto'")
    return Backend("torch", device, dtype)


def available_backends() -> list[Backend]:
    """Every backend usable here for the UFM in float64 (numpy, torch-cpu, then GPU ones)."""
    out = [Backend("numpy", "cpu", "float64"), Backend("torch", "cpu", "float64")]
    if cuda_available():
        out.append(Backend("torch", "cuda", "float64"))
    if cupy_available():
        out.append(Backend("cupy", "cuda", "float64"))
    return out
