"""gRPC plumbing shared by every service: the error interceptor, health, jobs, conversions.

* :class:`ErrorInterceptor` maps :class:`~synthclf.core.errors.SynthclfError` to status codes in
  one place, so servicers hold no try/except (after KServe's interceptors); a request that does
  not decode is INVALID_ARGUMENT, and any other exception INTERNAL with an opaque error id that
  the server log repeats beside the traceback (docs/security.md).
* :class:`HealthReporter` keeps ``grpc.health.v1`` in step with real readiness by polling each
  service's ``check()`` (never hard-wired SERVING).
* :func:`stream_job` runs a core job in a worker thread and streams its progress events; the
  job is cancelled when the call is cancelled, its deadline passes or the server stops
  (:mod:`synthclf.core.jobs`).
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2

from synthclf.core.artifacts import ArtifactRef
from synthclf.core.cancellation import Job
from synthclf.core.errors import InvalidInput, SynthclfError
from synthclf.core.progress import Progress
from synthclf.v1 import common_pb2

log = logging.getLogger("synthclf.grpc")
T = TypeVar("T")
R = TypeVar("R")
#: 64 MiB: prediction batches of long texts exceed gRPC's 4 MiB default.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: Channel/server options of every synthclf server and client: the message size limits.
MESSAGE_SIZE_OPTIONS: list[tuple[str, object]] = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                                                   ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]


#: Longest status message answered, characters: details travel in the trailing metadata,
#: which gRPC limits to 8 KiB by default (a longer one reaches the client as INTERNAL).
MAX_DETAILS_CHARS = 2000


def _abort(context: grpc.ServicerContext, exc: BaseException, method: str) -> None:
    """Abort the call with the status of ``exc``.

    A :class:`SynthclfError` answers its code and message (logged as a warning). Anything else
    is a bug in synthclf: INTERNAL with an opaque error id, logged with its traceback under the
    same id, so the client learns nothing of the server's internals (paths, URLs) but an
    operator can find the cause.
    """
    if isinstance(exc, SynthclfError):
        log.warning("%s failed: %s: %s", method, type(exc).__name__, exc.message[:10_000])
        message = exc.message
        if len(message) > MAX_DETAILS_CHARS:  # details travel in trailers (8 KiB by default)
            message = f"{message[:MAX_DETAILS_CHARS]}… (message cut)"
        context.abort(exc.grpc_code, message)
    if isinstance(exc, NotImplementedError):  # a generated base method nobody overrides
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented by synthclf")
    error_id = uuid.uuid4().hex[:12]
    log.exception("%s failed with an unexpected error [error id %s]", method, error_id)
    context.abort(grpc.StatusCode.INTERNAL,
                  f"internal error (error id {error_id}; the server log has the details)")


class _Undecodable:
    """A request whose bytes are not a valid message of the RPC's request type."""

    def __init__(self, type_name: str, error: Exception):
        self.type_name = type_name
        self.error = error


def _lenient(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """``deserializer`` returning :class:`_Undecodable` instead of raising.

    gRPC answers a request it cannot decode with INTERNAL ("Exception deserializing
    request!"); decoding is the caller's fault, so the handler answers INVALID_ARGUMENT.
    """
    if deserializer is None:
        return None
    owner = getattr(deserializer, "__self__", None)
    type_name = getattr(getattr(owner, "DESCRIPTOR", None), "full_name", "request message")

    def decode(data: bytes) -> Any:
        """The decoded request, or an :class:`_Undecodable` naming the expected type."""
        try:
            return deserializer(data)
        except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
            return _Undecodable(type_name, exc)

    return decode


def _decoded(requests: Iterator[Any]) -> Iterator[Any]:
    """The messages of a client stream; InvalidInput at the first that did not decode."""
    for request in requests:
        if isinstance(request, _Undecodable):
            raise InvalidInput(f"a message of the stream is not a valid {request.type_name} (protobuf decoding failed)")
        yield request


def _refuse_undecodable(request: Any, context: grpc.ServicerContext, method: str) -> None:
    if isinstance(request, _Undecodable):
        log.warning("%s: undecodable request: %s", method, request.error)
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      f"the request is not a valid {request.type_name} (protobuf decoding failed)")


