"""OIP ServerReady answers from the cached readiness of HealthReporter: a probe runs no check."""

from __future__ import annotations

from grpc_health.v1 import health, health_pb2

from synthclf.core.grpc_server import HealthReporter
from synthclf.inference.oip_servicer import OipServicer


class CountingCheck:
    """A readiness check that counts its runs and fails while ``broken``."""

    def __init__(self):
        self.runs = 0
        self.broken = False

    def __call__(self) -> None:
        self.runs += 1
        if self.broken:
            raise RuntimeError("store unreachable")


def test_server_ready_probes_run_no_check_and_follow_the_last_refresh():
    check = CountingCheck()
    servicer = health.HealthServicer()
    reporter = HealthReporter(servicer, {"synthclf.v1.InferenceService": check}, interval_s=3600)
    oip = OipServicer(core=None, ready=reporter.ready)
    assert not oip.ServerReady(None, None).ready  # not checked yet
    reporter.refresh()
    assert [oip.ServerReady(None, None).ready for _ in range(100)] == [True] * 100
    assert check.runs == 1  # the probes ran no store round trip
    check.broken = True
    reporter.refresh()
    assert not oip.ServerReady(None, None).ready and check.runs == 2
    status = servicer.Check(health_pb2.HealthCheckRequest(service=""), None).status
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING
    check.broken = False
    reporter.refresh()
    assert oip.ServerReady(None, None).ready
    reporter.stop()
    assert not oip.ServerReady(None, None).ready  # shutting down
