"""SpecOptimizer (any spec as a torch optimizer) and make_optimizer (torch.optim where it exists)."""

import numpy as np
import pytest
import torch

import nctheory
from nctheory.errors import HyperparameterError, MissingHyperparameterError, NCTheoryError
from nctheory.runs.models import MLP
from nctheory.pytorch.spec_optimizer import SpecOptimizer, make_optimizer

HP = {
    "sgd": dict(lr=0.1, weight_decay=5e-3),
    "sgd_momentum": dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=5e-3),
    "sgd_nesterov": dict(lr=0.1, momentum=0.9, weight_decay=5e-3),
    "adam": dict(lr=1e-3, betas=(0.8, 0.99), eps=1e-8, weight_decay=5e-2),
    "adamw": dict(lr=1e-3, betas=(0.8, 0.99), eps=1e-8, weight_decay=5e-2),
    "sgdw_momentum": dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=5e-3),
    "qhm": dict(lr=0.1, momentum=0.9, nu=0.7, weight_decay=5e-3),
    "signgd": dict(lr=1e-2, weight_decay=5e-2),
    "signgd_decoupled": dict(lr=1e-2, weight_decay=5e-2),
    "lion": dict(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.5),
}
STEPS = 50


def _data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(128, 12, generator=g, dtype=torch.float64)
    y = torch.arange(128) % 4
    return X, y


def trajectory(optimizer_factory, steps=STEPS):
    """All parameters after every step of minibatch training of a small float64 MLP."""
    X, y = _data()
    torch.manual_seed(0)
    model = MLP(12, 4, width=16, dtype=torch.float64)
    opt = optimizer_factory(model.parameters())
    rng = np.random.default_rng(0)
    out = []
    for _ in range(steps):
        idx = torch.as_tensor(rng.choice(128, 32, replace=False))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X[idx]), y[idx], label_smoothing=0.1).backward()
        opt.step()
        out.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    return torch.stack(out), opt, model


def rel_error(a, b):
    return float(((a - b).norm(dim=1) / b.norm(dim=1)).max())


@pytest.mark.parametrize("name", ["sgd", "sgd_momentum", "sgd_nesterov"])
def test_spec_optimizer_equals_torch_sgd(name):
    """Same trajectory as torch.optim.SGD in float64 over 50 minibatch steps.

    The two implementations differ only in how they round: torch fuses ``a + alpha*b``
    (one rounding, possibly an FMA) where the spec rounds the product and the sum
    separately, i.e. at most a few ulps per step and operation. Measured ~2e-16; the bound
    1e-15 leaves a factor ~4 and is still ~10^9 times smaller than the effect of changing a
    hyperparameter in its second digit (negative control below).
    """
    spec = nctheory.optimizer(name, **HP[name])
    ref, torch_opt, _ = trajectory(lambda p: make_optimizer(spec, p, prefer_torch=True))
    ours, spec_opt, _ = trajectory(lambda p: SpecOptimizer(p, spec))
    assert type(torch_opt) is torch.optim.SGD and type(spec_opt) is SpecOptimizer
    assert rel_error(ours, ref) <= 1e-15


def test_spec_optimizer_negative_control_wrong_momentum():
    ref, _, _ = trajectory(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.3, weight_decay=5e-3))
    wrong = nctheory.optimizer("sgd_momentum", **{**HP["sgd_momentum"], "momentum": 0.89})
    ours, _, _ = trajectory(lambda p: SpecOptimizer(p, wrong))
    assert rel_error(ours, ref) > 1e-4


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_spec_optimizer_equals_torch_adam(name):
    """Adam / AdamW: a longer chain per step (square root, division, bias corrections);
    measured ~7e-16, bound 1e-14 (STEPS x a few ulps would be ~5e-14 in the worst case)."""
    spec = nctheory.optimizer(name, **HP[name])
    ref, torch_opt, _ = trajectory(lambda p: make_optimizer(spec, p))
    ours, _, _ = trajectory(lambda p: SpecOptimizer(p, spec))
    assert type(torch_opt).__name__ == {"adam": "Adam", "adamw": "AdamW"}[name]
    assert rel_error(ours, ref) <= 1e-14


