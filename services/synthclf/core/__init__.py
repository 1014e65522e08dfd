"""Shared core: settings, errors, artifact store and manifests, task catalog, datasets, gRPC helpers."""
