from __future__ import annotations

import json
from pathlib import Path

import pytest

from media.segment_store import LocalSegmentStore, check_room_id, open_segment_store


def _fill(store: LocalSegmentStore, room: str, n: int, seg_ms: int = 2000) -> None:
    for seq in range(n):
        store.write(room, seq, seq * seg_ms, seg_ms, f"segment {seq}".encode())


def test_write_list_and_paths(tmp_path: Path) -> None:
    store = LocalSegmentStore(tmp_path, retention_s=60)
    _fill(store, "room-1", 3)
    segs = store.list_segments("room-1")
    assert [s.seq for s in segs] == [0, 1, 2]
    assert [s.start_ms for s in segs] == [0, 2000, 4000]
    assert segs[1].path == store.path_for("room-1", 1) == tmp_path / "room-1" / "000001.ts"
    assert segs[2].path.read_bytes() == b"segment 2"
    assert not list((tmp_path / "room-1").glob("*.part"))
    assert store.list_segments("other-room") == []


def test_index_is_readable_by_another_process_and_skips_torn_lines(tmp_path: Path) -> None:
    _fill(LocalSegmentStore(tmp_path, 60), "r", 2)
    index = tmp_path / "r" / "index.jsonl"
    lines = index.read_text().splitlines()
    assert [json.loads(x)["file"] for x in lines] == ["000000.ts", "000001.ts"]
    with index.open("a") as f:
        f.write('{"seq": 2, "start_ms": 40')  # a writer caught mid-append
    reader = LocalSegmentStore(tmp_path, 60)  # a fresh instance, as in the clipper process
    assert [s.seq for s in reader.list_segments("r")] == [0, 1]


def test_segments_between_returns_overlapping_segments(tmp_path: Path) -> None:
    store = LocalSegmentStore(tmp_path, 60)
    _fill(store, "r", 5)  # [0,2000) [2000,4000) ... [8000,10000)
    assert [s.seq for s in store.segments_between("r", 2500, 5000)] == [1, 2]
    assert [s.seq for s in store.segments_between("r", 2000, 4000)] == [1]
    assert [s.seq for s in store.segments_between("r", 0, 1)] == [0]
    assert store.segments_between("r", 10_000, 12_000) == []


def test_prune_removes_expired_files_and_index_entries(tmp_path: Path) -> None:
    store = LocalSegmentStore(tmp_path, retention_s=5)
    _fill(store, "r", 5)
    removed = store.prune("r", now_ms=10_000)  # cutoff 5000: segments ending <= 5000 expire
    assert [s.seq for s in removed] == [0, 1]
    assert [s.seq for s in store.list_segments("r")] == [2, 3, 4]
    assert not store.path_for("r", 0).exists() and store.path_for("r", 2).exists()
    assert store.prune("r", now_ms=10_000) == []


def test_aborted_writer_leaves_nothing(tmp_path: Path) -> None:
    store = LocalSegmentStore(tmp_path, 60)
    writer = store.open_writer("r", 0, 0)
    writer.path.write_bytes(b"half")
    writer.abort()
    assert store.list_segments("r") == [] and not writer.path.exists()


@pytest.mark.parametrize("bad", ["..", ".", "a/b", "", "x" * 129, "ä"])
def test_room_ids_that_would_escape_the_root_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        check_room_id(bad)
    with pytest.raises(ValueError):
        LocalSegmentStore(tmp_path, 60).path_for(bad, 0)


def test_open_segment_store(tmp_path: Path) -> None:
    assert isinstance(open_segment_store(tmp_path, 60), LocalSegmentStore)
    # s3:// URIs: tests/media/test_segment_store_s3.py (against a local S3-compatible server)
