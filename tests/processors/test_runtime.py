"""The processor shape and its test helper: the example of docs/ARCHITECTURE.md ("How to add a
processor") runs as written, and run_processor keeps rooms apart and forgets a room at its end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from processors.testing import ProcessorRun, run_processor
from streams.schemas import CommerceEvent, StreamMarker
from streams.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "ARCHITECTURE.md"


@pytest.fixture(scope="module")
def example():
    """The doc's example processor, executed from the doc itself (so the doc cannot rot)."""
    code = re.search(r"```python\n(# processors/price_watch.py.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "ARCHITECTURE.md example", "exec"), namespace)  # noqa: S102 - our own doc
    return namespace["PriceWatchProcessor"]


def _failed(room: str, n: int) -> list[CommerceEvent]:
    return [CommerceEvent(room_id=room, stream_ms=1_000 * i, type="payment_failed") for i in range(n)]


def test_the_documented_example_processor_works(example):
    outputs = run_processor(example(Settings(_env_file=None)), _failed("r1", 5))
    assert [o.event.rec_type for o in outputs] == ["check_payment"]
    assert outputs[0].topic == "recommendations"


def test_rooms_keep_their_own_state_and_a_room_is_forgotten_at_its_end(example):
    run = ProcessorRun(example(Settings(_env_file=None)))
    interleaved = [e for pair in zip(_failed("r1", 4), _failed("r2", 4)) for e in pair]
    assert run.feed(interleaved) == []  # 4 each: neither room reached 5
    run.feed([StreamMarker(room_id="r1", stream_ms=9_000, marker="end")])
    assert "r1" not in run.states and run.states["r2"]["failed"] == 4
    assert len(run.feed(_failed("r2", 1))) == 1


def test_kinds_a_processor_does_not_accept_are_skipped_like_the_runtime_dead_letters_them(example):
    from streams.schemas import ChatMessage

    assert run_processor(example(Settings(_env_file=None)),
                         [ChatMessage(room_id="r1", stream_ms=0, user_id="u", text="hi")]) == []
