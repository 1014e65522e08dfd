"""File names inside the analysis service's artifacts (one home, shared by the jobs and the report)."""

from __future__ import annotations

#: Producer name in the manifests.
SERVICE = "analysis"
#: Rows of a dataset artifact.
DATA_FILE = "data.jsonl"
#: Metrics of an evaluation artifact (with its condition).
METRICS_FILE = "metrics.json"
#: Per-row gold and predicted labels of an evaluation.
PREDICTIONS_FILE = "predictions.jsonl"
#: Bootstrap resamples of an evaluation's Macro-F1 and accuracy (paired across models scored on
#: the same test split with the same bootstrap seed).
RESAMPLES_FILE = "resamples.json"
#: Result file of each analysis kind.
RESULT_FILES = {"diversity": "diversity.json", "similarity": "similarity.json",
                "instance-subjectivity": "subjectivity.json", "task-subjectivity": "task_subjectivity.json",
                "projection": "projection.json", "verdict": "verdict.json"}
