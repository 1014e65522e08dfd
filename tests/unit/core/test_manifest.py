"""Manifests: hashes, sizes, and refusal of tampered or missing files."""

from __future__ import annotations

import hashlib

import pytest

from synthclf.core.errors import IntegrityError
from synthclf.core.manifest import Manifest, Producer, describe_folder, sha256_file, verify_file


def test_describe_folder_hashes_every_file_but_the_manifest(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"abc")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.bin").write_bytes(b"\x00" * 10)
    (tmp_path / "manifest.json").write_text("{}")
    entries = describe_folder(tmp_path)
    assert [e.path for e in entries] == ["a.txt", "d/b.bin"]
    assert entries[0].sha256 == hashlib.sha256(b"abc").hexdigest() and entries[0].size == 3


def test_verify_detects_same_size_tampering(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"hello")
    entry = describe_folder(tmp_path)[0]
    path.write_bytes(b"jello")
    with pytest.raises(IntegrityError, match="sha256"):
        verify_file(entry, path)


def test_verify_detects_truncation(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"hello")
    entry = describe_folder(tmp_path)[0]
    path.write_bytes(b"hell")
    with pytest.raises(IntegrityError, match="size 4"):
        verify_file(entry, path)


def test_manifest_round_trip_and_lookup(tmp_path):
    (tmp_path / "x").write_text("1")
    manifest = Manifest(kind="dataset", id="d", producer=Producer(service="s"),
                        files=describe_folder(tmp_path), inputs=["file:///a/dataset/b"])
    again = Manifest.model_validate_json(manifest.model_dump_json())
    assert again == manifest and again.created_at.endswith("+00:00")
    assert again.file("x").sha256 == sha256_file(tmp_path / "x")
    with pytest.raises(IntegrityError, match="no file 'y'"):
        again.file("y")
