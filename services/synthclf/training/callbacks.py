"""What synthclf adds to ``transformers.Trainer``: per-step loss checks, curves, progress events.

Both pieces use the Trainer's documented extension points (Hugging Face ``Trainer`` docs,
"Callbacks" and "Customize the Trainer"):

- :class:`CheckedTrainer` overrides ``training_step`` to read each step's loss: a non-finite
  loss stops the run with :class:`~synthclf.core.errors.InvalidInput` (the Trainer would
  otherwise log it away and train on), and the losses are summed per epoch for the curves;
- :class:`EpochReporter` is a ``TrainerCallback`` that turns the Trainer's events into
  synthclf's: a ``train`` progress event every :data:`PROGRESS_EVERY_STEPS` optimizer steps
  and after every epoch, one curves row and one log line per epoch (the paper's Fig. B.1,
  written by :mod:`synthclf.training.curves`), the seconds spent optimising, and the epoch
  the Trainer keeps.

Cancellation: the progress function the training service passes in raises
:class:`~synthclf.core.errors.Cancelled` once its job is cancelled
(:mod:`synthclf.core.cancellation`); raised from a callback it propagates out of
``Trainer.train``, so a cancelled job stops within one progress interval.
"""

from __future__ import annotations

import logging
import math
import time

from transformers import Trainer, TrainerCallback

from synthclf.core.errors import InvalidInput
from synthclf.core.progress import Progress, ProgressFn

logger = logging.getLogger("synthclf.training")

#: Send a progress event every this many optimizer steps (plus one per epoch end).
PROGRESS_EVERY_STEPS = 10


class LossMeter:
    """Training loss of the current epoch, fed one step at a time.

    Attributes:
        last: loss of the latest step (mean cross-entropy of its batch).
        total: sum over the epoch's texts of their batch's loss.
        rows: texts seen this epoch.
    """

    def __init__(self) -> None:
        self.last, self.total, self.rows = math.nan, 0.0, 0

    def reset(self) -> None:
        """Start a new epoch."""
        self.total, self.rows = 0.0, 0

    def add(self, loss: float, rows: int) -> None:
        """Record one step's mean loss over ``rows`` texts."""
        self.last = loss
        self.total += loss * rows
        self.rows += rows

    @property
    def mean(self) -> float:
        """Mean per-text training loss of the epoch so far (NaN before its first step)."""
        return self.total / self.rows if self.rows else math.nan


