"""What importing synthclf's client side pulls in (issue 15): the typed clients need neither the
S3 SDK nor the Prefect flows, and the CLI imports ``orchestration`` only for commands that run a
flow. Checked in a fresh interpreter, so other tests' imports cannot hide a regression."""

import json
import subprocess
import sys

import pytest

HEAVY = ("minio", "orchestration", "prefect", "torch", "transformers", "onnxruntime")


def _imported_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\nimport json\n"
             f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("code", [
    "import synthclf.clients",
    "from synthclf.cli import build_parser; build_parser()",
])
def test_client_side_imports_stay_light(code):
    assert _imported_after(code) == []


def test_opening_an_s3_store_is_what_imports_the_s3_sdk():
    code = ("from synthclf.core.config import Settings\nfrom synthclf.core.store import open_store\n"
            "open_store('s3://bucket/prefix', Settings())")
    assert _imported_after(code) == ["minio"]
