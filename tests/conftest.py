"""Shared fixtures. Integration fixtures start a REAL broker (Tansu) and a REAL Redis (Valkey)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LIVELENS_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data missing (looked in {SHARED_DATA}): real third-party test data")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_room_dir(tmp_path_factory) -> Path:
    """The English sample room, generated once per machine under var/ (cached between runs)."""
    from livelens.sample_room import ensure_sample_room

    out = Path(os.environ.get("LIVELENS_SAMPLE_DIR", REPO / "var" / "sample_room"))
    return ensure_sample_room(out, "en")


@pytest.fixture(scope="session")
def sample_room_zh_dir(tmp_path_factory) -> Path:
    """The Chinese sample room (neural Mandarin voice), generated once per machine under var/."""
    from livelens.sample_room import ensure_sample_room

    out = Path(os.environ.get("LIVELENS_SAMPLE_DIR", REPO / "var" / "sample_room"))
    return ensure_sample_room(out, "zh")
