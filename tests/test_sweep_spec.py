"""Sweep specifications (nctheory.sweep.spec, spec_toml, validate, groups): expansion order,
refusal of bad input with file, line and key, normal form, and which runs batch together."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nctheory.errors import NCTheoryError
from nctheory.sweep import Sweep, SweepRun, batch_key, load_spec, plan, product
from nctheory.sweep import zip as zip_
from nctheory.sweep.spec import SweepSpecError
from nctheory.sweep.spec_toml import key_lines, parse_toml

SWEEPS = Path(__file__).resolve().parents[1] / "numerics" / "sweeps"

BASE = """\
name = "t"
model = "ufm"
num_classes = 3
samples_per_class = 2
steps = 20
metrics = ["nc0", "loss"]

[[product]]
optimizer = ["sgd", "signgd"]
lr = [0.01, 0.1]
weight_decay = 5e-3
seed = [0, 1]

[[product]]
optimizer = "sgd_momentum"
lr = 0.05
seed = 7
[[product.zip]]
momentum = [0.5, 0.9]
dampening = [0.0, 0.1]
"""


def _line_of(text: str, fragment: str) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(lines) == 1, (fragment, lines)
    return lines[0]


def test_base_spec_expands_in_documented_order():
    runs = parse_toml(BASE, "t.toml").runs()
    assert len(runs) == 2 * 2 * 2 + 2
    head = [(r.optimizer, dict(r.hparams)["lr"], r.setting("seed")) for r in runs[:8]]
    # first axis slowest, as itertools.product
    assert head == [("sgd", 0.01, 0), ("sgd", 0.01, 1), ("sgd", 0.1, 0), ("sgd", 0.1, 1),
                    ("signgd", 0.01, 0), ("signgd", 0.01, 1), ("signgd", 0.1, 0), ("signgd", 0.1, 1)]
    pairs = [(dict(r.hparams)["momentum"], dict(r.hparams)["dampening"]) for r in runs[8:]]
    assert pairs == [(0.5, 0.0), (0.9, 0.1)]  # zipped, not crossed
    assert all(dict(r.config)["steps"] == 20 and r.metrics == ("nc0", "loss") for r in runs)


def test_python_api_equals_toml():
    sweep = Sweep(product(optimizer=["sgd", "signgd"], lr=[0.01, 0.1], weight_decay=5e-3, seed=[0, 1]),
                  product(zip_(momentum=[0.5, 0.9], dampening=[0.0, 0.1]), optimizer="sgd_momentum", lr=0.05, seed=7),
                  name="t", model="ufm", num_classes=3, samples_per_class=2, steps=20, metrics=["nc0", "loss"])
    assert [r.run_id for r in sweep.runs()] == [r.run_id for r in parse_toml(BASE).runs()]


# (mutation of BASE, the fragment on the line that must be named, the key, a phrase of the message)
BAD = [
    ("lr = [0.01, 0.1]", "lr = [0.01, -1]", "lr = [0.01, -1]", "lr", "outside the allowed range"),
    ("lr = 0.05", "lr = -1", "lr = -1", "lr", "outside the allowed range"),
    ('optimizer = "sgd_momentum"', 'optimizer = "nosuch"', 'optimizer = "nosuch"', "optimizer", "unknown optimizer"),
    ("seed = 7", "seed = 7\nmomentun = 0.9", "momentun", "momentun", "did you mean 'momentum'"),
    ("seed = [0, 1]", "seed = []", "seed = []", "seed", "empty"),
    ("dampening = [0.0, 0.1]", "dampening = [0.0]", "dampening = [0.0]", "dampening", "unequal lengths"),
    ("weight_decay = 5e-3", "weight_decay = 5e-3\nmomentum = 0.9", "momentum = 0.9", "momentum",
     "not a hyperparameter of optimizer 'sgd'"),
    ("steps = 20", "steps = 0", "steps = 0", "steps", "positive integer"),
    ('model = "ufm"', 'model = "ufm"\nwidth = 8', "width = 8", "width", "not apply"),
    ('metrics = ["nc0", "loss"]', 'metrics = ["nc9"]', 'metrics = ["nc9"]', "metrics", "metrics must be"),
    ("seed = 7", "seed = 7\nbatch_size = 100", "batch_size = 100", "batch_size", "exceeds the 6 training samples"),
    ("steps = 20", 'steps = 20\ndtype = "float16"', 'dtype = "float16"', "dtype", "dtype"),
    ("momentum = [0.5, 0.9]", "momentum = [0.5, 1.0]", "momentum = [0.5, 1.0]", "momentum", "outside"),
    ("seed = 7", "seed = { range = [3] }", "seed = { range", "seed", "range needs"),
    ("lr = 0.05", "lr = true", "lr = true", "lr", "must be a real number"),
    ("steps = 20", "steps = 20\nlr = [0.1, 0.2]", "lr = [0.1, 0.2]", "lr", "belongs in a product"),
    ("seed = 7", "seed = 7\nsteps = 5", "steps = 5", "steps", "set twice"),
    ("seed = 7", "seed = 7\ntheory = \"nosuch\"", 'theory = "nosuch"', "theory", "unknown optimizer"),
    ("lr = 0.05", "lr = = 0.05", "lr = = 0.05", None, "not valid TOML"),
    ("dampening = [0.0, 0.1]\n", "dampening = [0.0, 0.1]\n[fixed]\nsteps = 3\n", "[fixed]", "fixed", "not a section"),
]


def test_base_spec_is_accepted():
    """The negative control of the refusals below: every refusal is due to its mutation."""
    assert len(parse_toml(BASE, "spec.toml").runs()) == 10


@pytest.mark.parametrize("old, new, fragment, key, phrase", BAD)
def test_bad_input_is_refused_with_line_and_key(old, new, fragment, key, phrase):
    assert old in BASE
    text = BASE.replace(old, new, 1)
    with pytest.raises(SweepSpecError) as caught:
        parse_toml(text, "spec.toml").runs()
    error = caught.value
    assert error.line == _line_of(text, fragment), str(error)
    assert error.key == key, str(error)
    assert phrase in str(error)
    assert str(error).startswith(f"spec.toml, line {error.line}")
    assert isinstance(error, NCTheoryError)


def test_missing_hyperparameter_names_the_optimizer_line():
    text = BASE.replace("[[product.zip]]\nmomentum = [0.5, 0.9]\ndampening = [0.0, 0.1]\n", "")
    with pytest.raises(SweepSpecError, match="needs values for momentum") as caught:
        parse_toml(text, "spec.toml").runs()
    assert caught.value.line == _line_of(text, 'optimizer = "sgd_momentum"') and caught.value.key == "optimizer"
    # negative control: the same block with momentum set is accepted
    assert len(parse_toml(text.replace("seed = 7", "seed = 7\nmomentum = 0.9")).runs()) == 9


def test_normal_form_one_computation_one_run():
    """weight_decay absent, 0 and 0.0 are one run (library default written out); lr 1 and 1.0 too."""
    sweep = Sweep(product(optimizer="sgd", lr=[1, 1.0], seed=0), product(optimizer="sgd", lr=1.0, weight_decay=0),
                  product(optimizer="sgd", lr=1.0, weight_decay=0.0), model="ufm", steps=5)
    runs = sweep.runs()
    assert len(runs) == 1 and sweep.duplicates == 3
    assert dict(runs[0].hparams) == {"lr": 1.0, "weight_decay": 0.0}
    # negative control: a different value is a different run
    other = Sweep(product(optimizer="sgd", lr=1.0, weight_decay=1e-3), model="ufm", steps=5).runs()[0]
    assert other.run_id != runs[0].run_id


def test_generators_and_user_spec_path():
    text = ('model = "ufm"\nsteps = 3\n[[product]]\noptimizer = "nctheory.optimizers.sgd:SPEC"\n'
            "lr = { geomspace = [1e-3, 1e-1, 3] }\nseed = { range = [0, 4, 2] }\n")
    runs = parse_toml(text).runs()
    assert [dict(r.hparams)["lr"] for r in runs[::2]] == pytest.approx([1e-3, 1e-2, 1e-1], rel=1e-12)
    assert [r.setting("seed") for r in runs[:2]] == [0, 2]
    assert runs[0].spec is not None  # the imported spec travels with the run
    with pytest.raises(SweepSpecError, match="cannot import") as caught:
        parse_toml(text.replace(":SPEC", ":NOPE")).runs()
    assert caught.value.line == 4


def test_key_lines_skip_strings_and_multiline_arrays():
    text = ('description = """\nlr = 5\n"""\nseed = [\n  1,\n  2,\n]\n[[product]]\n'
            "optimizer = 'x' # lr = 3\n[[product.zip]]\nlr = [1]\n[[product]]\nlr = 2\n")
    keys, headers = key_lines(text)
    assert keys[((), "seed")] == 4
    assert keys[(("product", 0, "zip", 0), "lr")] == 11
    assert keys[(("product", 1), "lr")] == 13
    assert headers[("product", 1)] == 12
    # negative control: the "lr = 5" inside the multi-line string is not a key of the top level
    assert ((), "lr") not in keys


def test_example_specs_validate():
    counts = {path.name: len(load_spec(path).runs()) for path in sorted(SWEEPS.glob("*.toml"))}
    assert counts == {"digits_mlp.toml": 12, "ufm_grid.toml": 60, "zip_example.toml": 12}


def test_batch_key_ignores_values_not_shapes():
    base = {"model": "ufm", "num_classes": 3, "samples_per_class": 2, "steps": 10}
    a = SweepRun.make("sgd", {"lr": 0.1, "weight_decay": 0.0}, {**base, "seed": 0})
    b = SweepRun.make("sgd", {"lr": 0.01, "weight_decay": 1e-3}, {**base, "seed": 5}, metrics=["nc0"])
    assert batch_key(a) == batch_key(b)
    for changed in ({"steps": 11}, {"dtype": "float32"}, {"dim": 4}, {"batch_size": 2}, {"loss": "mse"}):
        c = SweepRun.make("sgd", {"lr": 0.1, "weight_decay": 0.0}, {**base, "seed": 0, **changed})
        assert batch_key(c) != batch_key(a), changed
    d = SweepRun.make("signgd", {"lr": 0.1, "weight_decay": 0.0}, {**base, "seed": 0})
    assert batch_key(d) != batch_key(a)
    auto = SweepRun.make("sgd", {"lr": 0.1, "weight_decay": 0.0}, {**base, "backend": "torch", "device": "cpu"})
    assert batch_key(auto) == batch_key(a)  # "auto" resolved: the same program on this CPU machine


def test_plan_splits_groups_deterministically():
    runs = parse_toml(BASE).runs()
    batches = plan(runs, max_batch=3)
    assert [len(b) for b in batches] == [2, 2, 2, 2, 2]  # groups of 4, 4, 2; near-equal parts of <= 3
    assert [r for b in batches for r in b] == runs  # every run once, in sweep order
    for batch in batches:
        assert len({batch_key(r) for r in batch}) == 1
    assert [len(b) for b in plan(runs, max_batch=None, min_batches=5)] == [2, 2, 2, 2, 2]
    assert len(plan(runs, max_batch=None, min_batches=100)) == len(runs)  # at most one batch per run
    assert plan(runs, max_batch=None) == plan(list(runs), max_batch=None)
    with pytest.raises(NCTheoryError, match="max_batch"):
        plan(runs, max_batch=0)


def test_python_api_refusals_name_the_key():
    with pytest.raises(SweepSpecError, match=r"key 'momentum' in product #1: .*not a hyperparameter"):
        Sweep(product(optimizer="sgd", lr=0.1, momentum=0.9), model="ufm").runs()
    with pytest.raises(SweepSpecError, match="no optimizer"):
        Sweep(product(lr=[0.1]), model="ufm").runs()
    with pytest.raises(SweepSpecError, match="key 'lr' in zip #1 of product #2: zip of unequal lengths"):
        Sweep(product(optimizer="sgd", lr=0.1), product(zip_(weight_decay=[0.0], lr=[0.1, 0.2]), optimizer="sgd"),
              model="ufm").runs()
    assert re.search(r"\bruns\b", Sweep.runs.__doc__)


def test_user_specs_and_name_collisions():
    from dataclasses import replace

    from nctheory.optimizers import REGISTRY

    mine = replace(REGISTRY["signgd"], name="my_sign")
    runs = Sweep(product(optimizer=[mine, "sgd"], lr=0.1), model="ufm", steps=3).runs()
    assert [r.optimizer for r in runs] == ["my_sign", "sgd"] and runs[0].spec is mine and runs[1].spec is None
    # results are stored by name: a different update rule under a registered name is refused
    with pytest.raises(SweepSpecError, match="two different optimizers are named 'sgd'"):
        Sweep(product(optimizer=replace(REGISTRY["signgd"], name="sgd"), lr=0.1), model="ufm").runs()
    with pytest.raises(SweepSpecError, match="more than 1,000,000 runs"):
        Sweep(product(optimizer="sgd", lr=0.1, seed=range(2000), weight_decay=[0.0] * 1000), model="ufm").runs()
