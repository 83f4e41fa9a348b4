"""``python -m nctheory.check NAME``: predict, train, compare, and say whether the theory holds.

Usage::

    python -m nctheory.check --list
    python -m nctheory.check sgd_momentum                      # defaults: spec.example_values()
    python -m nctheory.check sgd_nesterov --lr 0.05 --weight-decay 1e-2 --momentum 0.8
    python -m nctheory.check signgd_decoupled --json
    python -m nctheory.check sgd_momentum --theory sgd_momentum:momentum=0.8   # negative control
    python -m nctheory.check adamw --theory adam --plot nc0.png --out run
    python -m nctheory.check --theorem optimal_momentum_qhm    # a theorem: proof + numerical check
    python -m nctheory.check --theorem all --json

It prints the symbolic prediction first, trains (progress on stderr when it takes more
than ~2 s), then prints predicted and measured side by side with the verdict and its
reasons (:mod:`nctheory.render.report`). The protocol follows the theory judged against
(:mod:`nctheory.verdict`):

* linear theories: one run of ``--steps`` (default 300) steps, whole-trajectory comparison,
  run as users train: a linear learning-rate warm-up from lr/10 over the first 10% of the
  steps (``--constant-lr`` to switch it off), minibatches of ``--batch-size`` (default 16;
  ``--full-batch``), the spec's example hyperparameters (non-zero dampening where the
  optimizer has one);
* sign-based theories: runs at lr, lr/3, lr/9 for the same physical time lr x steps
  (``--steps`` is the step count at lr; default ``ceil(10 / lr)``, so every run covers
  physical time 10, in which the coupled plateau is reached);
* Adam / AdamW / Lion: one run of ``--steps`` (default ``ceil(3 / lr)``: physical time 3,
  past the transient; :data:`nctheory.verdict.ADAPTIVE_MIN_PHYSICAL_TIME` is 2).

Every run trains with the spec's reference implementation (an optimizer the package did not
write: ``torch.optim``, qhoptim, lion-pytorch, pytorch-optimizer), and the prediction is
built from what :func:`nctheory.from_torch` reads off that live optimizer -- the path users
take. If that differs from the spec requested, the torch mapping is wrong and the verdict
is refuted. Without the reference library the run says it measured the package against
its own update rule.

``--theorem NAME`` (or ``all``) checks a theorem object instead of an optimizer: its exact
proof and its numerical check side by side (:mod:`nctheory.cli.theorem_check`).

Exit status: 0 verified, 1 refuted, 3 inconclusive or diverged, 2 bad usage (one line on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from nctheory.cli.exit_codes import EXIT_INTERRUPTED, EXIT_USAGE, exit_code
LINEAR_DEFAULT_STEPS = 300
SIGN_PHYSICAL_TIME = 10.0
ADAPTIVE_PHYSICAL_TIME = 3.0
MAX_DEFAULT_STEPS = 50_000
SIGN_FACTORS = (1, 3, 9)
PROGRESS_AFTER_S = 2.0
#: Linear theories: a linear warm-up from WARMUP_START x lr over the first WARMUP_FRACTION of
#: the steps (Goyal et al., "Accurate, large minibatch SGD", 2017), and minibatches.
WARMUP_FRACTION = 0.1
WARMUP_START = 0.1
LINEAR_DEFAULT_BATCH = 16



def hyperparameter_options() -> dict:
    """name -> description of every hyperparameter some registered spec declares (the first
    declaration of a name gives its description), in registry order."""
    from nctheory.optimizers import REGISTRY

    out = {}
    for spec in REGISTRY.values():
        for h in spec.hyperparameters:
            out.setdefault(h.name, h.description)
    return out


class UsageError(Exception):
    """Bad command line: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise UsageError(message)


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from nctheory.runs.datasets import DATASETS
    from nctheory.runs.training.config import MODELS
    from nctheory.theory.losses import LOSSES, runnable_losses

    p = _Parser(prog="python -m nctheory.check",
                description="Check the NC0 theory of an optimizer against a training run.",
                epilog="exit status: 0 verified, 1 refuted, 3 inconclusive or diverged, 2 bad usage (also a --steps "
                       "whose records would not fit in memory), 130 interrupted")
    p.add_argument("name", nargs="?", help="registered optimizer name (see --list)")
    p.add_argument("--list", action="store_true", help="list the registered optimizers and theorems and exit")
    p.add_argument("--theorem", default=None, metavar="NAME",
                   help="prove and numerically check a theorem of THEORY.md instead (NAME or 'all'; see --list)")
    for hp, text in hyperparameter_options().items():
        p.add_argument("--" + hp.replace("_", "-"), dest=hp, type=float, default=None,
                       help=f"{text} (default: the spec's example value)")
    p.add_argument("--model", choices=tuple(m for m in MODELS if m != "user"), default="ufm",
                   help="ufm: unconstrained features (K=5, d=16); networks (mlp, cnn, resnet, resnet18, vgg) train "
                        "on --dataset (default: digits); gaussian_mlp: an MLP on a Gaussian mixture (default: ufm)")
    p.add_argument("--dataset", default=None, choices=DATASETS,
                   help="the networks' data (default: digits); mnist, fashion_mnist and cifar10 are read from "
                        "--data-root, never downloaded")
    p.add_argument("--data-root", dest="data_root", default=None, metavar="DIR",
                   help="folder holding MNIST/raw, FashionMNIST/raw or cifar-10-batches-py (torchvision's layout)")
    p.add_argument("--samples-per-class", dest="samples_per_class", type=int, default=None,
                   help="a seeded class-balanced training subset of this many samples per class (UFM: n)")
    p.add_argument("--backend", default="auto", help="auto, torch, numpy or cupy")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--dtype", default="float64", help="float64 (verification) or float32")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps (default: 300 for linear theories; physical time 10 or 3 / lr otherwise)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="seed of data, init and batches (default: 0)")
    p.add_argument("--record-every", dest="record_every", type=int, default=None,
                   help="NC metrics every K steps (default: steps // 50, the 50 points per run that "
                        "the verdict's plateau and trend windows use; row sums are recorded every step)")
    p.add_argument("--loss", default="cross_entropy", help=f"one of {', '.join(runnable_losses())}")
    p.add_argument("--label-smoothing", dest="label_smoothing", type=float, default=0.0,
                   help=f"eps of cross-entropy's label smoothing (default: 0; --loss label_smoothing alone: "
                        f"{LOSSES['label_smoothing'].default('epsilon')})")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=None,
                   help=f"minibatch size (default: {LINEAR_DEFAULT_BATCH} for linear theories, full batch otherwise)")
    p.add_argument("--full-batch", dest="full_batch", action="store_true", help="train on the full batch")
    p.add_argument("--constant-lr", dest="constant_lr", action="store_true",
                   help="no warm-up: constant lr (linear theories warm up over the first 10%% of steps by default)")
    p.add_argument("--num-classes", dest="num_classes", type=int, default=None,
                   help="K (default: 5 for ufm and gaussian_mlp, 10 for the digits of mlp / cnn)")
    p.add_argument("--theory", default=None,
                   help="judge against another theory: NAME or NAME:key=value,... (negative control)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    p.add_argument("--plot", default=None, metavar="FILE", help="save NC0 vs step (predicted vs measured)")
    p.add_argument("--out", default=None, metavar="FILE", help="save the training record(s) (FILE.npz + FILE.json)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def _list() -> str:
    from nctheory.optimizers import REGISTRY
    from nctheory.cli.theorem_check import list_theorems

    width = max(len(n) for n in REGISTRY)
    # grouped by the family derived from each chain: linear, sign, adaptive, matrix
    order = {"linear": 0, "sign": 1, "adaptive": 2, "matrix": 3}
    ranked = sorted(REGISTRY.items(), key=lambda item: (order[item[1].family.kind], item[0]))
    optimizers = "\n".join(f"{name.ljust(width)}  [{spec.family.name}] {spec.summary}" for name, spec in ranked)
    return f"Optimizers (python -m nctheory.check NAME):\n{optimizers}\n\n" \
           f"Theorems (python -m nctheory.check --theorem NAME):\n{list_theorems()}"


from nctheory.cli.progress import Progress as _Progress  # noqa: E402  (tqdm on a terminal, regular lines otherwise)


def _run_spec(args):
    """The spec run (NAME with the options), validated."""
    from nctheory.errors import HyperparameterError
    from nctheory.optimizers import get_spec

    spec = get_spec(args.name)
    values = spec.example_values()
    for hp in hyperparameter_options():
        given = getattr(args, hp)
        if given is None:
            continue
        if hp not in values:
            raise HyperparameterError(
                f"--{hp.replace('_', '-')} is not a hyperparameter of {spec.name} "
                f"(its hyperparameters: {', '.join(spec.hyperparameter_names)})")
        values[hp] = given
    return spec.with_hparams(**values)


def _protocol(protocol: str, lr: float, steps):
    """[(lr_i, steps_i)] for the theory's derived protocol (module docstring)."""
    from nctheory.theory.family import PHYSICAL_TIME, STEP_SIZE_SCALING

    if protocol == STEP_SIZE_SCALING:
        base = steps or min(MAX_DEFAULT_STEPS, math.ceil(SIGN_PHYSICAL_TIME / lr))
        return [(lr / f, base * f) for f in SIGN_FACTORS]
    if protocol == PHYSICAL_TIME:
        return [(lr, steps or min(MAX_DEFAULT_STEPS, math.ceil(ADAPTIVE_PHYSICAL_TIME / lr)))]
    return [(lr, steps or LINEAR_DEFAULT_STEPS)]


def _validate_args(args):
    if args.steps is not None and args.steps <= 0:
        raise UsageError(f"--steps must be a positive integer, got {args.steps}")
    if args.record_every is not None and args.record_every <= 0:
        raise UsageError(f"--record-every must be a positive integer, got {args.record_every}")
    if args.batch_size is not None and args.batch_size <= 0:
        raise UsageError(f"--batch-size must be a positive integer, got {args.batch_size}")
    if args.num_classes is not None and args.num_classes < 2:
        raise UsageError(f"--num-classes must be an integer >= 2, got {args.num_classes}")
    if args.plot:
        from pathlib import Path

        parent = Path(args.plot).resolve().parent
        if not parent.is_dir():
            raise UsageError(f"--plot: the directory {parent} does not exist")
    # the run's own checks, before anything is printed or trained (they raise NCTheoryError)
    _run_config(args)


def _run_config(args, protocol=None, **fields):
    """The :class:`~nctheory.runs.training.RunConfig` of the options (validated), with
    ``fields`` (steps, record_every, progress, lr_schedule) set; minibatches by default for
    the ``protocol`` of linear theories."""
    from nctheory.runs.training import RunConfig
    from nctheory.theory.family import TRAJECTORY

    batch = args.batch_size
    if batch is None and not args.full_batch and protocol == TRAJECTORY:
        batch = LINEAR_DEFAULT_BATCH
    config = RunConfig(model=args.model, seed=args.seed, backend=args.backend, device=args.device, dtype=args.dtype,
                       loss=args.loss, label_smoothing=args.label_smoothing, batch_size=None,
                       num_classes=args.num_classes, dataset=args.dataset, data_root=args.data_root,
                       samples_per_class=args.samples_per_class, **fields)
    return config if batch is None else config.replace(batch_size=batch)


def _warmup(protocol: str, lr: float, steps: int, args):
    """The learning rate per step: a linear warm-up for linear theories (module docstring),
    None (constant lr) otherwise -- the sign and adaptive theories are stated for a
    constant step size."""
    from nctheory.theory.family import TRAJECTORY

    if protocol != TRAJECTORY or args.constant_lr:
        return None
    ramp = max(1, int(WARMUP_FRACTION * steps))
    return [lr * (WARMUP_START + (1 - WARMUP_START) * min(1.0, t / ramp)) for t in range(steps)]


def _read_back_theory(records, spec, args):
    """The spec the prediction is built from: what ``from_torch`` read off the live optimizer
    of the first run, when no other theory was asked for; and the reasons the torch mapping
    fails, if the optimizer that ran is not the spec requested (lr aside: it is per run)."""
    read = records[0].read_back
    if args.theory is not None or read is None:
        return None, []
    if isinstance(read, str):
        return None, [f"The optimizer that ran could not be read back: {read}"]
    problems = []
    for record in records:
        got, wanted = record.read_back, spec.with_hparams(lr=float(record.hparams["lr"]))
        if isinstance(got, str) or got.values != wanted.values or got.chain != wanted.chain:
            shown = got if isinstance(got, str) else got
            problems.append(f"from_torch reads {shown!r} off the optimizer that ran ({record.implementation}), "
                            f"but {wanted!r} was requested: the torch mapping (make_optimizer / from_torch) is wrong")
    return read, problems


def run_check(args, out=None):
    """Everything after parsing: returns the Verdict (raises NCTheoryError on bad input)."""
    out = sys.stdout if out is None else out
    from nctheory.render.report import plot_verdict, render_prediction, render_verdict
    from nctheory.theory.family import family
    from nctheory.verdict import check_records, predict_theory
    from nctheory.verdict.theory import judged_spec

    spec = _run_spec(args)
    # the theory, resolved against the spec to be run and predicted once: shown now, judged with later
    prediction = predict_theory(*judged_spec(args.theory, spec))
    theory = prediction.spec
    protocol = family(theory).protocol
    if float(spec.values["lr"]) <= 0:
        raise UsageError(f"--lr must be > 0 for a training run (lr = 0 moves nothing), got {float(spec.values['lr'])}")
    from nctheory.cli.progress import memory_problem
    from nctheory.runs.training.config import DEFAULT_WIDTH

    # refuse up front, exit 2, a --steps whose records cannot fit (issue 8: it died mid-run, exit 1)
    planned = sum(n for _, n in _protocol(protocol, float(spec.values["lr"]), args.steps))
    too_big = memory_problem(planned, DEFAULT_WIDTH)
    if too_big:
        raise UsageError(f"--steps: {too_big}")
    if not args.json:
        print(render_prediction(prediction, loss=args.loss), file=out)
        if theory.name != spec.name or args.theory:
            print(f"Run: {spec.name} with {', '.join(f'{k}={v:g}' for k, v in spec.float_hp().items())} "
                  f"(negative control: judged against the theory above)", file=out)
        print("", file=out, flush=True)

    from nctheory.runs.training import run, save_record

    plan = _protocol(protocol, float(spec.values["lr"]), args.steps)
    if args.batch_size is not None and args.full_batch:
        raise UsageError("give either --batch-size or --full-batch, not both")
    records = []
    started = time.perf_counter()
    for i, (lr, steps) in enumerate(plan):
        label = f"training {spec.name} lr={lr:g}" + (f" (run {i + 1}/{len(plan)})" if len(plan) > 1 else "")
        progress = _Progress(label, enabled=not args.quiet)
        try:
            config = _run_config(args, protocol, steps=steps, record_every=args.record_every or max(1, steps // 50),
                                 progress=progress, lr_schedule=_warmup(protocol, lr, steps, args))
            record = run(spec.with_hparams(lr=lr), config)
        finally:
            progress.done()
        records.append(record)
        if args.out:
            path = args.out if len(plan) == 1 else f"{args.out}-run{i + 1}"
            save_record(record, path)
        if record.stopped_early or record.diverged_at is not None:
            break
    read_back, problems = _read_back_theory(records, spec, args)
    if read_back is not None and not problems:
        prediction = predict_theory(read_back)  # the prediction users get: from the live optimizer
    verdict = check_records(records, theory=prediction)
    if args.theory is None and records[0].backend == "torch":
        from nctheory.pytorch.rule_check import compare_with_reference

        rule = compare_with_reference(spec.with_hparams(lr=float(records[0].hparams["lr"])), seed=args.seed)
        verdict.details["rule_matches_reference"] = rule.agrees
        if rule.agrees is False:
            problems.append(rule.sentence[0].upper() + rule.sentence[1:] + ": the spec is not the optimizer that ran.")
        elif rule.agrees:
            verdict.reasons.append(rule.sentence[0].upper() + rule.sentence[1:] + ".")
    if problems:
        verdict.verdict = "refuted"
        verdict.reasons[:0] = problems
    from nctheory.pytorch.spec_optimizer import OWN_RULE

    if any(r.implementation == OWN_RULE or r.implementation.startswith("spec.step/") for r in records):
        reference = spec.reference_class
        missing = ""
        if records[0].backend != "torch":
            missing = f" (backend {records[0].backend}: the reference implementations run on torch)"
        elif reference is not None and reference.resolve() is None:
            missing = f" ({reference.path} is not installed: pip install {reference.requirement})"
        verdict.reasons.insert(0, f"Measured on the package's own update rule{missing}: this run checks the "
                                  f"package against itself, not against an implementation it did not write.")
    verdict.details["wall_time_s"] = round(time.perf_counter() - started, 3)
    if args.plot:
        plot_verdict(verdict, args.plot)
    if args.json:
        print(verdict.to_json(), file=out)
    else:
        print(render_verdict(verdict, color=out.isatty() if hasattr(out, "isatty") else False), file=out)
        if args.plot:
            print(f"Plot: {args.plot}", file=out)
        if args.out:
            print(f"Record(s) saved under {args.out}*.npz / .json", file=out)
    return verdict


def main(argv=None) -> int:
    """Entry point; returns the exit status (0 verified, 1 refuted, 3 inconclusive/diverged, 2 usage)."""
    from nctheory.errors import NCTheoryError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.list:
            print(_list())
            return 0
        if args.theorem is not None:
            if args.name:
                raise UsageError("give either an optimizer NAME or --theorem NAME, not both")
            from nctheory.cli.theorem_check import run_theorem_check

            return run_theorem_check(args.theorem, seed=args.seed, as_json=args.json, quiet=args.quiet)
        if not args.name:
            raise UsageError("give an optimizer NAME (see --list)")
        _validate_args(args)
        verdict = run_check(args)
    except UsageError as exc:
        print(f"nctheory.cli.check: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NCTheoryError as exc:
        print(f"nctheory.cli.check: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("nctheory.cli.check: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return exit_code(verdict)


if __name__ == "__main__":
    sys.exit(main())
