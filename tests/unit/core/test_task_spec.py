"""The task spec: drafted prompts, task files read back, errors with field and line, label values."""

from __future__ import annotations

import pytest

from synthclf.core.catalog import load_catalog
from synthclf.core.errors import InvalidInput
from synthclf.core.task_spec import TaskSpec, label_key, parse_task_yaml, yaml_lines

MINIMAL = """\
name: tickets
domain: customer support
text_type: support ticket
labels:
  - name: billing
    description: a question about an invoice or a payment
    values: [Billing Issue, "2"]
  - name: outage
    description: a report that the service is down
"""


def test_missing_prompts_are_drafted_in_the_papers_pattern():
    spec = parse_task_yaml(MINIMAL)
    assert spec.drafted == ("context_prompt", "generation_prompt")
    assert spec.context_prompt == "Imagine you are a person writing support tickets in the domain of customer support."
    filled = spec.generation_prompt.format(label="billing", label_description="a question about an invoice",
                                           max_words=60, style="")
    assert filled == "Write a support ticket labelled 'billing': a question about an invoice. Use at most 60 words."
    assert spec.title == "tickets" and spec.subjectivity is None and spec.language == "en"


def test_given_prompts_are_kept_and_not_marked_drafted():
    spec = parse_task_yaml(MINIMAL + "context_prompt: Imagine you are an angry customer.\n")
    assert spec.drafted == ("generation_prompt",) and spec.context_prompt == "Imagine you are an angry customer."


def test_to_yaml_round_trips_with_the_drafted_wording():
    spec = parse_task_yaml(MINIMAL)
    again = parse_task_yaml(spec.to_yaml())
    assert again == spec and "drafted:" in spec.to_yaml()


def test_catalog_tasks_are_the_same_model():
    catalog = load_catalog()
    assert all(isinstance(task, TaskSpec) and not task.drafted for task in catalog.values())
    assert parse_task_yaml(catalog["sms_spam"].to_yaml()) == catalog["sms_spam"]


def test_errors_name_the_field_and_the_line():
    broken = MINIMAL.replace("name: outage", "name: Outage!").replace("domain:", "subjectivity: 9\ndomain:")
    with pytest.raises(InvalidInput) as error:
        parse_task_yaml(broken, "tickets.yaml")
    message = error.value.message
    assert "tickets.yaml: line 2: subjectivity" in message
    assert "tickets.yaml: line 9: labels.1.name" in message
    assert "labels: Tuple" not in message  # no echo of the label errors at the list


def test_yaml_syntax_error_names_the_line():
    with pytest.raises(InvalidInput, match=r"t.yaml: line 4: not valid YAML: expected .,. or .}."):
        parse_task_yaml("name: x\nlabels:\n  - {name: a\n", "t.yaml")


def test_init_placeholders_are_refused_until_described():
    placeholder = MINIMAL.replace("a report that the service is down", "'REVIEW: what outage means (3 rows)'")
    with pytest.raises(InvalidInput, match=r"line 9: labels.1.description: still the placeholder"):
        parse_task_yaml(placeholder)


def test_label_values_map_data_values_to_label_names():
    spec = parse_task_yaml(MINIMAL)
    assert [spec.label_for_value(v) for v in ("billing", "Billing Issue", "billing issue", "2", "2.0", "Outage", "x")] \
        == ["billing", "billing", "billing", "billing", "billing", "outage", None]
    assert [label_key(v) for v in ("Billing Issue", 1, "1.0", -1, "ham")] == \
        ["billing_issue", "label_1", "label_1", "minus_1", "ham"]


def test_a_value_listed_for_two_labels_is_refused():
    with pytest.raises(InvalidInput, match="value '2' is listed for labels 'billing' and 'outage'"):
        parse_task_yaml(MINIMAL + '    values: ["2"]\n')


def test_yaml_lines_maps_paths_to_lines():
    lines = yaml_lines(MINIMAL)
    assert lines[("labels", 1, "name")] == 8 and lines[("domain",)] == 2


def test_yaml_aliases_are_refused():
    with pytest.raises(InvalidInput, match="aliases"):
        parse_task_yaml("name: x\nd: &a [1, 2]\ne: [*a, *a]\nlabels: []\n")
