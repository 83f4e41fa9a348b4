"""Runs carry their spec object and a typed configuration; a prediction is made once.

* :class:`RunConfig` validates on construction and ``run_training``'s keywords build one;
* a record keeps the spec it ran, so a spec that is not registered (a renamed copy) is
  trained and judged exactly like the original, and a saved record gets its spec back;
* the verdict is a pure function of (records, predictions), and the command line's exit
  statuses live with the command line.
"""

import dataclasses
import json

import numpy as np
import pytest
import torch

import nctheory
from nctheory.cli.exit_codes import EXIT_CODES, exit_code
from nctheory.errors import NCTheoryError
from nctheory.optimizers import get_spec
from nctheory.render.report import render_prediction, render_verdict
from nctheory.runs.training import RunConfig, load_record, run, run_training, save_record
from nctheory.theory import ops
from nctheory.verdict import VERDICTS, Prediction, check_record, judge, predict_runs, predict_theory

HB = dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=5e-3)


def renamed(name: str, new_name: str, **hparams):
    """A spec that is not registered: the same chain under another name, with values."""
    return dataclasses.replace(get_spec(name), name=new_name).with_hparams(**hparams)


def _same_up_to_names(a, b, old, new):
    """JSON of two verdicts equal once the copy's name is replaced by the original's."""
    return json.loads(json.dumps(b.to_dict()).replace(new, old)) == a.to_dict()


# ---------------------------------------------------------------------- unregistered specs
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_renamed_copy_is_trained_and_judged_like_the_original(backend):
    config = RunConfig(backend=backend, device="cpu" if backend == "torch" else "auto", steps=50, record_every=10)
    original = nctheory.optimizer("sgd_momentum", **HB)
    copy = renamed("sgd_momentum", "my_copy", **HB)
    a, b = run(original, config), run(copy, config)
    assert b.spec is copy and b.optimizer == "my_copy" and a.spec is original
    np.testing.assert_array_equal(a.row_sums, b.row_sums)
    va, vb = check_record(a), check_record(b)
    assert va.verdict == vb.verdict == "verified"
    assert (vb.predicted_rate, vb.measured_rate, vb.max_rel_error, vb.tolerance) == (
        va.predicted_rate, va.measured_rate, va.max_rel_error, va.tolerance)
    assert vb.name == vb.theory == "my_copy" and vb.details == va.details
    assert _same_up_to_names(va, vb, "sgd_momentum", "my_copy")
    # a negative control named by the copy's own (unregistered) name
    ca, cb = check_record(a, theory="sgd_momentum:momentum=0.8"), check_record(b, theory="my_copy:momentum=0.8")
    assert ca.verdict == cb.verdict == "refuted" and cb.max_rel_error == ca.max_rel_error
    assert render_prediction(copy).replace("my_copy", "sgd_momentum") == render_prediction(original)
    assert render_verdict(vb).replace("my_copy", "sgd_momentum") == render_verdict(va)


def test_a_renamed_sign_method_is_judged_like_the_original():
    hp = dict(lr=1e-2, weight_decay=0.5)
    copy = renamed("signgd_decoupled", "my_sign", **hp)
    config = RunConfig(backend="numpy", steps=300, record_every=30)
    runs = {name: [run(spec.with_hparams(lr=hp["lr"] / f), config.replace(steps=300 * f, record_every=30 * f))
                   for f in (1, 3, 9)]
            for name, spec in (("signgd_decoupled", nctheory.optimizer("signgd_decoupled", **hp)), ("my_sign", copy))}
    va, vb = (nctheory.verdict.check_records(runs[n]) for n in ("signgd_decoupled", "my_sign"))
    assert va.verdict == vb.verdict and _same_up_to_names(va, vb, "signgd_decoupled", "my_sign")


# ---------------------------------------------------------------------- saved records keep their spec
def test_a_loaded_record_gets_its_spec_back(tmp_path):
    r = run_training("qhm", dict(lr=0.1, momentum=0.9, nu=0.7, weight_decay=1e-2), backend="numpy", steps=20)
    save_record(r, tmp_path / "qhm")
    meta = json.loads((tmp_path / "qhm.json").read_text())
    assert meta["spec"] == {"name": "qhm", "registered": True,
                            "values": {"lr": "1/10", "momentum": "9/10", "nu": "7/10", "weight_decay": "1/100"}}
    back = load_record(tmp_path / "qhm")
    assert back.spec.name == "qhm" and back.spec.values == r.spec.values and back.spec.chain == r.spec.chain
    assert check_record(back).to_dict() == check_record(r).to_dict()
    # a record written before records carried their spec: rebuilt from the name and hparams
    del meta["spec"]
    (tmp_path / "qhm.json").write_text(json.dumps(meta))
    assert load_record(tmp_path / "qhm").spec.values == r.spec.values