class ErrorInterceptor(grpc.ServerInterceptor):
    """Turns exceptions raised by servicers into gRPC statuses (unary, server- and client-streaming).

    Requests that do not decode are answered INVALID_ARGUMENT; unexpected exceptions INTERNAL
    with an error id that is also in the log (:func:`_abort`).
    """

    def intercept_service(self, continuation, handler_call_details):
        """Wrap the handler's behaviour so exceptions become ``context.abort`` calls."""
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary:
            inner = handler.unary_unary

            def unary(request, context):
                """The handler, with exceptions mapped to statuses."""
                _refuse_undecodable(request, context, method)
                try:
                    return inner(request, context)
                except Exception as exc:  # noqa: BLE001 - mapped to a status
                    _abort(context, exc, method)

            return grpc.unary_unary_rpc_method_handler(
                unary, _lenient(handler.request_deserializer), handler.response_serializer
            )
        if handler.unary_stream:
            inner_stream = handler.unary_stream

            def stream(request, context):
                """The streaming handler, with exceptions mapped to statuses."""
                _refuse_undecodable(request, context, method)
                try:
                    yield from inner_stream(request, context)
                except Exception as exc:  # noqa: BLE001 - mapped to a status
                    _abort(context, exc, method)

            return grpc.unary_stream_rpc_method_handler(
                stream, _lenient(handler.request_deserializer), handler.response_serializer
            )
        if handler.stream_unary:
            inner_upload = handler.stream_unary

            def upload(request_iterator, context):
                """The client-streaming handler, with exceptions mapped to statuses."""
                try:
                    return inner_upload(_decoded(request_iterator), context)
                except Exception as exc:  # noqa: BLE001 - mapped to a status
                    _abort(context, exc, method)

            return grpc.stream_unary_rpc_method_handler(
                upload, _lenient(handler.request_deserializer), handler.response_serializer
            )
        return handler


class HealthReporter:
    """Publishes ``grpc.health.v1`` statuses from real readiness checks.

    The checks (store round trips, start-up models) run in its own thread every
    ``interval_s`` and on :meth:`refresh`; probes read the cached result (:meth:`ready`), so
    a readiness probe costs nothing however often it comes.

    Args:
        servicer: the health servicer added to the server.
        checks: per service name (fully-qualified, e.g. ``synthclf.v1.TrainingService``) a
            callable that raises when the service cannot work (store unreachable, …).
        interval_s: seconds between checks.
    """

    def __init__(self, servicer: health.HealthServicer, checks: dict[str, Callable[[], None]],
                 interval_s: float = 10.0):
        self.servicer = servicer
        self.checks = checks
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="health", daemon=True)
        self._ready = False

    def ready(self) -> bool:
        """Overall readiness from the last :meth:`refresh` (False before the first one and
        after :meth:`stop`); runs no check."""
        return self._ready and not self._stop.is_set()

    def refresh(self) -> bool:
        """Run every check now and publish the results; returns overall readiness."""
        overall = True
        for name, check in self.checks.items():
            try:
                check()
                status = health_pb2.HealthCheckResponse.SERVING
            except Exception as exc:  # noqa: BLE001 - any failure means not serving
                log.warning("health: %s not serving: %s", name, exc)
                status = health_pb2.HealthCheckResponse.NOT_SERVING
                overall = False
            self.servicer.set(name, status)
        self.servicer.set(
            "",
            health_pb2.HealthCheckResponse.SERVING if overall
            else health_pb2.HealthCheckResponse.NOT_SERVING,
        )
        self._ready = overall
        return overall

    def start(self) -> None:
        """Check once now, then every ``interval_s`` in a daemon thread."""
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and mark everything NOT_SERVING (graceful shutdown)."""
        self._stop.set()
        self.servicer.enter_graceful_shutdown()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.refresh()


#: Longest remaining time taken as a real deadline, seconds: without a client deadline gRPC
#: reports ~9.2e18 s, which threading waits reject (OverflowError).
_NO_DEADLINE_S = 10 * 365 * 24 * 3600.0


def time_remaining_s(context: grpc.ServicerContext) -> float | None:
    """Seconds left before the call's deadline, or None when the client set no deadline."""
    remaining = context.time_remaining()
    return remaining if remaining is not None and remaining < _NO_DEADLINE_S else None


