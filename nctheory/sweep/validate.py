"""Validation of a sweep's expanded runs, before anything runs (:meth:`Sweep.runs`).

Each expanded point (a dict of run keys and where each was set) becomes a
:class:`~nctheory.sweep.run_spec.SweepRun` only if

* its keys are known: ``optimizer``, ``metrics``, ``theory``, a sweepable RunConfig field, or
  a hyperparameter *declared by that run's optimizer* (a hyperparameter of another optimizer
  is named as such; anything else as an unknown key, with the closest known name);
* the optimizer resolves (registry name or ``package.module:ATTR``) and every hyperparameter
  passes its declaration's interval and the spec's constraints, with none left unset;
* the RunConfig builds (its own checks, including whether backend and device exist here), a
  batch size fits the data generated here (UFM, Gaussian mixture) and the theory parses.

Errors of the library are attributed to the key they name first (whole words), else to the
optimizer (or model) key, so that the message carries that key's file and line.

Normal form, so that one computation is one run (one ``run_id``) and the store's rows are
complete: the optimizer's library defaults are written out, hyperparameters are floats (ints
when declared integer), and every sweepable RunConfig setting is written out as RunConfig
normalises it (defaults included; ``"auto"`` stays ``"auto"``, resolved only when run).
"""

from __future__ import annotations

import difflib
import re

from nctheory.errors import NCTheoryError
from nctheory.sweep.run_spec import METRICS, SweepRun, config_fields
from nctheory.sweep.spec import SPECIAL_KEYS, Origin, SweepSpecError


def _mentioned(message: str, keys) -> str | None:
    """The key named first in an error message (whole words), or None."""
    best = None
    for key in keys:
        match = re.search(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])", message)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), key)
    return best[1] if best else None


def _known_hyperparameters() -> set:
    from nctheory.optimizers import REGISTRY

    return {name for spec in REGISTRY.values() for name in spec.hyperparameter_names}


class Validator:
    """Builds SweepRuns from expanded points, caching the checks of repeated parts."""

    def __init__(self, source):
        self.source = source
        self.config_keys = set(config_fields())
        self.known_hp = _known_hyperparameters()
        self.specs, self.spec_checked, self.config_checked, self.rules = {}, set(), {}, {}

    def fail(self, message, origins, key=None, fallback="optimizer"):
        origin = origins.get(key) or origins.get(fallback) or Origin(None, "the sweep", self.source)
        raise SweepSpecError(message, origin)

    def optimizer(self, value, origins):
        from nctheory.theory.spec import OptimizerSpec

        if isinstance(value, OptimizerSpec):
            spec = value
        elif not isinstance(value, str) or not value:
            self.fail(f"optimizer must be a registry name, 'package.module:ATTR' or an OptimizerSpec, got {value!r}",
                      origins, "optimizer")
        else:
            if value not in self.specs:
                self.specs[value] = _resolve_optimizer(value, lambda m: self.fail(m, origins, "optimizer"))
            spec = self.specs[value]
        self._check_name(spec, origins)
        return spec

    def _check_name(self, spec, origins) -> None:
        """A run's identity holds its optimizer's *name*: two different update rules may not share
        one (a user's spec named like a registered one, or two user specs of one name)."""
        from nctheory.optimizers import REGISTRY

        rule = (spec.chain, spec.hyperparameters, spec.constraints)
        known = self.rules.setdefault(spec.name, rule)
        registered = REGISTRY.get(spec.name)
        if known != rule or (registered is not None and rule != (registered.chain, registered.hyperparameters,
                                                                 registered.constraints)):
            self.fail(f"two different optimizers are named {spec.name!r} (a user's spec named like a registered one, "
                      f"or two specs of one name); results are stored by name, so give yours its own name "
                      f"(dataclasses.replace(spec, name=...))", origins, "optimizer")

    def run(self, values: dict, origins: dict) -> SweepRun:
        if "optimizer" not in values:
            keys = ", ".join(values) or "none"
            raise SweepSpecError(f"no optimizer: set optimizer in the sweep's settings or in every block "
                                 f"(this run sets {keys})", next(iter(origins.values()), None)
                                 or Origin(None, "the sweep", self.source))
        spec = self.optimizer(values["optimizer"], origins)
        declared = set(spec.hyperparameter_names)
        hparams, config = {}, {}
        for key, value in values.items():
            if key in SPECIAL_KEYS:
                continue
            if key in self.config_keys:
                config[key] = value
            elif key in declared:
                hparams[key] = value
            elif key in self.known_hp:
                self.fail(f"{key} is not a hyperparameter of optimizer {spec.name!r}, which declares "
                          f"{', '.join(spec.hyperparameter_names)}", origins, key)
            else:
                allowed = sorted(set(SPECIAL_KEYS) | self.config_keys | self.known_hp | declared)
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.fail(f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}", origins, key)
        keys = list(values)
        # the library defaults written out: a run's identity and its stored row name every
        # hyperparameter, so weight_decay=0 given or left to its default is the same run
        hparams = {**{k: v for k, v in spec.default_values().items() if k not in hparams}, **hparams}
        hparams = {k: _number(spec, k, v) for k, v in hparams.items()}  # 0 and 0.0 are one run
        try:
            chosen = spec.name if _is_registry(values["optimizer"]) else spec  # a user's spec travels with the run
            run = SweepRun.make(chosen, hparams, config, values.get("metrics", METRICS), values.get("theory"))
        except NCTheoryError as error:
            self.fail(str(error), origins, _mentioned(str(error), keys))
        self._check_spec(run, origins, keys)
        config = self._check_config(run, origins, keys)
        if config != run.config:  # every setting written out, as RunConfig normalises it
            run = SweepRun.make(chosen, dict(run.hparams), dict(config), run.metrics, run.theory)
        return run

    def _check_spec(self, run, origins, keys):
        ident = (run.optimizer, id(run.spec), run.hparams)
        if ident in self.spec_checked:
            return
        try:
            run.to_spec().require_values()
        except NCTheoryError as error:
            self.fail(str(error), origins, _mentioned(str(error), [k for k in keys if k != "optimizer"]))
        if run.theory is not None:
            try:
                _check_theory(run)
            except NCTheoryError as error:
                self.fail(str(error), origins, "theory")
        self.spec_checked.add(ident)

    def _check_config(self, run, origins, keys) -> tuple:
        if run.config in self.config_checked:
            return self.config_checked[run.config]
        try:
            config = run.to_run_config()
        except NCTheoryError as error:
            self.fail(str(error), origins, _mentioned(str(error), keys), fallback="model")
        samples = _known_samples(config)
        if config.batch_size is not None and samples is not None and config.batch_size > samples:
            self.fail(f"batch_size={config.batch_size} exceeds the {samples} training samples of this "
                      f"{config.model} run", origins, "batch_size")
        normal = tuple(sorted((name, getattr(config, name)) for name in self.config_keys))
        self.config_checked[run.config] = normal
        return normal


