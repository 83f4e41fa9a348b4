"""The networks of build_model on every input kind: shapes, their classifier as the tracker
finds it, batch norm in evaluation mode for the metrics, and short runs that record NC metrics."""

import numpy as np
import pytest
import torch
from torch import nn

import nctheory
from nctheory.errors import NCTheoryError
from nctheory.runs.architectures import (
    ARCHITECTURES,
    DigitsCNN,
    build_model,
    count_parameters,
)
from nctheory.runs.models import (
    classifier_from_output,
    find_last_linear,
    penultimate_features,
)
from nctheory.runs.training import RunConfig, run

#: vector (Gaussian mixture), sequence (MNIST-1D), small image (digits), odd-sized 3-channel image
INPUT_KINDS = {"vector": (12,), "sequence": (1, 40), "digits": (1, 8, 8), "image": (3, 9, 13)}


def _torchvision_or_skip():
    from nctheory.runs.architectures.resnet import import_torchvision_resnet18

    try:
        return import_torchvision_resnet18()
    except NCTheoryError:
        pytest.skip("torchvision is not installed")


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_network_takes_every_input_kind_and_ends_in_the_classifier_fc(arch):
    assert ARCHITECTURES == ("mlp", "cnn", "resnet", "resnet18", "vgg")
    if arch == "resnet18":
        _torchvision_or_skip()
    gen = torch.Generator().manual_seed(0)
    for kind, shape in INPUT_KINDS.items():
        torch.manual_seed(0)
        model = build_model(arch, shape, 5, width=None, dtype=torch.float32)
        x = torch.randn(6, *shape, generator=gen)
        out = model(x.flatten(1))  # training mode: the tracker's forward pass
        assert out.shape == (6, 5), (arch, kind)
        name, W = classifier_from_output(model, out)
        assert name == "fc.weight" and W is find_last_linear(model).weight, (arch, kind, name)
        model.eval()
        with torch.no_grad():
            assert torch.equal(model(x), model(x.flatten(1))), (arch, kind)  # shaped or flat, the same
        H, Z = penultimate_features(model, x)
        assert H.shape == (6, model.fc.in_features)
        torch.testing.assert_close(Z, H @ model.fc.weight.T + model.fc.bias, rtol=1e-5, atol=1e-5)
        with pytest.raises(NCTheoryError, match="was built for inputs of"):
            model(torch.randn(2, int(np.prod(shape)) + 1))


def test_the_nearest_parameter_with_K_rows_is_the_classifier():
    # VGG's hidden layer Linear(4w, 4w) also has K = 4w rows; the one nearer the logits is fc
    model = build_model("vgg", (1, 8, 8), 8, width=2)
    assert model.hidden[0].weight.shape == (8, 8) and model.fc.weight.shape == (8, 8)
    name, W = classifier_from_output(model, model(torch.randn(4, 64, dtype=torch.float64)))
    assert name == "fc.weight" and W is model.fc.weight
    assert name != "hidden.0.weight"


def test_convolutions_follow_the_input_kind_and_sizes_stay_small():
    kinds = {shape: {type(m) for m in build_model("resnet", shape, 10).modules()} for shape in INPUT_KINDS.values()}
    assert nn.Conv1d in kinds[(12,)] and nn.Conv1d in kinds[(1, 40)] and nn.Conv2d not in kinds[(1, 40)]
    assert nn.Conv2d in kinds[(1, 8, 8)] and nn.BatchNorm2d in kinds[(3, 9, 13)]
    for arch in ("mlp", "cnn", "resnet", "vgg"):
        for shape in ((1, 8, 8), (1, 40), (1, 28, 28), (3, 32, 32)):
            assert count_parameters(build_model(arch, shape, 10)) < 210_000, (arch, shape)
    # the CNN on 8x8 digits is the digits CNN the package always had: same modules, same initialisation
    torch.manual_seed(3)
    old = DigitsCNN(10, width=16, dtype=torch.float64)
    torch.manual_seed(3)
    new = build_model("cnn", 64, 10, width=16)  # the older in_features argument
    assert [n for n, _ in old.named_parameters()] == [n for n, _ in new.named_parameters()]
    assert all(torch.equal(a, b) for a, b in zip(old.parameters(), new.parameters()))
    torch.manual_seed(4)
    assert not torch.equal(build_model("cnn", 64, 10, width=16).fc.weight, new.fc.weight)


