from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from streams.ingest.pacing import Pacer, merge_by_stream_time, paced, release_ms
from streams.ingest.replay import ReplayReject, ReplaySource, load_replay
from streams.schemas import AudioChunk, ChatMessage, CommerceEvent


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


GOOD = [
    json.dumps({"t": 1.5, "kind": "chat", "user_id": "u1", "user_name": "小王", "text": "有M码吗"}).encode(),
    json.dumps({"t": 0.5, "kind": "commerce", "type": "order", "count": 2, "amount": 199.0,
                "product_id": "p1", "user_id": "u2"}).encode(),
    b"",
    json.dumps({"t": 3, "kind": "commerce", "type": "viewers", "count": 1834}).encode(),
]

BAD = {
    "bad JSON": b'{"t": 1, "kind": "chat",',
    "invalid UTF-8": b'{"t": 1, "kind": "chat", "user_id": "u", "text": "\xff\xfe"}',
    "not a JSON object": b"[1, 2]",
    "unknown kind": b'{"t": 1, "kind": "poll", "user_id": "u"}',
    "t: must be a number": b'{"t": "1", "kind": "chat", "user_id": "u", "text": "hi"}',
    "NaN": b'{"t": NaN, "kind": "chat", "user_id": "u", "text": "hi"}',
    "t: out of range": b'{"t": -1, "kind": "chat", "user_id": "u", "text": "hi"}',
    "schema: count": b'{"t": 1, "kind": "commerce", "type": "order", "count": "1"}',
    "schema: type": b'{"t": 1, "kind": "commerce", "type": "refund"}',
    "schema: text": b'{"t": 1, "kind": "chat", "user_id": "u"}',
}


def test_good_lines_become_events_sorted_by_time(tmp_path: Path) -> None:
    events, rejects = load_replay(_write(tmp_path / "r.jsonl", GOOD), "room-1")
    assert rejects == []
    assert [e.stream_ms for e in events] == [500, 1500, 3000]
    order, chat, viewers = events
    assert isinstance(order, CommerceEvent) and order.type == "order" and order.count == 2
    assert order.amount == 199.0 and order.product_id == "p1"
    assert isinstance(chat, ChatMessage) and chat.text == "有M码吗" and chat.user_name == "小王"
    assert viewers.type == "viewers" and viewers.count == 1834
    assert {e.room_id for e in events} == {"room-1"}
    assert len({e.event_id for e in events}) == 3


@pytest.mark.parametrize("reason,line", list(BAD.items()), ids=list(BAD))
def test_each_kind_of_bad_line_is_rejected_with_a_reason(tmp_path: Path, reason: str, line: bytes) -> None:
    events, rejects = load_replay(_write(tmp_path / "r.jsonl", [GOOD[0], line, GOOD[1]]), "room-1")
    assert len(events) == 2  # the good lines around it still count
    assert len(rejects) == 1
    reject = rejects[0]
    assert isinstance(reject, ReplayReject) and reject.line_no == 2 and reject.raw == line
    assert reason.split(":")[0] in reject.reason or reason in reject.reason


def test_absurd_time_and_oversized_lines_are_rejected(tmp_path: Path) -> None:
    absurd = json.dumps({"t": 1e12, "kind": "chat", "user_id": "u", "text": "x"}).encode()
    huge = json.dumps({"t": 1, "kind": "chat", "user_id": "u", "text": "x" * 5000}).encode()
    events, rejects = load_replay(_write(tmp_path / "r.jsonl", [absurd, huge, GOOD[0]]), "r", max_line_bytes=1000)
    assert [r.line_no for r in rejects] == [1, 2]
    assert "out of range" in rejects[0].reason and "oversized" in rejects[1].reason
    assert len(rejects[1].raw) == 1000
    assert [e.stream_ms for e in events] == [1500]  # the line after the oversized one is intact


async def test_replay_source_paces_by_speed_and_stamps(tmp_path: Path) -> None:
    source = ReplaySource(_write(tmp_path / "r.jsonl", GOOD), "r", realtime=True, speed=20.0)
    t0 = time.monotonic()
    got = [(time.monotonic() - t0, e) async for e in source]
    assert [e.stream_ms for _, e in got] == [500, 1500, 3000]
    # 3.0 s of stream at 20x is due at 0.15 s of wall time
    assert got[-1][0] >= 3.0 / 20 - 0.01
    assert got[-1][0] < 1.0
    assert all(abs(e.ingested_at - time.time()) < 5 for _, e in got)


async def _timed(times: list[int]):
    for t in times:
        yield AudioChunk(room_id="r", stream_ms=t, seq=0, duration_ms=250, pcm=b"\0" * 8000)


async def test_merge_interleaves_by_release_time(tmp_path: Path) -> None:
    events, _ = load_replay(_write(tmp_path / "r.jsonl", GOOD), "r")

    async def replay():
        for e in events:
            yield e

    merged = [e async for e in merge_by_stream_time(_timed([0, 250, 500, 750, 1000, 1250]), replay())]
    keys = [release_ms(e) for e in merged]
    assert keys == sorted(keys)
    assert len(merged) == 6 + 3


async def test_pacer_without_realtime_never_waits() -> None:
    t0 = time.monotonic()
    out = [e async for e in paced(_timed([0, 60_000, 120_000]), Pacer(realtime=False))]
    assert len(out) == 3 and time.monotonic() - t0 < 0.5
    with pytest.raises(ValueError):
        Pacer(speed=0)
    await asyncio.sleep(0)
