"""Figure 1's projection as an analysis result: 2-D PCA coordinates of each training set's texts.

Computed by :meth:`synthclf.analysis.service.AnalysisCore.projection` (embeddings of a seeded,
label-stratified sample, :func:`synthclf.analysis.diversity.pca_projection`) and only drawn by
the report.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

#: Points per source kept in Figure 1 (a readable scatter).
PROJECTION_POINTS = 500


class ProjectionResult(BaseModel):
    """Per data source, 2-D points [n, 2] in the first two principal components of all sources."""

    task: str
    points: dict[str, list[list[float]]] = Field(description="source → [[pc1, pc2], …]")
    dataset_uris: list[str] = Field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        """The points as float arrays [n, 2] per source."""
        return {source: np.asarray(points, dtype=np.float64).reshape(-1, 2) for source, points in self.points.items()}
