"""How a spec corresponds to an optimizer class users run, in both directions.

A spec lists the classes that implement it exactly (:class:`TorchClass`): the first is
what :func:`nctheory.pytorch.spec_optimizer.make_optimizer` builds, and every one of them
is recognised by :func:`nctheory.from_torch` on a live optimizer. The keyword translation
comes from the hyperparameter declarations (``lr``, ``weight_decay``; ``beta1`` and
``beta2`` as the items of ``betas``), and ``when`` pins the variant:

* a plain value is passed when building (``nesterov=True``) and required of a live
  optimizer's parameter group (a group without that key -- an older torch -- matches);
* a predicate (e.g. :data:`NONZERO`) is only required, e.g. ``momentum > 0`` for heavy
  ball, whose momentum comes from the hyperparameters.

Nothing here imports torch: a class is named by its import path and resolved when used,
so a reference library that is not installed simply matches nothing.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Condition:
    """A named predicate on a parameter-group value (named so that errors can say it)."""

    text: str
    test: Callable

    def __call__(self, value) -> bool:
        return bool(self.test(value))


NONZERO = Condition("> 0", lambda v: float(v) != 0)


@dataclass(frozen=True)
class TorchClass:
    """One optimizer class with exactly a spec's semantics.

    Attributes:
        path: import path of the class, e.g. ``"torch.optim.SGD"``.
        when: group key -> required value (also passed when building) or :class:`Condition`.
        attributes: optimizer attribute -> required value, for settings a library keeps on
            the object rather than in its groups (lion-pytorch's ``decoupled_wd``).
        requirement: the pip requirement that provides the class (for messages).
    """

    path: str
    when: dict = field(default_factory=dict)
    attributes: dict = field(default_factory=dict)
    requirement: str = ""

    @property
    def specificity(self) -> int:
        """How many conditions pin this mapping (``from_torch`` prefers the most specific)."""
        return len(self.when) + len(self.attributes)

    @property
    def label(self) -> str:
        conditions = ", ".join(f"{k}{' ' + v.text if isinstance(v, Condition) else '=' + repr(v)}"
                               for k, v in self.when.items())
        return f"{self.path}({conditions})" if conditions else self.path

    def resolve(self):
        """The class object, or None when its library is not installed."""
        module, _, name = self.path.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            return None

    def mismatches(self, optimizer, group: dict) -> list[str]:
        """Why ``optimizer`` (with this parameter ``group``) is not this class; [] if it is."""
        cls = self.resolve()
        if cls is None or type(optimizer) is not cls:
            return [f"not {self.path}"]
        out = [f"{name}={getattr(optimizer, name, None)!r} (needs {wanted!r})"
               for name, wanted in self.attributes.items() if getattr(optimizer, name, None) != wanted]
        for key, wanted in self.when.items():
            if key not in group:
                continue
            value = group[key]
            ok = wanted(value) if isinstance(wanted, Condition) else value == wanted
            if not ok:
                out.append(f"{key}={value!r} (needs {wanted.text if isinstance(wanted, Condition) else repr(wanted)})")
        return out

    def keywords(self, spec) -> dict:
        """The constructor's keyword arguments for ``spec`` (every hyperparameter set)."""
        values = spec.float_hp()
        kwargs, pairs = {}, {}
        for h in spec.hyperparameters:
            if h.integer:
                values[h.name] = int(values[h.name])
            if h.torch_index is None:
                kwargs[h.torch_name] = values[h.name]
            else:
                pairs.setdefault(h.torch_name, {})[h.torch_index] = values[h.name]
        for key, items in pairs.items():
            kwargs[key] = tuple(items[i] for i in sorted(items))
        accepted = inspect.signature(self.resolve()).parameters
        kwargs.update({k: v for k, v in self.when.items() if not isinstance(v, Condition) and k in accepted})
        return kwargs

    def build(self, spec, params):
        """An instance of this class over ``params`` running ``spec``."""
        cls = self.resolve()
        if cls is None:
            hint = f" (pip install {self.requirement})" if self.requirement else ""
            raise ImportError(f"{self.path} is not installed{hint}")
        return cls(params, **self.keywords(spec))


def hyperparameters_from_group(spec, group: dict) -> dict:
    """The spec's hyperparameters read from a live parameter group (absent ones omitted)."""
    values = {h.name: h.from_torch_group(group) for h in spec.hyperparameters}
    return {k: v for k, v in values.items() if v is not None}