def test_make_optimizer_maps_hyperparameters_exactly():
    p = [torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))]
    sgd = make_optimizer(nctheory.optimizer("sgd", **HP["sgd"]), p)
    assert type(sgd) is torch.optim.SGD
    assert sgd.defaults["momentum"] == 0 and sgd.defaults["nesterov"] is False
    assert sgd.defaults["weight_decay"] == 5e-3 and sgd.defaults["lr"] == 0.1
    hb = make_optimizer(nctheory.optimizer("sgd_momentum", **HP["sgd_momentum"]), p)
    assert (hb.defaults["momentum"], hb.defaults["dampening"], hb.defaults["nesterov"]) == (0.9, 0.3, False)
    nes = make_optimizer(nctheory.optimizer("sgd_nesterov", **HP["sgd_nesterov"]), p)
    assert nes.defaults["nesterov"] is True and nes.defaults["dampening"] == 0
    adam = make_optimizer(nctheory.optimizer("adam", **HP["adam"]), p)
    assert type(adam) is torch.optim.Adam and adam.defaults["betas"] == (0.8, 0.99)
    assert adam.defaults["eps"] == 1e-8 and adam.defaults["weight_decay"] == 5e-2
    adamw = make_optimizer(nctheory.optimizer("adamw", **HP["adamw"]), p)
    assert type(adamw) is torch.optim.AdamW and adamw.defaults["weight_decay"] == 5e-2
    # specs without a torch.optim class run on their independent reference implementation
    sign = make_optimizer(nctheory.optimizer("signgd", **HP["signgd"]), p)
    assert type(sign) is torch.optim.Adam and sign.defaults["betas"] == (0.0, 0.0) and sign.defaults["eps"] == 1e-300
    assert type(make_optimizer(nctheory.optimizer("signgd_decoupled", **HP["signgd_decoupled"]), p)) is torch.optim.AdamW
    for name, cls in (("sgdw_momentum", "SGDW"), ("qhm", "QHM"), ("lion", "Lion")):
        assert type(make_optimizer(nctheory.optimizer(name, **HP[name]), p)).__name__ == cls
    assert type(make_optimizer(nctheory.optimizer("sgd", **HP["sgd"]), p, prefer_torch=False)) is SpecOptimizer


@pytest.mark.parametrize("prefer_torch", [True, False])
@pytest.mark.parametrize("name", sorted(HP))
def test_from_torch_recognises_every_optimizer(name, prefer_torch):
    spec = nctheory.optimizer(name, **HP[name])
    p = torch.nn.Parameter(torch.zeros(3, 2, dtype=torch.float64))
    opt = make_optimizer(spec, [p], prefer_torch=prefer_torch)
    back = nctheory.from_torch(opt)
    assert back.name == name and back.values == spec.values


def test_from_torch_reads_the_spec_optimizers_buffers():
    """After steps, from_torch continues the row-sum prediction from the buffer's row sums."""
    spec = nctheory.optimizer("sgdw_momentum", **HP["sgdw_momentum"])
    _, opt, model = trajectory(lambda p: SpecOptimizer(p, spec), steps=5)
    W = model.fc.weight
    back = nctheory.from_torch(opt, param=W)
    np.testing.assert_array_equal(back.initial_buffers[0], opt.state[W]["momentum_buffer"].sum(0).numpy())


def test_hyperparameters_come_from_the_param_group():
    """A scheduler changes group['lr'] and the spec's step uses it: signgd by hand."""
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
    opt = SpecOptimizer([w], nctheory.optimizer("signgd", lr=0.1, weight_decay=0.5))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    expected = w.detach().clone()
    for lr in (0.1, 0.05, 0.025):
        grad = torch.tensor([0.3, 0.4, -1.0], dtype=torch.float64)
        w.grad = grad.clone()
        expected = expected - lr * torch.sign(grad + 0.5 * expected)
        opt.step()
        sched.step()
        assert torch.equal(w.detach(), expected)
    # a parameter group with its own hyperparameters
    v = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt.add_param_group({"params": [v], "lr": 1.0})
    v.grad = torch.tensor([1.0, -1.0], dtype=torch.float64)
    w.grad = None
    opt.step()
    # d = g + 0.5 v = (1.5, -0.5): v - 1.0 * sign(d) = (0, 2); w had no gradient and stays
    assert torch.equal(v.detach(), torch.tensor([0.0, 2.0], dtype=torch.float64))
    assert torch.equal(w.detach(), expected)


def test_state_dict_round_trip_continues_identically():
    spec = nctheory.optimizer("qhm", **HP["qhm"])
    X, y = _data()

    def run(opt_state=None, model_state=None, steps=5):
        torch.manual_seed(0)
        model = MLP(12, 4, width=8, dtype=torch.float64)
        if model_state is not None:
            model.load_state_dict(model_state)
        opt = SpecOptimizer(model.parameters(), spec)
        if opt_state is not None:
            opt.load_state_dict(opt_state)
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X), y).backward()
            opt.step()
        return model, opt

    straight, _ = run(steps=6)
    half_model, half_opt = run(steps=3)
    resumed, _ = run(half_opt.state_dict(), half_model.state_dict(), steps=3)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_bad_construction():
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(MissingHyperparameterError, match="momentum"):
        SpecOptimizer(p, nctheory.optimizer("sgd_momentum", lr=0.1))
    with pytest.raises(HyperparameterError, match="momentum"):
        SpecOptimizer([{"params": p, "momentum": 1.5}], nctheory.optimizer("qhm", **HP["qhm"]))
    with pytest.raises(NCTheoryError, match="OptimizerSpec"):
        SpecOptimizer(p, "sgd")
    with pytest.raises(NCTheoryError, match="OptimizerSpec"):
        make_optimizer("sgd", p)
    with pytest.raises(MissingHyperparameterError):
        make_optimizer(nctheory.optimizer("adam"), p)
    assert "lion" in repr(SpecOptimizer(p, nctheory.optimizer("lion", **HP["lion"])))