def test_an_unregistered_spec_is_not_rebuilt_from_a_file(tmp_path):
    copy = renamed("sgd", "my_sgd", lr=0.1, weight_decay=1e-2)
    r = run(copy, RunConfig(backend="numpy", steps=20))
    save_record(r, tmp_path / "copy")
    back = load_record(tmp_path / "copy")
    assert back.spec is None and back.optimizer == "my_sgd"
    with pytest.raises(NCTheoryError, match="not a registered optimizer: judge the record against an explicit"):
        check_record(back)
    assert check_record(back, theory=copy).to_dict() == check_record(r).to_dict()


# ---------------------------------------------------------------------- the typed configuration
def test_run_config_is_frozen_validated_and_normalised():
    config = RunConfig(loss="label_smoothing", steps=10)
    assert (config.loss, config.label_smoothing) == ("label_smoothing", 0.1)
    assert RunConfig(label_smoothing=0.2).loss == "label_smoothing"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.steps = 3
    assert config.replace(steps=20).steps == 20 and config.steps == 10
    with pytest.raises(NCTheoryError, match="model must be one of 'ufm', 'mlp'"):
        RunConfig(model="transformer")
    with pytest.raises(NCTheoryError, match="steps must be a positive integer"):
        config.replace(steps=0)
    with pytest.raises(NCTheoryError, match="prefer_torch must be True or False"):
        RunConfig(prefer_torch="yes")
    with pytest.raises(NCTheoryError, match="num_threads must be a positive integer or None"):
        RunConfig(num_threads=0)
    with pytest.raises(NCTheoryError, match="dim must be a positive integer or None"):
        RunConfig(dim=-1)
    with pytest.raises(NCTheoryError, match="lr_schedule must be None, a sequence"):
        RunConfig(lr_schedule="cosine")
    with pytest.raises(NCTheoryError, match="config must be a RunConfig"):
        run(nctheory.optimizer("sgd", lr=0.1), {"steps": 3})
    with pytest.raises(TypeError, match="stpes"):
        run_training("sgd", dict(lr=0.1), stpes=3)


def test_run_training_is_run_with_a_config():
    kw = dict(backend="numpy", steps=30, seed=2, batch_size=10, record_every=10)
    a = run_training("sgd_momentum", HB, **kw)
    b = run(nctheory.optimizer("sgd_momentum", **HB), RunConfig(**kw))
    np.testing.assert_array_equal(a.row_sums, b.row_sums)
    assert a.spec.values == b.spec.values and a.hparams == b.hparams


# ---------------------------------------------------------------------- one prediction
def test_judging_is_a_function_of_records_and_predictions():
    r = run_training("sgd_momentum", HB, backend="numpy", steps=60, record_every=20)
    predictions = predict_runs([r])
    p = predictions[0]
    assert isinstance(p, Prediction) and p.spec.values == r.spec.values and p.rate == r.spec.rate()
    np.testing.assert_array_equal(p.row_sums, r.spec.predict(r.row_sums[0], 60))
    assert judge([r], predictions).to_dict() == check_record(r).to_dict()
    # a prediction made before the run (as the command line shows it) is bound, not recomputed
    before = predict_theory(r.spec)
    assert before.row_sums is None
    assert check_record(r, theory=before).to_dict() == check_record(r).to_dict()
    with pytest.raises(NCTheoryError, match="one Prediction per record"):
        judge([r, r], predictions)


# ---------------------------------------------------------------------- the command line's concerns
def test_every_verdict_has_an_exit_status():
    assert set(EXIT_CODES) == set(VERDICTS)
    assert [exit_code(v) for v in VERDICTS] == [0, 1, 3, 3]
    assert not hasattr(nctheory.verdict.Verdict, "exit_code")


def test_one_array_library_dispatch():
    x, t = np.ones(3), torch.ones(3, dtype=torch.float64)
    assert (ops.library(x), ops.library(t), ops.library([1.0]), ops.library(2.0)) == ("numpy", "torch", None, None)
    assert ops.array_namespace(x) is ops.namespace("numpy") and ops.array_namespace(t) is ops.namespace("torch")
    assert ops.for_array(x).name == "numpy" and ops.for_array(t).name == "torch" and ops.for_array(2.0).name == "numpy"
    copied = ops.for_array(t).copy(t)
    assert copied is not t and torch.equal(copied, t)
    np.testing.assert_array_equal(ops.to_numpy(t), x)
    with pytest.raises(NCTheoryError, match="array library must be one of 'numpy', 'cupy', 'torch'"):
        ops.namespace("jax")
