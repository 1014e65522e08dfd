"""The embedded default: what ``synthclf run`` starts when nothing is configured.

Like Jaeger's all-in-one: with no ``SYNTHCLF_*ADDRESS`` set, the four services are hosted in
this process on a free loopback port; with no ``SYNTHCLF_LLM_BASE_URL`` set, the local
llama.cpp server is started too. Everything started here is stopped on exit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from orchestration.config import Endpoints
from synthclf.core.config import Settings
from synthclf.llm_server import LocalLLMServer
from synthclf.server import SERVICES, start_server

log = logging.getLogger("synthclf.embedded")


def configured_endpoints(settings: Settings) -> Endpoints | None:
    """Endpoints from the environment, or None if no service address is configured."""
    names = ["SYNTHCLF_ADDRESS"] + [f"SYNTHCLF_{s.upper()}_ADDRESS" for s in SERVICES]
    if not any(os.environ.get(n) for n in names):
        return None
    return Endpoints(**{s: settings.service_address(s) for s in SERVICES})


@contextmanager
def embedded_stack(settings: Settings, llm: bool = True) -> Iterator[Endpoints]:
    """Yield service endpoints, starting the all-in-one server (and local LLM) if needed.

    Args:
        settings: environment settings.
        llm: whether the work needs an LLM (generation); False never starts the local one.

    Yields:
        The endpoints to give to the flows.

    Raises:
        Unavailable: the local LLM server did not start.
    """
    endpoints = configured_endpoints(settings)
    if endpoints is not None:
        log.info("using configured services: %s", endpoints.model_dump())
        yield endpoints
        return
    with ExitStack() as stack:
        if llm and not settings.llm_base_url:
            local = stack.enter_context(LocalLLMServer(settings.cache_dir, model=settings.llm_local_model,
                                                       threads=settings.llm_threads or None))
            settings = settings.model_copy(update={
                "llm_base_url": local.base_url, "llm_model": local.model.alias,
                "llm_prompt_style": settings.llm_prompt_style or local.model.prompt_style,
                "llm_deterministic": True, "llm_server_id": settings.llm_server_id or f"local:{local.model.alias}"})
        running = start_server(["all"], settings, port=0)
        stack.callback(running.stop)
        log.info("embedded default: all four services on %s, artifacts in %s",
                 running.address, settings.artifact_store)
        yield Endpoints.all_in_one(running.address)