def progress_to_proto(event: Progress) -> common_pb2.JobProgress:
    """Encode a core :class:`Progress` as ``synthclf.v1.JobProgress``."""
    return common_pb2.JobProgress(
        stage=event.stage, done=event.done, total=event.total, unit=event.unit,
        message=event.message, metrics={k: float(v) for k, v in event.metrics.items()},
    )


def progress_from_proto(msg: common_pb2.JobProgress) -> Progress:
    """Decode ``synthclf.v1.JobProgress``."""
    return Progress(stage=msg.stage, done=msg.done, total=msg.total, unit=msg.unit,
                    message=msg.message, metrics=dict(msg.metrics))


def ref_to_proto(ref: ArtifactRef) -> common_pb2.ArtifactRef:
    """Encode an :class:`ArtifactRef`."""
    return common_pb2.ArtifactRef(uri=ref.uri, kind=ref.kind, id=ref.id)


def ref_from_proto(msg: common_pb2.ArtifactRef) -> ArtifactRef:
    """Decode ``synthclf.v1.ArtifactRef``."""
    return ArtifactRef(uri=msg.uri, kind=msg.kind, id=msg.id)


_DONE = object()


def stream_job(
    job: Callable[[Callable[[Progress], None]], T],
    context: grpc.ServicerContext,
    *,
    on_progress: Callable[[common_pb2.JobProgress], R],
    on_result: Callable[[T], R],
    name: str = "the job",
) -> Iterator[R]:
    """Run ``job(progress_fn)`` in a worker thread and stream its events as response messages.

    Exceptions raised by the job are re-raised in the RPC thread (where the
    :class:`ErrorInterceptor` maps them). The job is cancelled (:class:`~synthclf.core.cancellation.Job`)
    when the client cancels, its deadline passes, or the server shuts down: its next progress
    event raises Cancelled, so it stops without publishing, and this call waits for it to
    unwind (its staging folders are removed) before ending.

    Args:
        job: the core call, taking a progress callback.
        context: the RPC context (to notice cancellation and the deadline).
        on_progress: wraps a ``JobProgress`` in the RPC's response message.
        on_result: encodes the job's return value as the last response message.
        name: the job in the caller's terms, for the Cancelled message and the log.

    Yields:
        One response per progress event, then one for the result.
    """
    events: queue.Queue[Any] = queue.Queue()
    outcome: dict[str, Any] = {}
    token = Job(name)
    gone = "the caller cancelled the call or its deadline passed"
    if not context.add_callback(lambda: token.cancel(gone)):
        token.cancel(gone)

    def run() -> None:
        """Worker body: run the job, keep its result or error, then signal the end."""
        try:
            with token:
                token.check()
                outcome["result"] = job(token.progress(events.put))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the RPC thread
            outcome["error"] = exc
        finally:
            events.put(_DONE)

    worker = threading.Thread(target=run, name="job", daemon=True)
    worker.start()
    while True:
        try:
            item = events.get(timeout=_POLL_S)
        except queue.Empty:
            if not context.is_active():
                token.cancel(gone)
            continue
        if item is _DONE:
            break
        if context.is_active():
            yield on_progress(progress_to_proto(item))
    if "error" in outcome:
        raise outcome["error"]
    yield on_result(outcome["result"])


#: Seconds between checks of the RPC context while a job sends no event.
_POLL_S = 0.5
