"""`synthclf run` gives Prefect's temporary API server time to migrate a new database."""

import os
import subprocess
import sys

# In a fresh interpreter: Prefect reads its settings when imported, so the test must see the
# order of events in `_run_experiment` (set the timeout, then import the flow and Prefect).
PROBE = """
import synthclf.embedded as embedded
from synthclf import cli

class Stop(Exception):
    pass

def stack(*args, **kwargs):
    raise Stop

class Config:
    def synthetic_modes(self):
        return []

embedded.embedded_stack = stack
try:
    cli._run_experiment(Config())
except Stop:
    pass
from prefect.settings import get_current_settings
print(get_current_settings().server.ephemeral.startup_timeout_seconds)
"""


def _startup_timeout(env: dict[str, str]) -> str:
    """The startup timeout (seconds, as printed) Prefect holds after `_run_experiment` ran in `env`."""
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_run_defaults_the_ephemeral_server_startup_timeout_before_prefect_is_imported():
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"}
    assert _startup_timeout(env) == "120"


def test_a_startup_timeout_set_by_the_user_is_kept():
    env = {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"}
    assert _startup_timeout(env) == "300"
