"""Generated gRPC stubs for protos/synthclf/v1 (``make protos``; not committed)."""
