"""An optimizer written down once: hyperparameters, state and update equations.

:class:`OptimizerSpec` is the single source of truth for an optimizer. It holds the
chain of gradient transformations (:mod:`nctheory.theory.transforms`) and the hyperparameter
declarations (:mod:`nctheory.theory.hyperparams`); optionally, values for some or all of the
hyperparameters. Everything else is derived from it:

* the numerical step on numpy / cupy / torch arrays (:meth:`OptimizerSpec.step`);
* the row-sum recurrence and its analysis (:mod:`nctheory.theory.symbolic`), by running the
  same step on sympy scalars and applying Lemma 1;
* the LaTeX of the update rule (:mod:`nctheory.theory.latex`).

Hyperparameters left unset stay symbolic (``eta``, ``lambda``, ``mu``, ...), so the
``charpoly()`` of a spec with nothing set is the characteristic polynomial in general.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import sympy as sp

from nctheory.theory import ops as ops_module
from nctheory.errors import HyperparameterError, MissingHyperparameterError
from nctheory.theory.hyperparams import Hyperparameter
from nctheory.theory.transforms import Transform


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer: ``W_{t+1} = W_t + chain(G_t)``, with the chain's buffers as state.

    Attributes:
        name: registry name (the module's name in :mod:`nctheory.optimizers`); display only --
            nothing is decided on it, so a renamed copy behaves identically.
        summary: one line for ``--list`` and the appendix.
        chain: the transformations applied in order to the gradient.
        hyperparameters: declarations, in the order torch.optim lists them.
        reference: where the update rule comes from (paper and/or source file).
        examples: per-spec default values for the command-line check, overriding the
            declarations' ``example``.
        defaults: per-spec library defaults, overriding the declarations' ``default``
            (Lion's ``betas=(0.9, 0.99)``).
        constraints: extra checks across hyperparameters; each gets the validated values
            and raises :class:`HyperparameterError` with a clear message.
        torch: the optimizer classes with exactly these semantics
            (:class:`~nctheory.theory.torch_mapping.TorchClass`); the first is built by
            ``make_optimizer``, all are recognised by ``from_torch``.
        reference_implementation: an implementation NOT written here that runs exactly this
            update (a :class:`~nctheory.theory.torch_mapping.TorchClass`, e.g. ``qhoptim``'s
            QHM, or Adam with betas 0 for sign descent): what checks measure on. Defaults to
            the first of ``torch``; see :attr:`reference`.
        values: exact values for the hyperparameters that have been set.
        initial_buffers: row sums of already initialised buffers, shape (n_buffers, d),
            e.g. read by ``from_torch`` from an optimizer that has stepped; None for a
            fresh optimizer (torch's first-step rule applies).
        citations: the BibTeX entries (full ``@type{key, ...}`` text) of the sources of the
            update rule, first the one to cite for it; the appendix's bibliography is
            collected from them (:mod:`nctheory.render.bibliography`), so an optimizer added
            later brings its own entries.
        title: the optimizer's name in prose ("heavy ball", "decoupled SignGD"); the
            appendix writes it where a derivation names the optimizer. Default: ``name``.
    """

    name: str
    summary: str
    chain: tuple[Transform, ...]
    hyperparameters: tuple[Hyperparameter, ...]
    reference: str
    examples: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)
    constraints: tuple[Callable[[str, dict], None], ...] = ()
    torch: tuple = ()
    reference_implementation: object = None
    values: dict = field(default_factory=dict)
    initial_buffers: object = None
    citations: tuple[str, ...] = ()
    title: str = ""

    # ------------------------------------------------------------------ hyperparameters
    @property
    def hyperparameter_names(self) -> tuple[str, ...]:
        """The declared hyperparameters' names, in torch.optim's order (``("lr", "momentum", ...)``)."""
        return tuple(h.name for h in self.hyperparameters)

    def example_values(self) -> dict:
        """The command-line defaults: every hyperparameter set to its example value."""
        return {h.name: self.examples.get(h.name, h.example) for h in self.hyperparameters}

    def default_values(self) -> dict:
        """The library defaults (torch.optim's), for hyperparameters that have one."""
        out = {h.name: h.default for h in self.hyperparameters if h.default is not None}
        out.update(self.defaults)
        return out

    def with_hparams(self, **hparams) -> "OptimizerSpec":
        """A copy with hyperparameters set (validated, stored as exact rationals).

        ``betas=(b1, b2)`` is accepted as in torch.optim. Booleans that select the
        variant (``nesterov``) are not hyperparameters here: they are separate specs.
        """
        hparams = dict(hparams)
        if "betas" in hparams:
            betas = hparams.pop("betas")
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise HyperparameterError(f"{self.name}: betas must be a pair (beta1, beta2), got {betas!r}")
            hparams.setdefault("beta1", betas[0])
            hparams.setdefault("beta2", betas[1])
        declared = {h.name: h for h in self.hyperparameters}
        unknown = sorted(set(hparams) - set(declared))
        if unknown:
            allowed = ", ".join(self.hyperparameter_names)
            raise HyperparameterError(
                f"{self.name}: unknown hyperparameter(s) {', '.join(unknown)}; allowed: {allowed}")
        values = dict(self.values)
        for key, value in hparams.items():
            values[key] = declared[key].validate(value, self.name)
        for constraint in self.constraints:
            constraint(self.name, values)
        return replace(self, values=values)

    def without(self, *names: str) -> "OptimizerSpec":
        """A copy in which the named hyperparameters are symbolic again."""
        return replace(self, values={k: v for k, v in self.values.items() if k not in names})

    @property
    def reference_class(self):
        """The implementation checks measure on: ``reference_implementation``, else the first
        torch class, else None (the package would measure against its own update rule)."""
        if self.reference_implementation is not None:
            return self.reference_implementation
        return self.torch[0] if self.torch else None

    @property
    def family(self):
        """What the chain implies for the theory (:mod:`nctheory.theory.family`)."""
        from nctheory.theory.family import family

        return family(self)

    def symbols(self) -> dict:
        """Hyperparameter name -> sympy symbol."""
        return {h.name: h.symbol for h in self.hyperparameters}

    def substitution(self) -> dict:
        """Symbol -> exact value, for the hyperparameters that are set."""
        return {h.symbol: self.values[h.name] for h in self.hyperparameters if h.name in self.values}

    def hp(self) -> dict:
        """Name -> value where set, else the symbol: what the chain is run with."""
        return {h.name: self.values.get(h.name, h.symbol) for h in self.hyperparameters}

    def float_hp(self) -> dict:
        """Name -> float value; every hyperparameter must be set."""
        self.require_values()
        return {name: float(value) for name, value in self.values.items()}

    def require_values(self, *names: str) -> None:
        """Raise if a hyperparameter needed for a numerical answer is still symbolic."""
        wanted = names or self.hyperparameter_names
        missing = [n for n in wanted if n not in self.values]
        if missing:
            raise MissingHyperparameterError(
                f"{self.name}: a numerical answer needs values for {', '.join(missing)}; "
                f"e.g. nctheory.optimizer({self.name!r}, "
                + ", ".join(f"{n}={self.example_values()[n]!r}" for n in missing) + ")")

    # ------------------------------------------------------------------ the update rule
    def init_state(self, params, ops=None) -> tuple:
        """Initial state of every transformation in the chain."""
        ops = ops or ops_module.for_array(params)
        return tuple(t.init(params, ops) for t in self.chain)

    def step(self, params, grad, state, hp=None, ops=None):
        """One step: returns ``(new_params, new_state)``.

        ``hp`` defaults to :meth:`hp` (floats where set). Works on sympy scalars with
        ``ops=nctheory.theory.ops.SYMBOLIC`` and on numpy / cupy / torch arrays.
        """
        ops = ops or ops_module.for_array(params)
        if hp is None:
            hp = self.float_hp() if ops is not ops_module.SYMBOLIC else self.hp()
        updates, new_state = grad, []
        for transform, sub_state in zip(self.chain, state):
            updates, sub_state = transform.update(updates, params, sub_state, hp, ops)
            new_state.append(sub_state)
        return params + updates, tuple(new_state)

    # ------------------------------------------------------------------ derived objects
    def row_sum_dynamics(self, loss=None):
        """The exact row-sum recurrence (Lemma 1); see :mod:`nctheory.theory.symbolic.rowsum`."""
        from nctheory.theory.symbolic.rowsum import row_sum_dynamics

        return row_sum_dynamics(self, loss=loss)

    @property
    def is_linear(self) -> bool:
        """Whether the row sums follow a data-independent linear recurrence."""
        from nctheory.theory.symbolic.rowsum import nonlinearity

        return nonlinearity(self) is None

    def recurrence(self, loss=None) -> sp.Matrix:
        """Transition matrix A of the row-sum state ``(s, buffer row sums)``: x' = A x."""
        return self.row_sum_dynamics(loss).matrix

    def charpoly(self, x: sp.Symbol | None = None) -> sp.Expr:
        """Characteristic polynomial det(x I - A) as an expression in ``x``."""
        return self.row_sum_dynamics().charpoly(x)

    def eigenvalues(self) -> dict:
        """Eigenvalues of A with multiplicities (sympy ``roots``)."""
        return self.row_sum_dynamics().eigenvalues()

    def rate(self) -> float:
        """Spectral radius of A: ||s_t|| ~ C rate^t. Needs every hyperparameter it uses."""
        return self.row_sum_dynamics().rate()

    def excited_rate(self) -> float:
        """Rate of the modes a fresh optimizer excites (<= :meth:`rate`; SGDW: 1 - eta lambda)."""
        return self.row_sum_dynamics().excited_modes().rate

    def stability_conditions(self):
        """Exact conditions for ``rate() < 1``: the row sums converge to 0 (NC0 -> 0).

        Schur-Cohn (Jury) inequalities on the characteristic polynomial ``p(x) = det(xI - A)``:
        every root has ``|x| < 1`` iff these polynomial inequalities in the symbolic
        hyperparameters hold (heavy ball: ``0 <= mu < 1``, ``0 < eta (1 - tau) lambda < 2 (1 + mu)``).
        Returns :class:`~nctheory.theory.symbolic.schur_cohn.Conditions`; ``.evaluate()``
        decides a point exactly. See :func:`nctheory.theory.symbolic.analysis.stability_conditions`.
        """
        from nctheory.theory.symbolic.analysis import stability_conditions

        return stability_conditions(self)

    def acceleration_conditions(self):
        """Exact conditions for ``rate() < 1 - eta lambda``: NC0 decays strictly faster than
        under plain SGD at the same lr and decay.

        Under the hypothesis ``0 < eta lambda < 1`` (SGD's rate ``r = 1 - eta lambda > 0``),
        every root of p lies in ``|x| < r`` iff every root of ``p(r y)`` lies in the unit
        disk: Schur-Cohn on ``p(r y)`` (heavy ball with tau = 0: ``0 < mu < (1 - eta lambda)^2``;
        SGDW: never). See :func:`nctheory.theory.symbolic.analysis.acceleration_conditions`.
        """
        from nctheory.theory.symbolic.analysis import acceleration_conditions

        return acceleration_conditions(self)

    def optimal_momentum(self):
        """The momentum that minimises the rate of a quadratic recurrence, and that rate.

        For ``p(x) = x^2 + a_1(mu) x + a_0(mu)`` the spectral radius is smallest where the two
        roots meet: the discriminant ``a_1^2 - 4 a_0`` vanishes and the double root is
        ``-a_1 / 2`` (heavy ball: ``mu* = (1 - sqrt(eta lambda))^2``; Nesterov:
        ``(1 - sqrt(a)) / (1 + sqrt(a))``; both rate ``1 - sqrt(eta lambda)``). Returns
        :class:`~nctheory.theory.symbolic.analysis.OptimalMomentum` (``momentum``, ``rate``,
        ``beats_sgd``); see :func:`nctheory.theory.symbolic.analysis.optimal_momentum`.
        """
        from nctheory.theory.symbolic.analysis import optimal_momentum

        return optimal_momentum(self)

    def closed_form(self, s0=None, t=None):
        """The exact row-sum trajectory from a fresh optimizer state as a formula in ``t``.

        ``s_t = c_1 r_1^t + c_2 r_2^t`` for distinct roots ``r_i`` of p, ``(c_1 + c_2 t) r^t``
        for a double root, the constants fitted in exact arithmetic to ``s_0`` (symbol ``s_0``
        unless given) and torch's first-step rule ``b_1 = d_0``. Returns
        :class:`~nctheory.theory.symbolic.analysis.ClosedForm` (callable at a step ``t >=
        valid_from``); see :func:`nctheory.theory.symbolic.analysis.closed_form`.
        """
        from nctheory.theory.symbolic.analysis import closed_form

        return closed_form(self, s0=s0, t=t)

    def transition_product(self, lrs=None, buffers_initialised: bool = False, schedules=None,
                           steps=None) -> sp.Matrix:
        """Exact ``A_{T-1} ... A_0`` under per-step hyperparameters; see
        :func:`nctheory.theory.symbolic.analysis.transition_product`."""
        from nctheory.theory.symbolic.analysis import transition_product

        return transition_product(self, lrs, buffers_initialised=buffers_initialised, schedules=schedules,
                                  steps=steps)

    def transitions(self, steps: int, schedules=None, buffers_initialised: bool = False, exact: bool = True):
        """The transition ``A_t`` of each step; see :func:`nctheory.theory.symbolic.schedules.transitions`."""
        from nctheory.theory.symbolic.schedules import transitions

        return transitions(self, steps, schedules, buffers_initialised=buffers_initialised, exact=exact)

    def predict(self, s0, steps: int, lr_schedule=None, buffers0=None, loss=None, schedules=None):
        """Predicted row sums, shape ``(steps + 1, d)``; see :func:`nctheory.theory.predict.predict`.

        ``buffers0`` defaults to :attr:`initial_buffers` (set by ``from_torch``).
        """
        from nctheory.theory.predict import predict

        if buffers0 is None:
            buffers0 = self.initial_buffers
        return predict(self, s0, steps, lr_schedule=lr_schedule, buffers0=buffers0, loss=loss,
                       schedules=schedules)

    def nonlinear_theory(self):
        """For sign-based / adaptive specs: the statements THEORY.md section 4 gives."""
        from nctheory.theory.symbolic.signbased import nonlinear_theory

        return nonlinear_theory(self)

    def update_equations(self) -> dict:
        """The update rule on one weight entry, as sympy equations (for display)."""
        from nctheory.theory.latex import update_equations

        return update_equations(self)

    def latex(self) -> str:
        """A self-contained LaTeX fragment (amsmath): the update rule on one weight entry, and
        for linear chains the row-sum recurrence ``x_{t+1} = A x_t`` (Lemma 1), the
        characteristic polynomial and the rate; for nonlinear chains THEORY.md section 4's
        statements. See :func:`nctheory.theory.latex.spec_latex`."""
        from nctheory.theory.latex import spec_latex

        return spec_latex(self)

    def __repr__(self) -> str:
        vals = ", ".join(f"{k}={float(v)!r}" for k, v in self.values.items())
        return f"nctheory.optimizer({self.name!r}{', ' if vals else ''}{vals})"
