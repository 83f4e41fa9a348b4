"""Matrix optimizers (issue 9): Muon, Shampoo, SOAP -- their transforms, the derived family and
recurrence, the torch mapping in both directions, the verdict, and the bfloat16 floor model."""

import json
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
import torch

import nctheory
from nctheory.cli.check import main
from nctheory.errors import HyperparameterError, NCTheoryError
from nctheory.pytorch.spec_optimizer import SpecOptimizer, make_optimizer
from nctheory.theory import matrix_transforms as mt
from nctheory.theory import ops
from nctheory.theory import transforms as tf
from nctheory.theory.family import STEP_SIZE_SCALING, TRAJECTORY

ETA, LAM, MU = sp.Symbol("eta", positive=True), sp.Symbol("lambda", nonnegative=True), sp.Symbol("mu", nonnegative=True)


def centred(K, d, seed=0):
    G = np.random.default_rng(seed).normal(size=(K, d))
    return G - G.mean(axis=0)


# ----------------------------------------------------------------- transforms
@pytest.mark.parametrize("shape", [(5, 7), (7, 5)])
def test_newton_schulz_numpy_and_torch_agree_and_keep_zero_row_sums(shape):
    hp = {"ns_a": 3.4445, "ns_b": -4.775, "ns_c": 2.0315, "ns_steps": 5, "eps": 1e-7}
    G = centred(*shape)
    U_np, _ = mt.newton_schulz_orthogonalisation.update(G, None, {}, hp, ops.for_array(G))
    U_t, _ = mt.newton_schulz_orthogonalisation.update(torch.tensor(G), None, {}, hp, ops.for_array(torch.tensor(G)))
    np.testing.assert_allclose(U_np, U_t.numpy(), rtol=0, atol=1e-13)
    assert np.abs(U_np.sum(axis=0)).max() < 1e-12 * np.linalg.norm(U_np)
    assert U_np.shape == shape


def test_polar_factor_is_orthogonal_on_the_range_and_keeps_zero_row_sums():
    G = centred(5, 7)
    U, _ = mt.polar_factor.update(G, None, {}, {}, ops.for_array(G))
    s = np.linalg.svd(U, compute_uv=False)
    np.testing.assert_allclose(s[:4], 1.0, atol=1e-12)  # rank K - 1 = 4: 1_K spans the null direction
    assert s[4] < 1e-12 and np.abs(U.sum(axis=0)).max() < 1e-12


def test_on_row_sum_scalars_a_matrix_map_is_an_opaque_function():
    x = sp.Symbol("x")
    out, _ = mt.newton_schulz_orthogonalisation.update(x, None, {}, {}, ops.SYMBOLIC)
    assert out == mt.NS(x) and sp.diff(out, x) == 0


# ----------------------------------------------------------------- derived family and recurrence
def test_the_family_is_derived_from_the_chain():
    muon, coupled = nctheory.get_spec("muon"), nctheory.get_spec("muon_coupled")
    assert muon.family.name == "matrix_decoupled" and muon.family.exact_recurrence
    assert muon.family.protocol == TRAJECTORY and muon.is_linear
    assert coupled.family.name == "matrix_coupled" and not coupled.family.exact_recurrence
    assert coupled.family.protocol == STEP_SIZE_SCALING and coupled.nonlinear_theory()
    for name in ("shampoo", "soap"):
        assert nctheory.get_spec(name).family.exact_recurrence


def test_the_recurrences_are_derived():
    muon = nctheory.get_spec("muon")
    sub = {s: {"eta": ETA, "lambda": LAM, "mu": MU}[str(s)] for s in muon.recurrence().free_symbols}
    assert sp.expand(muon.recurrence().subs(sub) - sp.diag(1 - ETA * LAM, MU)) == sp.zeros(2, 2)
    assert nctheory.optimizer("muon", lr=0.02).excited_rate() == pytest.approx(0.998, abs=1e-15)
    soap = nctheory.optimizer("soap", lr=0.01, weight_decay=0.1)
    assert soap.recurrence() == sp.Matrix([[sp.Rational(999, 1000)]])
    assert soap.row_sum_dynamics().first_matrix == sp.Matrix([[1]])  # the library's first step moves nothing


def test_no_recurrence_with_an_elementwise_map_or_an_undeclared_matrix_map_or_coupled_decay():
    muon = nctheory.get_spec("muon")
    adam = replace(muon, name="x", chain=(mt.muon_momentum, tf.scale_by_adam, tf.add_decayed_weights,
                                          tf.scale_by_learning_rate),
                   hyperparameters=muon.hyperparameters + (nctheory.theory.hyperparams.BETA1,
                                                           nctheory.theory.hyperparams.BETA2))
    assert adam.family.kind == "adaptive" and not adam.is_linear

    class Undeclared(mt.NewtonSchulzOrthogonalisation):
        equivariance = None

    plain = replace(muon, name="y", chain=(mt.muon_momentum, Undeclared(), tf.add_decayed_weights,
                                           tf.scale_by_learning_rate))
    with pytest.raises(NCTheoryError, match="declares no left-orthogonal equivariance"):
        plain.recurrence()
    with pytest.raises(NCTheoryError, match="weights enter its argument directly"):
        nctheory.get_spec("muon_coupled").recurrence()


