"""The tracker on the heads and schedules researchers use (issue 8): the classifier found by
following the forward pass, learning rates through 0, and the report naming what it tracked."""

import numpy as np
import pytest
import torch
from torch import nn

import nctheory
from nctheory.errors import NCTheoryError
from nctheory.runs.models import classifier_from_output

from _loops import one_thread

K = 5


class BareHead(nn.Module):
    """A hidden 64 x 64 layer, then the classifier as a bare parameter (before: the tracker took
    the hidden layer, the last nn.Linear, and reported refuted)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.W = nn.Parameter(torch.randn(K, 64) * 0.1)
        self.b = nn.Parameter(torch.zeros(K))

    def forward(self, x):
        return self.body(x) @ self.W.T + self.b


class ConvHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(8, K, 1)

    def forward(self, x):
        return self.head(self.body(x)).mean(dim=(2, 3))


class UnusedProjection(nn.Module):
    """An unused projection declared after the classifier (before: tracked instead of it)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 16), nn.ReLU())
        self.fc = nn.Linear(16, K)
        self.proj = nn.Linear(16, K)

    def forward(self, x):
        return self.fc(self.body(x))


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(10, 16)
        self.a, self.b = nn.Linear(16, K), nn.Linear(16, K)

    def forward(self, x):
        h = torch.relu(self.body(x))
        return self.a(h) + self.b(h)


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Parameter(torch.randn(K, 10) * 0.1)

    def forward(self, x):
        h = torch.tanh(x @ self.embed.T @ self.embed)
        return h @ self.embed.T


def train(model, X, y, steps=60, scheduler=None, **track_kw):
    model = model.double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-3)
    sched = scheduler(opt) if scheduler else None
    tracker = nctheory.track(model, opt, **track_kw)
    g = torch.Generator().manual_seed(0)
    with one_thread():
        for _ in range(steps):
            idx = torch.randint(0, X.shape[0], (16,), generator=g)
            loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
    return tracker


def data(images=False):
    g = torch.Generator().manual_seed(1)
    X = torch.randn((64, 3, 6, 6) if images else (64, 10), generator=g, dtype=torch.float64)
    return X, torch.randint(0, K, (64,), generator=g)


@pytest.mark.parametrize("model, name, shape", [(BareHead, "W", (K, 64)), (UnusedProjection, "fc.weight", (K, 16))])
def test_classifier_is_the_parameter_that_makes_the_logits(model, name, shape):
    torch.manual_seed(0)
    tr = train(model(), *data())
    assert tr.parameter_name == name and tuple(tr.weight.shape) == shape
    v = tr.verdict()
    assert v.verdict == "verified", v.reasons
    assert v.details["classifier"] == f"{name} {shape}" and f"classifier: {name} {shape}" in tr.report()


def test_one_by_one_convolution_head():
    torch.manual_seed(0)
    tr = train(ConvHead(), *data(images=True))
    assert tr.classifier == f"head.weight ({K}, 8, 1, 1)" and tr.to_record().row_sums.shape[1] == 8
    assert tr.verdict().verdict == "verified"
    # its features for NC1-NC4: the head's input averaged over the positions
    X, y = data(images=True)
    assert tr.record(inputs=X, labels=y) and np.isfinite(tr.to_record().metrics["nc1"][-1])


def test_ambiguous_or_tied_heads_are_refused_clearly():
    torch.manual_seed(0)
    X, y = data()
    with pytest.raises(NCTheoryError, match=r"several parameters.*a\.weight \(5, 16\), b\.weight \(5, 16\).*last_layer"):
        train(TwoHeads(), X, y, steps=1)
    with pytest.raises(NCTheoryError, match=r"used \d+ times in the forward pass"):
        train(Tied(), X, y, steps=1)
    # the user's choice settles it
    tr = train(TwoHeads(), X, y, steps=5, last_layer="a")
    assert tr.classifier == "a.weight (5, 16)"


def test_the_forward_pass_must_be_seen_before_a_step():
    model = UnusedProjection().double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    nctheory.track(model, opt)
    with pytest.raises(NCTheoryError, match="not seen a forward pass"):
        opt.step()


def test_classifier_from_output_directly():
    torch.manual_seed(0)
    model = BareHead()
    name, param = classifier_from_output(model, model(torch.randn(3, 10)))
    assert name == "W" and param is model.W
    with torch.no_grad(), pytest.raises(NCTheoryError, match="no autograd graph"):
        classifier_from_output(model, model(torch.randn(3, 10)))


# ---------------------------------------------------------------------- learning rates through 0
def test_warmup_from_zero_and_cosine_to_zero_are_verified():
    """Before: HyperparameterError 'lr=0.0 is outside the allowed range' at tracking time."""
    X, y = data()
    torch.manual_seed(0)
    warm = train(UnusedProjection(), X, y, scheduler=lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda t: min(1, t / 20)))
    assert warm.to_record().learning_rates[0] == 0.0 and warm.verdict().verdict == "verified"
    assert warm.verdict(theory="sgd_momentum:momentum=0.8").verdict == "refuted"
    torch.manual_seed(0)
    cos = train(UnusedProjection(), X, y, steps=60,
                scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=40))
    assert 0.0 in cos.to_record().learning_rates.tolist() and cos.verdict().verdict == "verified"


def test_from_torch_after_a_finished_schedule_and_predict_through_zero():
    model = nn.Linear(4, 3).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    for _ in range(5):
        model(torch.randn(2, 4, dtype=torch.float64)).sum().backward()
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == 0.0
    spec = nctheory.from_torch(opt, param=model.weight)
    assert float(spec.values["lr"]) == 0.0 and spec.rate() == pytest.approx(1.0)
    # lr = 0: s is unchanged, the buffer keeps evolving (A(eta=0)); predict accepts it
    s0 = np.array([1.0, -2.0, 0.5, 3.0])
    pred = spec.predict(s0, 3, lr_schedule=[0.0, 0.0, 0.0])
    np.testing.assert_array_equal(pred[-1], s0)
    moving = nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9, weight_decay=1e-2)
    with_zero = moving.predict(s0, 4, lr_schedule=[0.1, 0.0, 0.1, 0.1])
    np.testing.assert_array_equal(with_zero[2], with_zero[1])
    with pytest.raises(NCTheoryError, match=">= 0"):
        moving.predict(s0, 2, lr_schedule=[0.1, -0.1])
