"""Bearer-token authentication and TLS for every synthclf gRPC server and client.

Both are optional and configured from settings (README "Authentication, TLS and metrics"):

* **Bearer token** (``SYNTHCLF_AUTH_TOKEN`` or ``SYNTHCLF_AUTH_TOKEN_FILE``, a Docker/Kubernetes
  secret file): :class:`AuthInterceptor` rejects every RPC whose ``authorization`` metadata is
  not ``Bearer <token>`` with UNAUTHENTICATED (constant-time comparison), except
  ``grpc.health.v1`` and server reflection, which probes and tools call without credentials.
  Clients built by :func:`open_channel` attach the header to every call.
* **TLS** (``SYNTHCLF_TLS_CERT_FILE`` + ``SYNTHCLF_TLS_KEY_FILE`` on the server,
  ``SYNTHCLF_TLS_CA_FILE`` on clients): :func:`server_credentials` and :func:`open_channel`.

The header is added by a client interceptor rather than ``grpc.access_token_call_credentials``
because gRPC refuses call credentials on plaintext channels, and a plaintext hop is common
(loopback, a service mesh that terminates mTLS in a sidecar). Without TLS the token travels in
clear text; :func:`open_channel` logs a warning once per channel when that leaves loopback.
"""

from __future__ import annotations

import collections
import hmac
import logging
from pathlib import Path

import grpc

from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput

log = logging.getLogger("synthclf.auth")

#: RPC path prefixes callable without a token: health probes and reflection.
PUBLIC_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "unix:")


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}") from exc


def read_token(settings: Settings) -> str | None:
    """The configured bearer token, or None when authentication is off.

    ``auth_token`` wins over ``auth_token_file``; surrounding whitespace (the trailing newline of
    a secret file) is stripped.

    Raises:
        InvalidInput: the token file cannot be read, or the token is empty.
    """
    if settings.auth_token is not None:
        token, source = settings.auth_token.get_secret_value(), "SYNTHCLF_AUTH_TOKEN"
    elif settings.auth_token_file is not None:
        token = _read(settings.auth_token_file, "auth token file").decode("utf-8").strip()
        source = f"SYNTHCLF_AUTH_TOKEN_FILE ({settings.auth_token_file})"
    else:
        return None
    if not token.strip():
        raise InvalidInput(f"the bearer token from {source} is empty")
    return token.strip()


class AuthInterceptor(grpc.ServerInterceptor):
    """Server interceptor: every RPC but health and reflection needs ``Bearer <token>``.

    A refusal logs and answers a reason (missing, not the Bearer scheme, wrong token), never
    the presented credential.

    Args:
        token: the shared secret clients must present.
    """

    def __init__(self, token: str):
        self._expected = token.encode("utf-8")

    def _problem(self, metadata) -> str | None:
        """Why the call's metadata is refused, or None when its token is right."""
        values = [value for key, value in metadata or () if key == "authorization"]
        if not values:
            return ("missing bearer token: send metadata 'authorization: Bearer <token>' "
                    "(synthclf clients read SYNTHCLF_AUTH_TOKEN or SYNTHCLF_AUTH_TOKEN_FILE)")
        scheme, _, presented = str(values[0]).partition(" ")
        if scheme.lower() != "bearer":  # never echo or log the value: it may be the token itself
            return "the authorization metadata does not use the Bearer scheme; send " \
                "'authorization: Bearer <token>'"
        if not hmac.compare_digest(presented.strip().encode("utf-8"), self._expected):
            return "invalid bearer token"
        return None

    def intercept_service(self, continuation, handler_call_details):
        """Pass authorised and public calls on; answer the others UNAUTHENTICATED."""
        method = handler_call_details.method
        if method.startswith(PUBLIC_PREFIXES):
            return continuation(handler_call_details)
        problem = self._problem(handler_call_details.invocation_metadata)
        if problem is None:
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None

        def deny(request, context):
            """Abort the call, naming what is wrong with its credentials."""
            log.warning("%s from %s refused: %s", method, context.peer(), problem)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, problem)

        factory = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(handler.request_streaming, handler.response_streaming)]
        return factory(deny)


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials of the server, or None to serve plaintext.

    Raises:
        InvalidInput: only one of ``tls_cert_file`` / ``tls_key_file`` is set, or a file
            cannot be read.
    """
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise InvalidInput("TLS needs both SYNTHCLF_TLS_CERT_FILE and SYNTHCLF_TLS_KEY_FILE; "
                           f"only {'the certificate' if cert else 'the key'} is set")
    return grpc.ssl_server_credentials(
        [(_read(key, "TLS private key"), _read(cert, "TLS certificate"))])


def uses_tls(settings: Settings) -> bool:
    """Whether clients connect with TLS: a root certificate or a server certificate is set."""
    return settings.tls_ca_file is not None or settings.tls_cert_file is not None


class _CallDetails(collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready",
                         "compression")), grpc.ClientCallDetails):
    """Client call details with the metadata replaced."""


class BearerTokenInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                             grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Client interceptor adding ``authorization: Bearer <token>`` to every call."""

    def __init__(self, token: str):
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: grpc.ClientCallDetails) -> _CallDetails:
        metadata = [m for m in details.metadata or () if m[0] != "authorization"]
        return _CallDetails(details.method, details.timeout, [*metadata, self._header],
                            details.credentials, details.wait_for_ready,
                            getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation, client_call_details, request):
        """Unary call with the header."""
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        """Server-streaming call with the header."""
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        """Client-streaming call with the header."""
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        """Bidirectional call with the header."""
        return continuation(self._details(client_call_details), request_iterator)


def open_channel(address: str, settings: Settings,
                 options: list[tuple[str, object]] | None = None) -> grpc.Channel:
    """A client channel to ``address`` with the configured TLS and bearer token.

    Args:
        address: host:port of a synthclf server.
        settings: ``tls_ca_file`` / ``tls_cert_file`` select TLS (roots: ``tls_ca_file``, else
            the system's); ``auth_token`` / ``auth_token_file`` add the bearer token.
        options: gRPC channel options (message size limits, …).

    Raises:
        InvalidInput: a configured certificate or token file cannot be read.
    """
    options = list(options or [])
    if uses_tls(settings):
        roots = _read(settings.tls_ca_file, "TLS CA file") if settings.tls_ca_file else None
        channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(roots), options)
    else:
        channel = grpc.insecure_channel(address, options)
    token = read_token(settings)
    if token is None:
        return channel
    if not uses_tls(settings) and not address.startswith(_LOOPBACK):
        log.warning("sending the bearer token to %s without TLS (set SYNTHCLF_TLS_CA_FILE)", address)
    return grpc.intercept_channel(channel, BearerTokenInterceptor(token))
