"""The gallery (docs/examples/): ordinary training scripts, each run through the tracker with
the verdict the theory supports (issue 8). Small sizes here (tens to a few hundred steps, tiny
models); the scripts' own defaults are longer.

| script | what it exercises | verdict |
|---|---|---|
| 01 | MLP, SGD + momentum, StepLR, DataLoader minibatches, float32 | verified |
| 02 | CNN with a 1x1 Conv2d head + global average pooling, Nesterov, warm-up from 0 and cosine to 0 | verified |
| 03 | torchvision ResNet-18 (num_classes=10), batch norm, random 16x16 images | verified |
| 04 | bare nn.Parameter head after a hidden 64x64 layer, OneCycleLR (cycled momentum), label smoothing | verified |
| 05 | two parameter groups, an unused projection declared after the head | verified |
| 06 | bfloat16 autocast, float32 weights | inconclusive (rounding); a wrong momentum refuted |
| 07 | Adam, weight decay 5e-4 (issue 8's false refutation) | inconclusive, with the steps still needed |
| 08 | AdamW, full batch | verified; an SGD run judged as AdamW refuted (test 10) |
| 09 | MSE loss | refuted (Lemma 1 fails) |
| 10 | long float32 run decaying into rounding noise | verified |
"""

import importlib.util
import sys
from pathlib import Path

import pytest
from _loops import one_thread

from nctheory.runs.architectures.torchvision_import import import_torchvision

GALLERY = Path(__file__).resolve().parent.parent / "docs" / "examples"


def _torchvision_models():
    """Make ``from torchvision.models import resnet18`` work (see
    :func:`nctheory.runs.architectures.torchvision_import.import_torchvision`)."""
    return import_torchvision()


def load(name):
    if str(GALLERY) not in sys.path:
        sys.path.insert(0, str(GALLERY))
    path = next(GALLERY.glob(f"{name}_*.py"))
    spec = importlib.util.spec_from_file_location(f"gallery_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name, **kwargs):
    with one_thread():
        return load(name).main(quiet=True, **kwargs)


def test_the_gallery_has_at_least_eight_scripts_each_tested():
    scripts = sorted(p.name for p in GALLERY.glob("[0-9][0-9]_*.py"))
    assert len(scripts) >= 8
    tested = {name.split("_")[0] for name in scripts}
    assert tested == {f"{i:02d}" for i in range(1, 11)}


def test_01_mlp_sgd_steplr_float32():
    tr = run("01", steps=150)
    v = tr.verdict()
    assert v.verdict == "verified", v.reasons
    assert tr.classifier == "4.weight (10, 64)" and v.details["dtype"] == "float32"
    assert tr.verdict(theory="sgd_momentum:momentum=0.8").verdict == "refuted"


def test_02_conv_head_warmup_from_zero_and_cosine_to_zero():
    tr = run("02", steps=120)
    record = tr.to_record()
    assert record.learning_rates[0] == 0.0 and record.learning_rates[-1] == 0.0  # through lr = 0
    v = tr.verdict()
    assert v.verdict == "verified", v.reasons
    assert tr.classifier == "head.weight (10, 32, 1, 1)" and "head.weight" in tr.report()
    assert tr.verdict(theory="sgd_momentum").verdict == "refuted"  # heavy ball is not Nesterov


def test_03_torchvision_resnet18():
    if not _torchvision_models():
        pytest.skip("torchvision is not installed")
    tr = run("03", steps=20)
    v = tr.verdict()
    assert v.verdict == "verified", v.reasons
    assert tr.classifier == "fc.weight (10, 512)"


def test_04_bare_parameter_head_with_one_cycle_momentum():
    tr = run("04", steps=100)
    v = tr.verdict()
    assert v.verdict == "verified", v.reasons
    assert tr.classifier == "W (10, 64)" and "momentum" in tr.to_record().schedules


def test_05_two_groups_and_an_unused_projection():
    tr = run("05", steps=100)
    v = tr.verdict()
    assert v.verdict == "verified", v.reasons
    assert tr.classifier == "head.weight (10, 48)"
    assert v.hparams["weight_decay"] == pytest.approx(1e-3) and v.hparams["lr"] == pytest.approx(0.1)


def test_06_bfloat16_autocast_is_inconclusive_but_still_refutes_a_wrong_theory():
    tr = run("06", steps=60)
    v = tr.verdict()
    assert v.verdict == "inconclusive" and v.details["compute_dtype"] == "bfloat16", v.reasons
    assert tr.verdict(theory="sgd_momentum:momentum=0.8").verdict == "refuted"


def test_07_adam_outside_its_regime_is_inconclusive_with_the_steps_needed():
    tr = run("07", steps=300)
    v = tr.verdict()
    assert v.verdict == "inconclusive"
    assert v.details["decay_exposure"][0] == pytest.approx(300 * 1e-3 * 5e-4)
    assert v.details["steps_more"][0] > 100_000
    assert any("more steps" in r for r in v.reasons)


def test_08_adamw_persists():
    tr = run("08", steps=250, record_every=50)
    v = tr.verdict()
    assert v.verdict == "verified", v.reasons
    assert v.details["decay_exposure"][0] >= 0.1 and v.details["physical_time"][0] >= 2


def test_09_mse_is_refuted_by_lemma_1():
    v = run("09", steps=40).verdict()
    assert v.verdict == "refuted" and any("Lemma 1 fails for the mse loss" in r for r in v.reasons)


def test_10_long_float32_run_is_verified_and_refutes_adamw():
    tr = run("10", steps=1000)
    v = tr.verdict()
    assert v.verdict == "verified", v.reasons
    assert v.details["first_unresolvable_step"] is not None  # its tail is rounding noise
    assert v.details["max_error_over_floor"] < 1
    assert tr.verdict(theory="adamw").verdict == "refuted"  # negative control, in AdamW's regime
