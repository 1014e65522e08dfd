"""Progress events of long-running jobs, transport-neutral (mirrors ``synthclf.v1.JobProgress``).

Cores report through a :data:`ProgressFn` callback; servicers stream the events to clients;
clients log them and drive progress bars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    """One progress event.

    Attributes:
        stage: stage name, e.g. ``generate``, ``train``, ``export``, ``evaluate``.
        done: units done so far in this stage.
        total: units in this stage; 0 when unknown.
        unit: what a unit is (``requests``, ``steps``, ``texts``).
        message: a log line in the field's words.
        metrics: named numbers (loss, accepted, rejected_<reason>, macro_f1…).
    """

    stage: str
    done: int = 0
    total: int = 0
    unit: str = ""
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


ProgressFn = Callable[[Progress], None]


def ignore_progress(_: Progress) -> None:
    """A :data:`ProgressFn` that drops events."""
