"""Sweep specifications: which runs a sweep makes, in Python and in TOML (:mod:`.spec_toml`).

A sweep is the union of *blocks*; a block is

* ``product(*blocks, **axes)`` -- the Cartesian product of its axes (a list of values is an
  axis, a single value is an axis of length one) and of its child blocks, the first axis
  varying slowest as in :func:`itertools.product` (own keys before child blocks);
* ``zip(**axes)`` -- equal-length lists advanced together (``lr`` paired with ``momentum``).

A block's keys are *run keys*: ``optimizer`` (a registry name, ``"package.module:ATTR"`` of a
user's :class:`~nctheory.theory.spec.OptimizerSpec`, or the spec object), ``metrics``
(a subset of :data:`~nctheory.sweep.run_spec.METRICS`; a list of lists is an axis),
``theory``, the fields of :class:`~nctheory.runs.training.config.RunConfig` a sweep may set
(:func:`~nctheory.sweep.run_spec.config_fields`: model, steps, seed, loss, sizes, ...) and the
hyperparameters the run's optimizer declares (torch names). ``Sweep(*blocks, **settings)``
adds settings shared by every run (a key may be set in one place per run only).

Expansion (:meth:`Sweep.runs`) is deterministic and validates every run *before anything
runs*: unknown keys (with the closest known name), values outside a hyperparameter's declared
interval or a spec's constraints, a hyperparameter the optimizer does not declare or needs and
lacks, RunConfig's own checks, empty lists and zips of unequal lengths. Every refusal is a
:class:`SweepSpecError` naming the key and, for TOML, the file and line. Runs equal in content
(same :attr:`~nctheory.sweep.run_spec.SweepRun.run_id`) are kept once.
"""

from __future__ import annotations

import builtins
import itertools
from dataclasses import dataclass

from nctheory.errors import NCTheoryError
from nctheory.sweep.run_spec import SweepRun

#: Run keys that are neither RunConfig fields nor hyperparameters.
SPECIAL_KEYS = ("optimizer", "metrics", "theory")
#: The most runs one sweep may expand to (a guard against a mistyped range).
MAX_RUNS = 1_000_000


class SweepSpecError(NCTheoryError):
    """A sweep specification that cannot run; ``source``, ``line`` and ``key`` say where."""

    def __init__(self, message: str, origin: Origin | None = None):
        self.origin = origin
        self.source = origin.source if origin else None
        self.line = origin.line if origin else None
        self.key = origin.key if origin else None
        self.detail = message
        super().__init__(f"{origin.where()}: {message}" if origin else message)


@dataclass(frozen=True)
class Origin:
    """Where a value was set: the file and line (TOML), the key and the block."""

    key: str | None
    block: str
    source: str | None = None
    line: int | None = None

    def where(self) -> str:
        parts = [p for p in (self.source, f"line {self.line}" if self.line else None) if p]
        parts.append(f"key {self.key!r} in {self.block}" if self.key else self.block)
        return ", ".join(parts)


def _is_axis(key: str, value) -> bool:
    """A list of values (``metrics``: a list of lists; a list of names is one value)."""
    if isinstance(value, range):
        return True
    if not isinstance(value, (list, tuple)):
        return hasattr(value, "tolist") and getattr(value, "ndim", 0) == 1  # a numpy array
    if key == "metrics":
        return bool(value) and all(isinstance(v, (list, tuple)) for v in value)
    return True


def _values(value) -> list:
    return list(value.tolist() if hasattr(value, "tolist") else value)


class Block:
    """A product or zip of axes; :meth:`points` lists its ``(values, origins)`` dicts."""

    kind = "block"

    def __init__(self, axes: dict, children=(), origins=None, label=None):
        self.axes = dict(axes)
        self.children = list(children)
        self.origins = dict(origins or {})
        self.label = label or f"{self.kind}(...)"
        for child in self.children:
            if not isinstance(child, Block):
                raise NCTheoryError(f"{self.label}: positional arguments must be product(...) or zip(...) blocks, "
                                    f"got {type(child).__name__}")
        for key in self.axes:
            self.origins.setdefault(key, Origin(key, self.label))

    def relabel(self, label: str) -> None:
        """Name a Python block by its place (``product #2``, ``zip #1 of product #2``)."""
        old, self.label = self.label, label
        self.origins = {k: (Origin(k, label) if o.block == old and o.line is None else o) for k, o in self.origins.items()}
        for j, child in enumerate(self.children, 1):
            if child.label == f"{child.kind}(...)":
                child.relabel(f"{child.kind} #{j} of {label}")

    def origin(self, key) -> Origin:
        return self.origins[key]

    def keys(self) -> list[str]:
        out = list(self.axes)
        for child in self.children:
            out.extend(child.keys())
        return out

    def check(self) -> None:
        """Structure: no key twice, no empty list, zips of equal lengths."""
        seen = {}
        for key, origin in self._all_origins():
            if key in seen:
                raise SweepSpecError(f"{key!r} is set twice in one run (also at {seen[key].where()})", origin)
            seen[key] = origin
        for key, value in self.axes.items():
            if _is_axis(key, value) and not _values(value):
                raise SweepSpecError(f"{key} = [] is empty, so the {self.kind} (and the sweep) would have no runs",
                                     self.origin(key))
        for child in self.children:
            child.check()

    def _all_origins(self):
        for key in self.axes:
            yield key, self.origin(key)
        for child in self.children:
            yield from child._all_origins()

    def points(self) -> list:
        raise NotImplementedError

    def size(self) -> int:
        """The number of points, without expanding them (the longest list for a zip)."""
        out = 1
        for key, value in self.axes.items():
            out *= len(_values(value)) if _is_axis(key, value) else 1
        if isinstance(self, Zip):
            return max([len(_values(v)) for k, v in self.axes.items() if _is_axis(k, v)] or [1])
        for child in self.children:
            out *= child.size()
        return out