class CheckedTrainer(Trainer):
    """``transformers.Trainer`` that records every training step's loss and refuses a non-finite one.

    Args:
        *args: as :class:`transformers.Trainer`.
        meter: receives each step's loss and batch size.
        learning_rate: the configured learning rate, named in the divergence error.
        **kwargs: as :class:`transformers.Trainer`.
    """

    def __init__(self, *args, meter: LossMeter, learning_rate: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.meter = meter
        self._learning_rate = learning_rate

    def training_step(self, model, inputs, num_items_in_batch=None):
        """One forward/backward step (the Trainer's), then check and record its loss.

        Raises:
            InvalidInput: the loss is NaN or infinite (training diverged), naming the epoch,
                the step within it and the global step.
        """
        rows = len(inputs["labels"])
        loss = super().training_step(model, inputs, num_items_in_batch)
        value = loss.item()
        if not math.isfinite(value):
            per_epoch = max(1, math.ceil(self.state.max_steps / max(1, self.args.num_train_epochs)))
            step = self.state.global_step  # steps finished before this one
            raise InvalidInput(
                f"training diverged: non-finite loss at epoch {step // per_epoch + 1}, step "
                f"{step % per_epoch + 1} (global step {step + 1}); lower learning_rate "
                f"({self._learning_rate})"
            )
        self.meter.add(value, rows)
        return loss


class EpochReporter(TrainerCallback):
    """Per-epoch curves, progress events and log lines from the Trainer's events.

    Validation runs after ``on_epoch_end`` (``eval_strategy="epoch"``), so an epoch's row is
    completed in ``on_evaluate``, or in ``on_epoch_end`` without validation. The kept epoch
    follows the Trainer's own rule for ``load_best_model_at_end`` with
    ``greater_is_better=True``: the first epoch whose validation Macro-F1 beats every earlier
    one (the comparison ``EarlyStoppingCallback`` makes against ``state.best_metric``, which
    the Trainer updates after ``on_evaluate``); without validation, the last epoch.

    Args:
        meter: the training-loss meter :class:`CheckedTrainer` feeds.
        progress: receives the ``train`` events (unit ``steps``).
        epochs: configured number of epochs.
        validated: whether the Trainer evaluates after every epoch.

    Attributes:
        curves: one dict per finished epoch: ``epoch``, ``train_loss``, ``val_loss``,
            ``val_macro_f1``, ``val_accuracy`` (validation values None without validation).
        best_epoch: 1-based epoch of the kept checkpoint (0 before the first epoch ends).
        seconds: wall seconds spent in training steps (validation and saving excluded).
    """

    def __init__(self, meter: LossMeter, progress: ProgressFn, epochs: int, validated: bool):
        self.meter, self.progress, self.epochs, self.validated = meter, progress, epochs, validated
        self.curves: list[dict] = []
        self.best_epoch = 0
        self.seconds = 0.0
        self._started = self._tic = 0.0
        self._per_epoch = 1
        self._row: dict | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        """Note the start time and the steps per epoch."""
        self._started = time.perf_counter()
        self._per_epoch = max(1, math.ceil(state.max_steps / self.epochs))

    def on_epoch_begin(self, args, state, control, **kwargs):
        """Reset the epoch's loss and start its clock."""
        self.meter.reset()
        self._tic = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        """Send a progress event every :data:`PROGRESS_EVERY_STEPS` steps."""
        step = state.global_step
        if step % PROGRESS_EVERY_STEPS:
            return
        epoch = len(self.curves) + 1
        loss, eta = self.meter.last, self._eta_s(state)
        message = (f"epoch {epoch}/{self.epochs} step {step - (epoch - 1) * self._per_epoch}/"
                   f"{self._per_epoch} loss {loss:.4f}, about {eta:.0f} s left")
        self.progress(Progress("train", step, state.max_steps, "steps", message,
                               {"loss": loss, "epoch": float(epoch), "step": float(step), "eta_s": eta}))

    def on_epoch_end(self, args, state, control, **kwargs):
        """Close the epoch's row; report it now unless validation follows."""
        self.seconds += time.perf_counter() - self._tic
        self._row = {"epoch": len(self.curves) + 1, "train_loss": self.meter.mean,
                     "val_loss": None, "val_macro_f1": None, "val_accuracy": None}
        if not self.validated:
            self.best_epoch = self._row["epoch"]
            self._report(self._row, state, improved=True, stopping=False)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        """Add the epoch's validation loss, Macro-F1 and accuracy; report the epoch."""
        row, self._row = self._row, None
        if row is None:  # an evaluation outside the epoch loop (none is configured)
            return
        macro_f1 = metrics["eval_macro_f1"]
        row.update(val_loss=metrics["eval_loss"], val_macro_f1=macro_f1, val_accuracy=metrics["eval_accuracy"])
        improved = state.best_metric is None or macro_f1 > state.best_metric
        if improved:
            self.best_epoch = row["epoch"]
        stopping = control.should_training_stop and state.global_step < state.max_steps
        self._report(row, state, improved, stopping)

    def _eta_s(self, state) -> float:
        """Seconds left if every epoch runs: mean time per step so far (validation included)."""
        step = state.global_step
        return (time.perf_counter() - self._started) / step * (state.max_steps - step) if step else 0.0

    def _report(self, row: dict, state, improved: bool, stopping: bool) -> None:
        """Record ``row``, log it in the field's words and send its progress event."""
        self.curves.append(row)
        text = f"epoch {row['epoch']}/{self.epochs}: train loss {row['train_loss']:.4f}"
        if row["val_macro_f1"] is not None:
            text += (f", validation loss {row['val_loss']:.4f}, Macro-F1 {row['val_macro_f1']:.4f}, "
                     f"accuracy {row['val_accuracy']:.4f}")
        logger.info("%s%s", text, " (best so far)" if improved and self.validated else "")
        metrics = {k: float(v) for k, v in row.items() if v is not None}
        metrics.update(loss=row["train_loss"], step=float(state.global_step), eta_s=self._eta_s(state))
        self.progress(Progress("train", state.global_step, state.max_steps, "steps", text, metrics))
        if stopping:
            best = self.curves[self.best_epoch - 1]["val_macro_f1"]
            logger.info("early stopping after epoch %d: validation Macro-F1 has not improved for %d "
                        "epochs (best %.4f at epoch %d)", row["epoch"], row["epoch"] - self.best_epoch,
                        best, self.best_epoch)