def test_resnet18_is_torchvisions_with_a_stem_for_small_inputs():
    resnet18 = _torchvision_or_skip()
    reference = resnet18(num_classes=10)
    large = build_model("resnet18", (3, 224, 224), 10)
    assert type(large) is type(reference) and large.conv1.kernel_size == (7, 7)
    assert list(large.state_dict()) == list(reference.state_dict())
    assert count_parameters(large) == count_parameters(reference) == 11_181_642
    small = build_model("resnet18", (1, 28, 28), 10, dtype=torch.float32)
    assert small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1) and small.conv1.in_channels == 1
    assert isinstance(small.maxpool, nn.Identity) and small.fc.weight.shape == (10, 512)
    with pytest.raises(NCTheoryError, match="width does not apply to model='resnet18'"):
        build_model("resnet18", (3, 32, 32), 10, width=8)


def test_build_model_refusals_and_the_older_name():
    with pytest.raises(NCTheoryError, match="unknown model 'densenet'; networks: 'mlp', 'cnn', 'resnet', 'resnet18', 'vgg'"):
        build_model("densenet", (1, 8, 8), 10)
    with pytest.raises(NCTheoryError, match="input_shape must be"):
        build_model("cnn", (1, 2, 3, 4), 10)
    with pytest.raises(NCTheoryError, match="num_classes must be an integer >= 2"):
        build_model("vgg", (1, 8, 8), 1)
    with pytest.raises(NCTheoryError, match="dtype must be a torch floating dtype"):
        build_model("mlp", (4,), 3, dtype=torch.int64)
    torch.manual_seed(0)
    a = build_model("gaussian_mlp", (7,), 3, width=5)
    torch.manual_seed(0)
    b = build_model("mlp", 7, 3, width=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_batch_norm_networks_are_measured_in_evaluation_mode():
    from nctheory.runs.training.runners import make_runner

    config = RunConfig(model="resnet", dataset="digits", samples_per_class=3, steps=2, width=4)
    torch.manual_seed(0)
    runner, _, description = make_runner(nctheory.optimizer("sgd", lr=0.1), config.target(), config)
    for _ in range(2):
        runner.step(0.1, None)
    net = runner.net
    assert net.training
    H, Z = runner.features_and_logits()
    assert net.training  # the mode is restored
    net.eval()
    H_eval, Z_eval = penultimate_features(net, runner.X)
    net.train()
    with torch.no_grad():
        H_train = penultimate_features(net, runner.X)[0]
    assert torch.equal(H, H_eval) and torch.equal(Z, Z_eval)
    assert not torch.allclose(H, H_train)  # batch statistics would give other features
    assert description["input_shape"] == [1, 8, 8] and description["width"] == 4


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_a_short_run_of_every_network_on_mnist1d_records_nc_metrics(arch):
    if arch == "resnet18":
        _torchvision_or_skip()
    small = {"dtype": "float32"} if arch == "resnet18" else {}  # 11M parameters: float32 keeps it fast
    record = run(nctheory.optimizer("sgd", lr=0.05),
                 RunConfig(model=arch, dataset="mnist1d", samples_per_class=2, steps=3, record_every=3, seed=1,
                           **small))
    assert record.model == arch and record.config["dataset"] == "mnist1d" and record.config["num_samples"] == 20
    assert list(record.metric_steps) == [0, 3]
    for name in ("nc1", "nc2_norm", "nc3", "loss", "accuracy"):
        assert np.isfinite(record.metrics[name]).all(), (arch, name)
    assert record.row_sums.shape == (4, record.config["dim"])
    assert record.metrics["loss"][0] > 0


def test_a_run_given_the_data_its_dataset_loads_is_the_same_run():
    """The sweep's pattern: load the data once (dataset_arrays), hand them back as a Dataset."""
    from nctheory.runs.data import Dataset
    from nctheory.runs.training.runners import dataset_arrays

    config = RunConfig(model="cnn", dataset="digits", samples_per_class=3, steps=2, record_every=2, width=8)
    X, y, K, name = dataset_arrays(config, "float64")
    assert tuple(X.shape) == (30, 1, 8, 8)  # shaped, so that Dataset(name, X, y, K) keeps the input shape
    spec = nctheory.optimizer("sgd", lr=0.1)
    direct = run(spec, config)
    given = run(spec, config.replace(data=Dataset(name, X, y, K)))
    assert given.config["input_shape"] == [1, 8, 8]
    np.testing.assert_array_equal(direct.row_sums, given.row_sums)
    np.testing.assert_array_equal(direct.metrics["nc1"], given.metrics["nc1"])
    flat = run(spec, config.replace(data=Dataset(name, X.reshape(30, 8, 8), y, K)))  # read as 8 sequences of 8
    assert flat.config["input_shape"] == [8, 8] and not np.array_equal(flat.row_sums, direct.row_sums)
