"""What the analysis service accepts from a request, checked before any work starts.

* The inference service it calls for Evaluate comes from the settings, never from the
  request: :func:`resolve_inference_address` (server-side request forgery, issue 11 finding 5;
  docs/security.md).
* Sizes within the limits (:mod:`synthclf.core.limits`): batch size, bootstrap resamples,
  sampled texts.
* Evaluation artifacts read as such (:func:`read_evaluation`).
"""

from __future__ import annotations

import json
import math

from synthclf.analysis.files import METRICS_FILE
from synthclf.core.artifacts import LocalArtifact
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput
from synthclf.core.inputs import fetch_kind
from synthclf.core.limits import check_at_most, check_count, check_seed, shown


def resolve_inference_address(settings: Settings, requested: str, local: str | None) -> str:
    """The inference service an evaluation calls.

    The default is ``SYNTHCLF_INFERENCE_ADDRESS`` (else ``SYNTHCLF_ADDRESS``), or this
    process's own server when it hosts inference and no inference address is configured
    (all-in-one). A request may name an address only if it is one of these or listed in
    ``SYNTHCLF_INFERENCE_ALLOWED_ADDRESSES``, so a caller can never make the server connect
    (and send its bearer token) anywhere else.

    Args:
        settings: ``inference_address``, ``address``, ``inference_allowed_addresses``.
        requested: the request's ``inference_address`` ("" for the default).
        local: host:port of this process's server when it hosts inference, else None.

    Raises:
        InvalidInput: ``requested`` is not an allowed address (the message says how to allow
            one).
    """
    configured = settings.service_address("inference")
    default = local if local and not settings.inference_address else configured
    if not requested:
        return default
    allowed = {configured, default, *settings.inference_allowed_addresses}
    if local:
        allowed.add(local)
    if requested not in allowed:
        raise InvalidInput(
            f"inference_address '{shown(requested)}' is not an inference service this server may "
            "call; leave it empty (the server's SYNTHCLF_INFERENCE_ADDRESS) or have the operator "
            "add it to SYNTHCLF_INFERENCE_ALLOWED_ADDRESSES")
    return requested


def check_evaluate_request(settings: Settings, *, batch_size: int, n_bootstrap: int,
                           confidence: float, seed: int = 0) -> None:
    """Refuse Evaluate parameters beyond their ranges and limits.

    Raises:
        InvalidInput: ``batch_size`` outside [1, SYNTHCLF_INFERENCE_MAX_TEXTS_PER_REQUEST],
            ``n_bootstrap`` outside [0, SYNTHCLF_MAX_BOOTSTRAP], ``confidence`` outside (0, 1),
            ``seed`` outside [0, 2**32 - 1].
    """
    check_seed(seed)
    check_count(batch_size, 1, settings, "inference_max_texts_per_request", "texts per batch (batch_size)")
    check_count(n_bootstrap, 0, settings, "max_bootstrap", "bootstrap resamples (n_bootstrap)")
    if not (math.isfinite(confidence) and 0 < confidence < 1):
        raise InvalidInput(f"confidence must lie in (0, 1), got {confidence}")


def check_analysis_texts(settings: Settings, max_texts: int, k: int | None = None, seed: int = 0) -> None:
    """Refuse ``max_texts`` (and ``k`` neighbours) outside [1, SYNTHCLF_MAX_ANALYSIS_TEXTS], and
    a ``seed`` outside [0, 2**32 - 1].

    Raises:
        InvalidInput: naming the field and, above the limit, its setting.
    """
    check_seed(seed)
    check_count(max_texts, 1, settings, "max_analysis_texts", "texts per dataset (max_texts)")
    if k is not None:
        check_count(k, 1, settings, "max_analysis_texts", "neighbours (k)")


def read_evaluation(uri: str, settings: Settings) -> tuple[LocalArtifact, dict]:
    """An evaluation artifact and its metrics.json.

    Raises:
        InvalidInput: not an evaluation, or its metrics.json / parameters lack what an
            evaluation has (labels, macro_f1, tags, dataset_uri). NotFound, IntegrityError:
            as :func:`synthclf.core.inputs.fetch_kind`.
    """
    artifact = fetch_kind(uri, settings, "evaluation", "evaluation URI")
    name = f"evaluation {shown(uri, 200)}"
    try:
        data = json.loads(artifact.file(METRICS_FILE).read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"{name}: {METRICS_FILE} is not JSON") from exc
    well_formed = (isinstance(data, dict) and isinstance(data.get("labels"), list)
                   and isinstance(data.get("macro_f1"), (int, float))
                   and isinstance(data.get("tags", {}), dict)
                   and isinstance(artifact.manifest.parameters.get("dataset_uri"), str))
    if not well_formed:
        raise InvalidInput(f"{name} is malformed: {METRICS_FILE} needs labels, macro_f1 and tags, "
                           "its manifest the dataset_uri parameter")
    check_at_most(len(data["labels"]), settings, "max_labels", f"labels in {name}")
    return artifact, data
