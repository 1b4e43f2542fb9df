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


# ---- generator handles and Later work ------------------------------------------------------------

class _Slow:
    """A processor whose handle yields two outputs and a Later that yields one more."""

    def __new__(cls, settings):
        import threading

        from processors.runtime import Later, Output, RoomProcessor
        from streams.schemas import Recommendation

        def rec(ev, tag):
            return Output("recommendations", Recommendation(
                room_id=ev.room_id, stream_ms=ev.stream_ms, rec_type=tag, message_zh=tag, message_en=tag,
                reason=tag, priority=1, expires_ms=ev.stream_ms + 1, dedup_key=tag))

        class SlowProcessor(RoomProcessor):
            name = "slow"
            inputs = {"commerce": (CommerceEvent,)}
            runs_on = "thread"
            later_workers = 2
            release = threading.Event()
            threads: list = []

            def handle(self, inp, state):
                self.threads.append(threading.current_thread().name)
                yield rec(inp.event, "first")
                yield rec(inp.event, "second")

                def work():
                    self.threads.append(threading.current_thread().name)
                    assert self.release.wait(30)  # the agent does not wait for this
                    yield rec(inp.event, "later")
                yield Later(work, "test")

        return SlowProcessor(settings)


def test_run_processor_drains_generators_and_runs_later_work_after_the_input():
    proc = _Slow(Settings(_env_file=None))
    proc.release.set()
    outputs = run_processor(proc, _failed("r1", 2))
    assert [o.event.rec_type for o in outputs] == ["first", "second", "later"] * 2


async def test_the_runtime_sends_yielded_outputs_as_they_come_and_later_work_off_the_agent():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from processors.runtime import Attached, Input

    proc = _Slow(Settings(_env_file=None))
    sent: list[str] = []

    async def capture(event):
        sent.append(event.rec_type)

    attached = Attached(SimpleNamespace(settings=proc.settings), proc, routes={"recommendations": capture})
    attached.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slow")
    ev = _failed("r1", 1)[0]
    inp = Input("commerce", ev)
    result = await asyncio.get_running_loop().run_in_executor(attached.pool, proc.handle, inp, None)
    await attached.apply(inp, result, None)
    # the input is done: its own outputs are sent, the Later work is still waiting in its own pool
    assert sent == ["first", "second"] and len(attached._later_tasks) == 1
    proc.release.set()
    await asyncio.wait_for(asyncio.gather(*attached._later_tasks), 30)
    assert sent == ["first", "second", "later"]
    assert proc.threads[0].startswith("slow_") and proc.threads[1].startswith("slow-later")
