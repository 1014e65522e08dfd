"""A user's own task end to end, as README's "Your own task" runs it: ``synthclf tasks init``
on a CSV, the label descriptions filled in, then ``synthclf run --task-file --data`` on the
embedded default (the four services in-process, Prefect's local API, the real local LLM)
at tiny sizes; the report and its Table 1 come out."""

from __future__ import annotations

import re

import pytest

from synthclf.cli import main
from synthclf.core.config import get_settings
from synthclf.core.corpora import load_real_dataset
from synthclf.llm_server import LocalLLMServer

pytestmark = pytest.mark.e2e

DESCRIPTIONS = {"ham": "an ordinary personal text message between friends or family",
                "spam": "unsolicited advertising, a prize claim or a scam asking the reader to call or text"}


@pytest.fixture(scope="module")
def llm_url():
    with LocalLLMServer(get_settings().cache_dir) as server:
        yield server.base_url


# The whole main job with the default Qwen LLM and the learning curve: about 10 min on a quiet
# 2-vCPU machine, so the suite-wide 900 s timeout leaves too little margin.
@pytest.mark.timeout(1800)
def test_tasks_init_then_run_on_a_users_csv(llm_url, tmp_path, monkeypatch, capsys):
    from prefect.testing.utilities import prefect_test_harness

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTHCLF_ARTIFACT_STORE", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SYNTHCLF_CACHE_DIR", str(get_settings().cache_dir))  # the assembled GGUF
    monkeypatch.setenv("SYNTHCLF_LLM_BASE_URL", llm_url)
    frame = load_real_dataset("sms_spam").groupby("label").head(40)
    frame.rename(columns={"text": "message", "label": "kind"})[["message", "kind"]].to_csv("sms.csv", index=False)

    # 1. synthclf tasks init sms.csv --text-column message --label-column kind --name my_sms > task.yaml
    assert main(["tasks", "init", "sms.csv", "--text-column", "message", "--label-column", "kind",
                 "--name", "my_sms"]) == 0
    drafted = capsys.readouterr().out
    assert "name: my_sms" in drafted and "language: en" in drafted and drafted.count("REVIEW:") == 2
    # 2. describe each label (the REVIEW: placeholders)
    for label, description in DESCRIPTIONS.items():
        drafted = re.sub(rf"'?REVIEW: what {label} means \(\d+ rows\)'?", description, drafted)
    (tmp_path / "task.yaml").write_text(drafted)
    # 3. synthclf run --task-file task.yaml --data sms.csv --text-column message --label-column kind ...
    with prefect_test_harness(server_startup_timeout=None):
        code = main(["run", "--task-file", "task.yaml", "--data", "sms.csv", "--text-column", "message",
                     "--label-column", "kind", "--rows-per-label", "4", "--test-rows", "20", "--epochs", "1"])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, captured.out + captured.err[-3000:]
    assert "drafted context_prompt, generation_prompt" in out  # the drafted wording shown for review
    assert "| task | real | zero_shot | few_shot |" in out  # Table 1 printed, one column per source
    assert re.search(r"^\| my_sms \| \d\.\d{3}", out, re.M)
    report = re.search(r"^report: (.+report\.md)$", out, re.M)
    assert report and (tmp_path / "artifacts").exists() and open(report[1]).read().startswith("#")