class Product(Block):
    """The Cartesian product of axes and child blocks (see the module docstring)."""

    kind = "product"

    def points(self) -> list:
        factors = []
        for key, value in self.axes.items():
            values = _values(value) if _is_axis(key, value) else [value]
            factors.append([({key: v}, {key: self.origin(key)}) for v in values])
        factors.extend(child.points() for child in self.children)
        out = []
        for combo in itertools.product(*factors):
            values, origins = {}, {}
            for v, o in combo:
                values.update(v)
                origins.update(o)
            out.append((values, origins))
        return out


class Zip(Block):
    """Equal-length lists advanced together."""

    kind = "zip"

    def check(self) -> None:
        super().check()
        if self.children:
            raise SweepSpecError("a zip takes lists of values only, not blocks", Origin(None, self.label))
        lengths = {}
        for key, value in self.axes.items():
            if not _is_axis(key, value):
                raise SweepSpecError(f"every key of a zip needs a list of values; {key} = {value!r} is one value "
                                     f"(set it outside the zip)", self.origin(key))
            lengths[key] = len(_values(value))
        if len(set(lengths.values())) > 1:
            first = next(iter(lengths))
            odd = next(k for k, n in lengths.items() if n != lengths[first])
            raise SweepSpecError(f"zip of unequal lengths: {odd} has {lengths[odd]} values, {first} has "
                                 f"{lengths[first]} ({', '.join(f'{k}: {n}' for k, n in lengths.items())})",
                                 self.origin(odd))

    def points(self) -> list:
        columns = [_values(v) for v in self.axes.values()]
        keys = list(self.axes)
        origins = {k: self.origin(k) for k in keys}
        return [(dict(builtins.zip(keys, row)), dict(origins)) for row in builtins.zip(*columns)]


def product(*blocks, **axes) -> Product:
    """A product block: ``product(optimizer=[...], lr=[0.1, 0.01], seed=range(3), zip(...))``."""
    return Product(axes, blocks)


def zip(**axes) -> Zip:  # the sweep vocabulary; builtins.zip is used inside this module
    """A zip block: ``zip(lr=[0.1, 0.03], momentum=[0.5, 0.9])`` makes two runs."""
    return Zip(axes)


class Sweep:
    """A set of runs: the union of ``blocks`` with ``settings`` shared by every run.

    Args:
        *blocks: :func:`product` / :func:`zip` blocks, expanded in order; none: the single run
            of ``settings``.
        name: the sweep's name (the default store is ``NAME.sqlite``).
        **settings: run keys with one value each (``model="ufm"``, ``steps=300``,
            ``metrics=[...]``).
    """

    def __init__(self, *blocks, name: str = "sweep", description: str = "", source: str | None = None,
                 setting_origins: dict | None = None, **settings):
        if not isinstance(name, str) or not name:
            raise NCTheoryError(f"name must be a non-empty string, got {name!r}")
        self.name, self.description, self.source = name, description, source
        self.blocks = list(blocks)
        self.settings = dict(settings)
        self.setting_origins = {k: (setting_origins or {}).get(k) or Origin(k, "the sweep's settings", source)
                                for k in self.settings}
        for i, block in enumerate(self.blocks):
            if not isinstance(block, Block):
                raise NCTheoryError(f"Sweep: block {i + 1} must be product(...) or zip(...), got {type(block).__name__}")
            if block.label == f"{block.kind}(...)":
                block.relabel(f"{block.kind} #{i + 1}")
        for key, value in self.settings.items():
            if _is_axis(key, value):
                raise SweepSpecError(f"{key} has several values; an axis belongs in a product or zip block",
                                     self.setting_origins[key])
        self._runs = None
        self.duplicates = 0

    # ------------------------------------------------------------------ expansion
    def points(self) -> list:
        """``(values, origins)`` of every run before validation, in order."""
        blocks = self.blocks or [Product({}, label="the sweep's settings")]
        total = 0
        for block in blocks:
            total += block.size()
            if total > MAX_RUNS:
                raise SweepSpecError(f"the sweep would have more than {MAX_RUNS:,} runs (at least {total:,}); "
                                     f"split it into several sweeps", Origin(None, block.label, self.source))
        out = []
        for block in blocks:
            block.check()
            for key, origin in block._all_origins():
                if key in self.settings:
                    raise SweepSpecError(f"{key!r} is set twice in one run (also at "
                                         f"{self.setting_origins[key].where()})", origin)
            for values, origins in block.points():
                out.append(({**self.settings, **values}, {**self.setting_origins, **origins}))
        return out

    def runs(self) -> list[SweepRun]:
        """The validated runs, in order, each once (cached)."""
        if self._runs is None:
            from nctheory.sweep.validate import Validator

            validator = Validator(self.source)
            runs, seen, points = [], set(), self.points()
            for values, origins in points:
                run = validator.run(values, origins)
                if run.run_id not in seen:
                    seen.add(run.run_id)
                    runs.append(run)
            if not runs:
                raise SweepSpecError("the sweep has no runs", Origin(None, "the sweep", self.source))
            self.duplicates = len(points) - len(runs)
            self._runs = runs
        return self._runs

    def __len__(self) -> int:
        return len(self.runs())

    def __iter__(self):
        return iter(self.runs())

    def __repr__(self) -> str:
        return f"Sweep({self.name!r}, {len(self.blocks)} block(s))"


def load_spec(path) -> Sweep:
    """The :class:`Sweep` of a TOML file (:mod:`nctheory.sweep.spec_toml`)."""
    from nctheory.sweep.spec_toml import load_toml

    return load_toml(path)
