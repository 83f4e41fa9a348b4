"""Importing torchvision where its compiled operators do not load.

A torchvision wheel built for another torch (a CUDA wheel beside the CPU torch) fails at
import with ``RuntimeError: operator torchvision::nms does not exist``. Its models and data
sets are pure Python and need none of those operators, so :func:`import_torchvision`
registers the installed package without them (its ``__init__`` is skipped).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import site
import sys


def import_torchvision() -> bool:
    """Make ``import torchvision.models`` / ``torchvision.datasets`` work; False when
    torchvision is not installed."""
    try:
        import torchvision  # noqa: F401

        return True
    except ImportError:
        return False
    except (RuntimeError, OSError):
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        for base in site.getsitepackages():
            path = os.path.join(base, "torchvision")
            if os.path.isdir(path):
                spec = importlib.machinery.ModuleSpec("torchvision", None, is_package=True)
                module = importlib.util.module_from_spec(spec)
                module.__path__, module.__file__ = [path], os.path.join(path, "__init__.py")
                sys.modules["torchvision"] = module
                return True
        return False
