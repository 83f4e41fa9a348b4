r"""The batched engine: many training runs of the same shapes as one tensor program.

``run_batch(runs) -> list[RunResult]`` trains a batch of :class:`~nctheory.sweep.SweepRun`\ s
(planned by :mod:`nctheory.sweep.groups`; any list works: :mod:`.engine` splits it into groups
that differ only in hyperparameter values and seeds) and returns what
:func:`nctheory.sweep.result.run_one` would return for each, computed together.

Design
------
*Stacked parameters.* Every array of R runs has a leading run axis: the UFM's ``W`` (R, K, d),
``H`` (R, N, d), ``b`` (R, K) (:mod:`.ufm`); a network's parameters name -> (R, *shape)
(:mod:`.network`). Each run starts from exactly the arrays of its one-at-a-time run (same
seed, same initialisation code).

*Gradients.* UFM on numpy / cupy: the analytic gradients of :mod:`nctheory.runs.ufm` with
batched matrix products. UFM on torch (CPU or CUDA): autograd of the sum over runs of each
run's mean loss (runs share no parameter, so run r receives ``dL_r/dtheta_r``), the logits laid
out classes-in-the-middle for a fast softmax (:mod:`.torch_loss`). Networks: ``torch.func.vmap``
of ``grad_and_value`` of the one-run loss over ``torch.func.functional_call``.

*Optimizer step.* The spec's own update rule -- the transformations of ``spec.chain`` -- on
the stacked arrays, with per-run hyperparameters as arrays of shape (R, 1, ..., 1) that
broadcast against each parameter (:mod:`.stacking`, :mod:`.chain`): learning rates, weight
decays, momenta, betas may all differ between runs. Element-wise and linear transformations
run as written; Newton-Schulz (Muon) runs as a batched iteration; the other matrix
transformations (polar factor, Shampoo, SOAP) are stepped one run at a time inside the
batched step. The first step of every batch is compared with ``spec.step`` on single runs
(a guard against user transformations that do not broadcast). Implementation name:
``"batched spec.step/<backend>"``. The one-at-a-time torch path runs ``torch.optim`` where
the spec names a class: the two agree to rounding (tests/test_sweep_batched.py measures it).

*The loop* (:mod:`.loop`) is the one-run loop's, per run: row sums every step, metrics at
step 0, every ``record_every`` steps and the last, per-run minibatch permutations from each
run's seed, divergence detected per run at the same check points, a diverged run dropped
from the batch while the others continue. Torch batches whose runs ask for a verdict also
record the per-step norms the verdict's rounding model reads (:mod:`.norms`). The UFM's metrics
(NC0-NC4, loss, accuracy) are computed for all runs of the batch at once (:mod:`.metrics`,
equal to the one-run functions to 1e-12; numpy and torch on CPU), a network's run by run.

*Batch size.* On a CPU a group is trained in consecutive batches whose stacked parameters
fit the last-level cache (:data:`.engine.CPU_BATCH_BYTES`); on a GPU in one batch.

*Output.* One :class:`~nctheory.runs.training.record.TrainingRecord` per run (the class the
one-run loop returns; ``wall_time_s`` is the batch's time divided by its runs), then
:func:`~nctheory.sweep.result.result_from_record`.

Not batched (run one at a time, with the reason in ``implementation``): ``model="user"``,
networks with buffers (BatchNorm), modules ``vmap`` cannot trace, and any batch whose batched
execution raises -- so one bad run fails alone.
"""

from nctheory.sweep.batched.engine import run_batch, train_group
from nctheory.sweep.batched.network import Unbatchable

__all__ = ["Unbatchable", "run_batch", "train_group"]
