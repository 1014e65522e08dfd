"""Tests of synthclf.core.auth: token sources, the token check, TLS settings, production rule."""

from __future__ import annotations

from collections import namedtuple

import grpc
import pytest

from synthclf.core.auth import (
    AuthInterceptor,
    BearerTokenInterceptor,
    read_token,
    server_credentials,
    uses_tls,
)
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput

Details = namedtuple("Details", "method invocation_metadata")
ClientDetails = namedtuple("ClientDetails", "method timeout metadata credentials wait_for_ready compression")


def test_token_from_env_wins_over_file(tmp_path, monkeypatch):
    secret = tmp_path / "token"
    secret.write_text("from-file\n")
    monkeypatch.setenv("SYNTHCLF_AUTH_TOKEN_FILE", str(secret))
    assert read_token(Settings()) == "from-file"  # trailing newline of a secret file stripped
    monkeypatch.setenv("SYNTHCLF_AUTH_TOKEN", "from-env")
    assert read_token(Settings()) == "from-env"
    assert "from-env" not in repr(Settings())  # a SecretStr: never printed with the settings


def test_no_token_means_auth_off():
    assert read_token(Settings()) is None


def test_missing_or_empty_token_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInput, match="cannot read auth token file .*nothing"):
        read_token(Settings(auth_token_file=tmp_path / "nothing"))
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(InvalidInput, match="bearer token from SYNTHCLF_AUTH_TOKEN_FILE .* is empty"):
        read_token(Settings(auth_token_file=tmp_path / "empty"))


def test_production_requires_a_token(tmp_path):
    with pytest.raises(InvalidInput, match="no bearer token is configured"):
        Settings(production=True).check_production()
    Settings(production=True, auth_token="s" * 32).check_production()
    (tmp_path / "token").write_text("f" * 32 + "\n")
    Settings(production=True, auth_token_file=tmp_path / "token").check_production()


@pytest.mark.parametrize("token", ["x", "s3cret", "s" * 31])
def test_production_refuses_a_short_token(tmp_path, token):
    with pytest.raises(InvalidInput, match="fewer than 32 bytes"):
        Settings(production=True, auth_token=token).check_production()
    (tmp_path / "token").write_text(token + "\n")
    with pytest.raises(InvalidInput, match="fewer than 32 bytes"):
        Settings(production=True, auth_token_file=tmp_path / "token").check_production()


def check(metadata, method="/synthclf.v1.InferenceService/Predict"):
    """Run the interceptor; returns the handler it hands back (the real one, or a denial)."""
    real = grpc.unary_unary_rpc_method_handler(lambda request, context: b"ok")
    return real, AuthInterceptor("s3cret").intercept_service(lambda d: real, Details(method, metadata))


@pytest.mark.parametrize("metadata", [
    (("authorization", "Bearer s3cret"),), (("authorization", "bearer s3cret"),),
])
def test_right_token_passes(metadata):
    real, handler = check(metadata)
    assert handler is real


@pytest.mark.parametrize("metadata, problem", [
    ((), "missing bearer token"),
    ((("authorization", "Bearer wrong"),), "invalid bearer token"),
    ((("authorization", "Bearer s3cret-and-more"),), "invalid bearer token"),
    ((("authorization", "Basic czNjcmV0"),), "does not use the Bearer scheme"),
    ((("authorization", "s3cret"),), "does not use the Bearer scheme"),
])
def test_wrong_or_missing_token_is_denied_with_reason(metadata, problem):
    real, handler = check(metadata)
    assert handler is not real

    class Context:
        def peer(self):
            return "ipv4:127.0.0.1:1"

        def abort(self, code, details):
            raise RuntimeError(code, details)

    with pytest.raises(RuntimeError) as denied:
        handler.unary_unary(b"", Context())
    assert denied.value.args[0] == grpc.StatusCode.UNAUTHENTICATED
    assert problem in denied.value.args[1]


@pytest.mark.parametrize("value", ["s3cret-but-no-scheme", "Basic s3cret-but-no-scheme",
                                   "Bearer s3cret-but-no-scheme"])
def test_refused_credential_is_neither_logged_nor_echoed(value, caplog):
    real, handler = check((("authorization", value),))

    class Context:
        def peer(self):
            return "ipv4:127.0.0.1:1"

        def abort(self, code, details):
            raise RuntimeError(code, details)

    with caplog.at_level("DEBUG"), pytest.raises(RuntimeError) as denied:
        handler.unary_unary(b"", Context())
    assert "s3cret-but-no-scheme" not in denied.value.args[1]
    assert caplog.records and "s3cret-but-no-scheme" not in caplog.text


@pytest.mark.parametrize("method", ["/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch",
                                    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"])
def test_health_and_reflection_need_no_token(method):
    real, handler = check((), method)
    assert handler is real


def test_denial_keeps_the_streaming_kind():
    real = grpc.unary_stream_rpc_method_handler(lambda request, context: iter(()))
    handler = AuthInterceptor("s3cret").intercept_service(
        lambda d: real, Details("/synthclf.v1.TrainingService/Train", ()))
    assert handler.response_streaming and not handler.request_streaming


def test_client_interceptor_replaces_any_authorization_header():
    sent = {}
    details = ClientDetails("/m", 5.0, [("authorization", "Bearer old"), ("x-id", "1")], None, None, None)
    BearerTokenInterceptor("new").intercept_unary_unary(
        lambda d, request: sent.setdefault("metadata", d.metadata), details, b"")
    assert sent["metadata"] == [("x-id", "1"), ("authorization", "Bearer new")]


def test_tls_settings(tmp_path):
    assert server_credentials(Settings()) is None and not uses_tls(Settings())
    with pytest.raises(InvalidInput, match="needs both .* only the certificate is set"):
        server_credentials(Settings(tls_cert_file=tmp_path / "cert.pem"))
    with pytest.raises(InvalidInput, match="cannot read TLS private key"):
        server_credentials(Settings(tls_cert_file=tmp_path / "c.pem", tls_key_file=tmp_path / "k.pem"))
    assert uses_tls(Settings(tls_ca_file=tmp_path / "ca.pem"))
