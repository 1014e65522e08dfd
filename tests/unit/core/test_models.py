"""Assembly of the split Qwen2.5-Coder GGUF: streamed concatenation, sha256 check, no partial file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from synthclf.core import models
from synthclf.core.errors import NotReady


@pytest.fixture
def parts(tmp_path, monkeypatch) -> list[Path]:
    """Three small part files standing in for the 22 packages, in order."""
    files = []
    for i, payload in enumerate([b"GGUF" + b"a" * 3000, b"b" * (1 << 20) + b"c", b"tail"], start=1):
        files.append(tmp_path / f"part{i:02d}.bin")
        files[-1].write_bytes(payload)
    monkeypatch.setattr(models, "QWEN_CODER_PARTS", len(files))
    monkeypatch.setattr(models, "_part_file", lambda index: files[index - 1])
    whole = b"".join(f.read_bytes() for f in files)
    monkeypatch.setattr(models, "QWEN_CODER_SHA256", hashlib.sha256(whole).hexdigest())
    return files


def test_parts_are_concatenated_in_order_and_verified(parts, tmp_path) -> None:
    path = models.qwen_coder_gguf_path(tmp_path / "cache")
    assert path.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert path.parent == tmp_path / "cache" / "gguf" and oct(path.stat().st_mode & 0o777) == "0o644"
    mtime = path.stat().st_mtime_ns
    assert models.qwen_coder_gguf_path(tmp_path / "cache") == path and path.stat().st_mtime_ns == mtime  # reused


def test_a_damaged_part_fails_and_leaves_nothing(parts, tmp_path) -> None:
    parts[1].write_bytes(b"x" * 10)
    with pytest.raises(NotReady, match="concatenate to sha256"):
        models.qwen_coder_gguf_path(tmp_path / "cache")
    assert list((tmp_path / "cache" / "gguf").iterdir()) == []


def test_the_real_parts_are_installed_and_named_in_order() -> None:
    for index in (1, 22):
        assert models._part_file(index).name == f"part{index:02d}.bin"