def test_hyperparameter_declarations_refuse_bad_values():
    with pytest.raises(HyperparameterError, match="ns_steps must be an integer"):
        nctheory.optimizer("muon", lr=0.02, ns_steps=2.5)
    with pytest.raises(HyperparameterError, match="lr \\* weight_decay"):
        nctheory.optimizer("muon", lr=20.0, weight_decay=0.1)


# ----------------------------------------------------------------- torch mapping
def _stepped(opt, p, steps=3):
    for k in range(steps):
        p.grad = torch.tensor(centred(*p.shape, seed=k))
        opt.step()
    return opt


def test_from_torch_reads_a_live_torch_muon_and_refuses_its_variants():
    p = torch.nn.Parameter(torch.tensor(centred(5, 7, seed=9)))
    opt = _stepped(torch.optim.Muon([p], lr=0.02, weight_decay=0.1, ns_steps=4), p)
    spec = nctheory.from_torch(opt, param=p)
    assert spec.name == "muon" and float(spec.values["ns_steps"]) == 4 and float(spec.values["lr"]) == 0.02
    assert np.abs(spec.initial_buffers).max() < 1e-14  # the buffer's row sums: gradients only
    with pytest.raises(NCTheoryError, match="nesterov"):
        nctheory.from_torch(torch.optim.Muon([p], lr=0.02, nesterov=False))
    with pytest.raises(NCTheoryError, match="adjust_lr_fn"):
        nctheory.from_torch(torch.optim.Muon([p], lr=0.02, adjust_lr_fn="match_rms_adamw"))


def test_from_torch_reads_pytorch_optimizer_shampoo_and_soap():
    pytest.importorskip("pytorch_optimizer")
    import pytorch_optimizer

    p = torch.nn.Parameter(torch.zeros(5, 7, dtype=torch.float64))
    shampoo = pytorch_optimizer.Shampoo([p], lr=0.01, weight_decay=0.1, weight_decouple=True)
    assert nctheory.from_torch(shampoo).name == "shampoo"
    with pytest.raises(NCTheoryError, match="weight_decouple"):
        nctheory.from_torch(pytorch_optimizer.Shampoo([p], lr=0.01, weight_decay=0.1))
    soap = pytorch_optimizer.SOAP([p], lr=3e-3)
    assert nctheory.from_torch(soap).name == "soap"


@pytest.mark.parametrize("name", ["muon", "muon_coupled", "shampoo", "soap"])
def test_reference_and_own_step_agree_on_centred_gradients(name):
    torch.set_default_dtype(torch.float64)
    try:
        spec = nctheory.optimizer(name, **nctheory.get_spec(name).example_values())
        out = []
        for make in (lambda ps: SpecOptimizer(ps, spec), lambda ps: make_optimizer(spec, ps)):
            p = torch.nn.Parameter(torch.tensor(centred(5, 7, seed=1)))
            out.append(_stepped(make([p]), p, steps=20) and p.detach().numpy().copy())
        np.testing.assert_allclose(out[0], out[1], rtol=0, atol=1e-12)
    finally:
        torch.set_default_dtype(torch.float32)


# ----------------------------------------------------------------- the check and its negative control
def test_check_muon_is_verified_and_a_wrong_decay_is_refuted(capsys):
    assert main(["muon", "--json", "--quiet"]) == 0
    d = json.loads(capsys.readouterr()[0])
    assert d["verdict"] == "verified" and d["max_rel_error"] < 1e-9
    assert main(["muon", "--json", "--quiet", "--theory", "muon:weight_decay=0.09"]) == 1
    assert json.loads(capsys.readouterr()[0])["verdict"] == "refuted"


# ----------------------------------------------------------------- the bfloat16 floor model
def test_the_phantom_model_predicts_torch_bfloat16_newton_schulz():
    from torch.optim._muon import _zeropower_via_newtonschulz

    from nctheory.theorems.bfloat16_floor import COEFFICIENTS, phantom_variance

    rng = np.random.default_rng(0)
    measured, predicted, wrong = [], [], []
    for k in range(40):
        M = rng.normal(size=(5, 20))
        M -= M.mean(axis=0)
        O = _zeropower_via_newtonschulz(torch.tensor(M), COEFFICIENTS, 5, 1e-7).double().numpy()
        measured.append(float(np.sum(O.sum(axis=0) ** 2)))
        if k < 5:
            predicted.append(phantom_variance(M, seed=k, draws=1000))
            wrong.append(phantom_variance(M, seed=k, draws=1000, amplify=False))
    ratio = np.mean(measured) / np.mean(predicted)
    assert 0.5 < ratio < 2.0  # measured 0.8 (mean square; 10% in the RMS)
    assert np.mean(measured) / np.mean(wrong) > 1e3
