"""Inference service: plain-Python core and thin gRPC servicer."""
