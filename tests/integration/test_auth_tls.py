"""Bearer-token authentication and TLS on a real server on loopback.

The server runs with a token, a self-signed certificate (SAN 127.0.0.1 and localhost, made
with ``cryptography``) and metrics on; clients take token and root certificate from the
environment exactly as deployed clients do.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import urllib.request

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from synthclf.clients import InferenceClient, wait_serving
from synthclf.core.auth import open_channel
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput, Unauthenticated, Unavailable
from synthclf.oip import grpc_predict_v2_pb2 as oip
from synthclf.oip import grpc_predict_v2_pb2_grpc
from synthclf.server import start_server

TOKEN = "correct-horse-battery-staple-and-more"  # ≥ 32 bytes: production mode


def self_signed(folder):
    """Write cert.pem and key.pem for 127.0.0.1 / localhost; returns their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "synthclf test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """(server with token file, TLS and metrics; paths: cert, token file)."""
    root = tmp_path_factory.mktemp("secured")
    cert, key = self_signed(root)
    token_file = root / "token"
    token_file.write_text(TOKEN + "\n")  # as a Kubernetes secret file often ends
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache",
                        auth_token_file=token_file, tls_cert_file=cert, tls_key_file=key,
                        metrics_port=0, production=True)
    running = start_server(["inference"], settings, port=0)
    yield running, cert
    running.stop(grace_s=1)


@pytest.fixture
def client_env(secured, monkeypatch):
    """Client settings from the environment: the root certificate and the token."""
    monkeypatch.setenv("SYNTHCLF_TLS_CA_FILE", str(secured[1]))
    monkeypatch.setenv("SYNTHCLF_AUTH_TOKEN", TOKEN)
    return secured[0].address


def test_client_with_token_over_tls_is_served(client_env):
    with InferenceClient(client_env) as client:
        assert client.list_models() == []


@pytest.mark.parametrize("token, message", [(None, "missing bearer token"),
                                            ("wrong", "invalid bearer token")])
def test_missing_or_wrong_token_is_unauthenticated(client_env, monkeypatch, token, message):
    if token is None:
        monkeypatch.delenv("SYNTHCLF_AUTH_TOKEN")
    else:
        monkeypatch.setenv("SYNTHCLF_AUTH_TOKEN", token)
    with InferenceClient(client_env) as client, pytest.raises(Unauthenticated, match=message):
        client.list_models()


def test_oip_needs_the_token_too(secured):
    address = secured[0].address
    with open_channel(address, Settings(tls_ca_file=secured[1])) as channel:
        stub = grpc_predict_v2_pb2_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as denied:
            stub.ServerLive(oip.ServerLiveRequest(), timeout=5)
    assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with open_channel(address, Settings(tls_ca_file=secured[1], auth_token=TOKEN)) as channel:
        stub = grpc_predict_v2_pb2_grpc.GRPCInferenceServiceStub(channel)
        assert stub.ServerLive(oip.ServerLiveRequest(), timeout=5).live


def test_health_needs_no_token(client_env, monkeypatch):
    monkeypatch.delenv("SYNTHCLF_AUTH_TOKEN")
    wait_serving(client_env, "synthclf.v1.InferenceService", timeout_s=10)


def test_plaintext_client_cannot_talk_to_tls_server(secured):
    with grpc.insecure_channel(secured[0].address) as channel:
        with pytest.raises(grpc.RpcError) as failed:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE


def test_untrusted_certificate_is_refused(secured, tmp_path, monkeypatch):
    other, _ = self_signed(tmp_path)  # a different self-signed certificate
    monkeypatch.setenv("SYNTHCLF_TLS_CA_FILE", str(other))
    monkeypatch.setenv("SYNTHCLF_AUTH_TOKEN", TOKEN)
    with InferenceClient(secured[0].address, timeout_s=5) as client, pytest.raises(Unavailable):
        client.list_models()


def test_metrics_are_served_over_tls(secured):
    running, cert = secured
    context = ssl.create_default_context(cafile=str(cert))
    with urllib.request.urlopen(f"https://{running.metrics_address}/metrics", timeout=10,
                                context=context) as page:
        assert "synthclf_inference_requests" in page.read().decode()


def test_production_without_token_refuses_to_start(tmp_path):
    settings = Settings(artifact_store=str(tmp_path / "a"), cache_dir=tmp_path / "c", production=True)
    with pytest.raises(InvalidInput, match="no bearer token"):
        start_server(["inference"], settings, port=0)
