"""The divergence guard every training loop calls once per step.

A loss that is not finite, or that has grown far above the first losses of the run, means
the optimisation has diverged (usually a learning rate far too large): whatever it trains
next is meaningless, so the loop stops at once with :class:`common.cli.Diverged`. The run
folder then records ``status: diverged`` and the step in ``metrics.json``
(:func:`common.runs.run_folder`), and ``main.py`` prints one line and exits 3. Studies and
sweeps catch it per variant, record the variant as diverged and go on with the next.
"""

from __future__ import annotations

import math
from typing import Any

from common.cli import Diverged

EXPLODE_FACTOR = 100.0  # a loss this many times its starting level has exploded


class DivergenceGuard:
    """``check(loss, step)`` raises :class:`Diverged` on a non-finite loss or one above
    ``factor`` times the start (the magnitude of the first loss checked, taken before any update).

    ``where`` names the model or variant in the message; ``hint`` says what to change.
    """

    def __init__(
        self,
        where: str = "training",
        factor: float = EXPLODE_FACTOR,
        hint: str = "run it again with a smaller --lr (and --overwrite)",
    ):
        self.where, self.factor, self.hint = where, factor, hint
        self.start: float | None = None
        self.steps = 0  # losses checked so far: the step number when the loop does not give one

    def check(self, loss: Any, step: int | None = None, **context: Any) -> float:
        """The loss as a float, after checking it; ``step`` defaults to the count of losses checked before,
        ``context`` (an epoch, a phase) goes into the record."""
        value = loss.item() if hasattr(loss, "item") else float(loss)  # a tensor: one sync, no autograd warning
        step = self.steps if step is None else step
        self.steps += 1
        if not math.isfinite(value):
            self._stop(f"{self.where}: the loss is {value} at step {step}", value, step, context)
        if self.start is None:
            self.start = abs(value)
        elif value > self.factor * max(self.start, 1e-6):
            self._stop(
                f"{self.where}: the loss exploded to {value:.4g} at step {step} (it started at {self.start:.4g})",
                value,
                step,
                context,
            )
        return value

    def _stop(self, message: str, value: float, step: int, context: dict) -> None:
        record = {
            "diverged_at_step": step,
            "loss": value if math.isfinite(value) else str(value),
            "where": self.where,
            **context,
        }
        raise Diverged(message, record, self.hint)
