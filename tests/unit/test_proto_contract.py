"""The contract's promises that a reader of the protos relies on (issue 15): the artifact kinds
``ArtifactRef.kind`` lists are exactly the kinds the services publish, and fields where 0 is a
meaningful value track presence, so 0 reaches the core instead of becoming the default."""

import re
from pathlib import Path

import pytest

from synthclf.core.artifacts import KINDS, publish
from synthclf.core.store import LocalArtifactStore
from synthclf.v1 import analysis_pb2, common_pb2, generation_pb2

PROTOS = Path(__file__).resolve().parents[2] / "protos" / "synthclf" / "v1"


def test_artifact_ref_lists_every_kind():
    text = (PROTOS / "common.proto").read_text()
    comment = text[text.index("message ArtifactRef"):text.index("string kind = 2;")]
    listed = re.findall(r'"([a-z-]+)"', comment.split("Artifact kind", 1)[1])
    assert sorted(listed) == sorted(KINDS)
    assert common_pb2.ArtifactRef.DESCRIPTOR.fields_by_name["kind"].number == 2


def test_publishing_an_unlisted_kind_is_a_bug(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="unknown artifact kind 'subjectivity'"):
        publish(LocalArtifactStore(tmp_path / "store"), folder, kind="subjectivity", artifact_id="a", service="t")


@pytest.mark.parametrize(("message", "field"), [
    (generation_pb2.GenerateRequest, "temperature"),
    (analysis_pb2.EvaluateRequest, "n_bootstrap"),
    (analysis_pb2.VerdictRequest, "delta"),
])
def test_zero_is_a_value_where_it_means_something(message, field):
    assert message.DESCRIPTOR.fields_by_name[field].has_presence
    assert message(**{field: 0}).HasField(field)
    assert not message().HasField(field)
