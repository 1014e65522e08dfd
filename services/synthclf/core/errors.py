"""One error hierarchy for every synthclf service, mapped to gRPC status codes in one place.

Every error carries its human-readable text in ``message`` (one attribute name everywhere,
unlike KServe's mix of ``.reason`` and ``.error_msg``). The gRPC interceptor in
:mod:`synthclf.core.grpc_server` maps ``grpc_code`` to the call's status; the typed clients in
:mod:`synthclf.clients` map status codes back with :func:`error_from_status`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


class SynthclfError(Exception):
    """Base class of all synthclf errors.

    Attributes:
        message: what went wrong, naming the offending input.
        grpc_code: the gRPC status code this error maps to.
    """

    grpc_code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(SynthclfError):
    """The request or its data is malformed (empty dataset, unknown label, bad size…)."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(SynthclfError):
    """A named thing (task, artifact, model) does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND


class NotReady(SynthclfError):
    """A thing exists but cannot serve yet (model not loaded, data not available here)."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(SynthclfError):
    """A dependency cannot be reached (LLM server, artifact store, another service)."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class ResourceExhausted(SynthclfError):
    """A limit was hit (queue full, budget spent)."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class DeadlineExceeded(Unavailable):
    """The caller's deadline passed before the work ran (e.g. while queued for a batch).

    A subclass of :class:`Unavailable` so retry conditions that accept UNAVAILABLE keep
    working.
    """

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unauthenticated(SynthclfError):
    """The call carries no valid credentials (missing or wrong bearer token)."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED


class Unimplemented(SynthclfError):
    """The RPC exists in the contract but this server does not offer it (README says which)."""

    grpc_code = grpc.StatusCode.UNIMPLEMENTED


class Cancelled(SynthclfError):
    """The job stopped because its caller cancelled, its deadline passed, or the server is
    shutting down (nothing is published; a re-run starts it again)."""

    grpc_code = grpc.StatusCode.CANCELLED


class IntegrityError(SynthclfError):
    """An artifact's content does not match its manifest (sha256 or size mismatch)."""

    grpc_code = grpc.StatusCode.DATA_LOSS


_BY_CODE = {
    cls.grpc_code: cls
    for cls in (InvalidInput, NotFound, NotReady, Unavailable, ResourceExhausted, IntegrityError,
                Unauthenticated, Unimplemented, Cancelled)
}
_BY_CODE[grpc.StatusCode.DEADLINE_EXCEEDED] = DeadlineExceeded


def error_from_status(code: grpc.StatusCode, details: str) -> SynthclfError:
    """Rebuild the synthclf error for a gRPC status (inverse of ``grpc_code``).

    Args:
        code: status code of a failed call.
        details: the status details string (the server-side ``message``).

    Returns:
        An instance of the matching subclass, or :class:`SynthclfError` for other codes.
    """
    return _BY_CODE.get(code, SynthclfError)(details or code.name)


def validated(model: type[ModelT], what: str, fields: dict[str, Any]) -> ModelT:
    """Build a pydantic ``model`` from ``fields``, turning validation errors into InvalidInput.

    Args:
        model: the pydantic class (a spec or config of a request).
        what: what it is, for the message (e.g. "training hyperparameters").
        fields: the decoded request fields.

    Raises:
        InvalidInput: ``invalid <what>: <field>: <problem>; …`` naming each offending field.
    """
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or what}: {e['msg']}"
                             for e in exc.errors())
        raise InvalidInput(f"invalid {what}: {problems}") from exc
