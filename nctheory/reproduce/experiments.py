"""The claims of the paper, the experiments (sweep specs) behind each, and how they run.

Each claim has one analyser module (``analyse(results) -> ClaimResult`` and
``figures(claim, outdir) -> [png paths]``) and one sweep spec per variant under
``numerics/reproduce/``: ``NAME_quick.toml`` (CPU, minutes) and ``NAME_full.toml`` (the
documented full run). The necessity claim has no spec of its own: it reads every run of the
others (and of ``necessity_full.toml``, more architectures, in the full variant).

Execution goes through the sweep engine: :func:`nctheory.sweep.execute.run_sweep` into one
SQLite store shared by all experiments (runs are identified by content, so an experiment
that shares a run with another runs it once), then
:meth:`nctheory.sweep.store.ResultStore.results`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from nctheory.errors import NCTheoryError

#: The specs live in the repository, next to the other numerics.
SPEC_DIR = Path(__file__).resolve().parents[2] / "numerics" / "reproduce"
VARIANTS = ("quick", "full")


@dataclass(frozen=True)
class Claim:
    """A claim: its key, the analyser module and the experiments it reads."""

    name: str
    module: str
    experiments: tuple  # spec stems; () -> every experiment of the run

    def analyser(self):
        return importlib.import_module(f"nctheory.reproduce.{self.module}")


CLAIMS = {
    "coupling": Claim("coupling", "coupling", ("coupling", "coupling_images")),
    "momentum": Claim("momentum", "momentum", ("momentum",)),
    "sign_scaling": Claim("sign_scaling", "sign_scaling", ("sign_scaling",)),
    "necessity": Claim("necessity", "necessity", ()),
}
#: Experiments that only feed the necessity scatter (full variant).
EXTRA_EXPERIMENTS = {"full": ("necessity",), "quick": ()}


def check_claims(names) -> list:
    """The claims to run, in the canonical order; unknown names raise, naming them."""
    if not names:
        return list(CLAIMS)
    unknown = [n for n in names if n not in CLAIMS]
    if unknown:
        raise NCTheoryError(f"unknown claim(s) {', '.join(map(repr, unknown))}; known: {', '.join(CLAIMS)}")
    return [n for n in CLAIMS if n in names]


def experiments_for(claims, variant: str, spec_dir=None) -> list:
    """The spec stems the chosen claims need, each once, that exist in this variant."""
    if variant not in VARIANTS:
        raise NCTheoryError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    every = [e for c in CLAIMS.values() for e in c.experiments] + list(EXTRA_EXPERIMENTS[variant])
    chosen = []
    for name in claims:
        chosen += list(CLAIMS[name].experiments) or every
    folder = Path(spec_dir or SPEC_DIR)
    return [e for e in dict.fromkeys(chosen) if (folder / f"{e}_{variant}.toml").is_file()]


def spec_path(experiment: str, variant: str, spec_dir=None) -> Path:
    path = Path(spec_dir or SPEC_DIR) / f"{experiment}_{variant}.toml"
    if not path.is_file():
        raise NCTheoryError(f"no sweep spec {str(path)!r} for experiment {experiment!r} ({variant})")
    return path


def needs_data_root(experiment: str, variant: str, spec_dir=None) -> bool:
    """Whether the spec names a data set read from ``--data-root``."""
    text = spec_path(experiment, variant, spec_dir).read_text(encoding="utf-8")
    return any(f'"{name}"' in text for name in FILE_DATASETS)


def load_sweep(experiment: str, variant: str, data_root=None, spec_dir=None):
    """``(runs, name)`` of the experiment's spec, validated. A spec naming a data set read from
    a folder gets ``data_root`` as a top-level setting (the specs never hard-code a path)."""
    from nctheory.sweep.spec_toml import parse_toml

    path = spec_path(experiment, variant, spec_dir)
    text = path.read_text(encoding="utf-8")
    if needs_data_root(experiment, variant, spec_dir):
        if data_root is None:
            raise NCTheoryError(f"{path}: needs --data-root (a folder with the image sets)")
        text = f"data_root = {str(Path(data_root).resolve())!r}\n" + text  # line numbers shift by one
    sweep = parse_toml(text, source=str(path), default_name=path.stem)
    return sweep.runs(), sweep.name


#: Data sets read from ``--data-root`` (torchvision's layout; never downloaded).
FILE_DATASETS = ("mnist", "fashion_mnist", "cifar10")


def execute(runs, store_path, progress: bool = True):
    """Run ``runs`` into the store (resuming it: runs already done there are not redone);
    returns the :class:`~nctheory.sweep.execute.SweepSummary` (``skipped``: runs reused)."""
    from nctheory.sweep.execute import run_sweep

    return run_sweep(runs, store_path, resume=True, progress=progress)


def results_for(runs, store_path) -> list:
    """The stored results of ``runs`` (by run id), in the runs' order."""
    from nctheory.sweep.store import ResultStore

    wanted = {r.run_id for r in runs}
    with ResultStore(store_path, create=False) as store:
        found = {r.run_id: r for r in store.results() if r.run_id in wanted}
    return [found[r.run_id] for r in runs if r.run_id in found]