def _number(spec, name: str, value):
    """A hyperparameter value as float (int for an integer-valued one); others unchanged, for
    the declaration's own check to refuse."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    integer = any(h.integer for h in spec.hyperparameters if h.name == name)
    return int(value) if integer and float(value).is_integer() else float(value)


def _is_registry(name) -> bool:
    from nctheory.optimizers import REGISTRY

    return isinstance(name, str) and name in REGISTRY


def _resolve_optimizer(value: str, fail):
    """The spec of a registry name or of ``package.module:ATTR``."""
    from importlib import import_module

    from nctheory.optimizers import REGISTRY
    from nctheory.theory.spec import OptimizerSpec

    if value in REGISTRY:
        return REGISTRY[value]
    if ":" not in value:
        close = difflib.get_close_matches(value, list(REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        fail(f"unknown optimizer {value!r}{hint}; registered: {', '.join(REGISTRY)}, or 'package.module:ATTR' "
             f"for your own OptimizerSpec")
    module, _, attr = value.partition(":")
    try:
        spec = getattr(import_module(module), attr)
    except (ImportError, AttributeError) as error:
        fail(f"cannot import optimizer {value!r}: {error}")
    if not isinstance(spec, OptimizerSpec):
        fail(f"{value!r} is a {type(spec).__name__}, not an OptimizerSpec")
    return spec


def _check_theory(run) -> None:
    """The theory string parses and names a theory (as the check's ``--theory`` does)."""
    from nctheory.verdict.theory import judged_spec

    judged_spec(run.theory, run.to_spec())


def _known_samples(config) -> int | None:
    """Training samples of a run whose data are generated here (UFM, Gaussian mixture), else None."""
    if config.model == "ufm":
        sizes = config.ufm_sizes()
        return sizes["num_classes"] * sizes["samples_per_class"]
    dataset = config.dataset_name() if hasattr(config, "dataset_name") else None
    if config.model == "gaussian_mlp" or dataset == "gaussian":
        sizes = config.gaussian_sizes()
        return sizes["num_classes"] * sizes["samples_per_class"]
    return None
