"""Generated stubs of the Open Inference Protocol (KServe v2) proto, package ``inference``.

Built by ``make protos`` from ``protos/synthclf/oip/grpc_predict_v2.proto`` (vendored unchanged
from KServe; not committed). Served by :mod:`synthclf.inference.oip_servicer`.
"""
