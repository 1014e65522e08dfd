"""What a model was trained on — the typed key of every evaluation.

Table 1, the learning curve, the real-label equivalents and the verdict all group
evaluations by these fields (``synthclf.v1.Condition``), never by free-form tags: a study
with several seeds or backbones still has one real baseline per task and backbone.

Three roles follow from the fields (docs/analysis.md):

* ``real_per_label == 0``: a Table-1 model of ``source`` on the experiment's splits
  (``source == "real"`` is the full-real reference);
* ``real_per_label == n`` and ``source == "real"``: a learning-curve point, n real rows per label;
* ``real_per_label == k`` and a synthetic ``source``: that synthetic set mixed into k real rows
  per label (the "stretch" comparison against the curve point at k).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Longest task, source or backbone name a condition may carry (characters).
MAX_NAME_CHARS = 256
#: Source name of real data.
REAL = "real"
#: Column order of the known data sources; others follow alphabetically.
SOURCE_ORDER = ("real", "zero_shot", "few_shot")


def source_rank(source: str) -> tuple[int, str]:
    """Sort key putting sources in :data:`SOURCE_ORDER`, then alphabetically."""
    return (SOURCE_ORDER.index(source), "") if source in SOURCE_ORDER else (len(SOURCE_ORDER), source)


def order_sources(sources) -> list[str]:
    """Known sources in :data:`SOURCE_ORDER`, then the others alphabetically (no repeats)."""
    return sorted(set(sources), key=source_rank)


class Condition(BaseModel):
    """Task, data source, backbone, seed and real rows per label of one trained model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str = Field(min_length=1, max_length=MAX_NAME_CHARS, description="Catalog task name.")
    source: str = Field(min_length=1, max_length=MAX_NAME_CHARS,
                        description="'real', 'zero_shot', 'few_shot' or a mixture spec.")
    backbone: str = Field("", max_length=MAX_NAME_CHARS, description="Encoder; '' = the training service's default.")
    seed: int = Field(0, description="Training seed.")
    real_per_label: int = Field(0, ge=0, description="Real rows per label (curve point or mixed model); "
                                "0 = a Table-1 model.")

    @property
    def is_table1(self) -> bool:
        """A model of Table 1 (trained on the experiment's splits as they are)."""
        return self.real_per_label == 0

    @property
    def is_curve_point(self) -> bool:
        """A learning-curve point: ``real_per_label`` real rows per label alone."""
        return self.real_per_label > 0 and self.source == REAL

    @property
    def is_mixed(self) -> bool:
        """Synthetic data mixed into ``real_per_label`` real rows per label."""
        return self.real_per_label > 0 and self.source != REAL

    @property
    def uses_real(self) -> bool:
        """Real rows are part of the training data (real, a curve point, a mix)."""
        return self.real_per_label > 0 or REAL in {part.split(":")[0] for part in self.source.split("+")}

    @property
    def is_full_real(self) -> bool:
        """The full-real reference of its task and backbone (Table 1's real column)."""
        return self.is_table1 and self.source == REAL

    @property
    def backbone_name(self) -> str:
        """The backbone as shown ("default" for '')."""
        return self.backbone or "default"

    @property
    def label(self) -> str:
        """The model's data as shown in tables, without seed: ``few_shot``, ``real × 16/label``,
        ``8 real/label + few_shot``."""
        if self.is_curve_point:
            return f"real × {self.real_per_label}/label"
        if self.is_mixed:
            return f"{self.real_per_label} real/label + {self.source}"
        return self.source

    def group(self) -> tuple[str, str, str, int]:
        """(task, backbone, source, real_per_label): the key seeds are averaged over."""
        return self.task, self.backbone, self.source, self.real_per_label

    def serving_name(self) -> str:
        """A model name for the inference service (letters, digits, '-', '_', '.')."""
        name = f"{self.task}-{self.source}-{self.backbone_name}-s{self.seed}"
        if self.real_per_label:
            name += f"-r{self.real_per_label}"
        return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-")
