"""DeferredTable: room state reaches the table at most once per interval per partition, and an
input is acknowledged only after the state that includes it was written (at-least-once)."""

from __future__ import annotations

from types import SimpleNamespace

from processors.base import DeferredTable


class FakeTable(dict):
    """A faust table's mapping side; records each write (one write = one changelog record)."""

    def __init__(self):
        super().__init__()
        self.writes: list[tuple[str, object]] = []

    def __setitem__(self, key, value):
        self.writes.append((key, value))
        super().__setitem__(key, value)


class FakeEvent:
    def __init__(self, partition: int):
        self.message = SimpleNamespace(partition=partition)
        self.acked = False

    def ack(self):
        assert not self.acked, "acked twice"
        self.acked = True


def test_writes_once_per_interval_and_acks_only_after_the_write():
    table = FakeTable()
    clock = [100.0]
    states = DeferredTable(table, interval_s=0.1, serialize=lambda v: dict(v))
    states._now = lambda: clock[0]  # noqa: SLF001 - a test clock
    events = []
    for i in range(5):
        counts = states.get("r1", lambda saved: saved or {"n": 0})
        counts["n"] += 1
        ev = FakeEvent(partition=3)
        events.append(ev)
        states.done(ev, "r1")
        if i == 0:
            # the first write of a partition happens at once
            assert table.writes == [("r1", {"n": 1})] and ev.acked
    # the next four fell inside the interval: not written, not acked
    assert len(table.writes) == 1 and not any(e.acked for e in events[1:])
    clock[0] += 0.2
    last = FakeEvent(partition=3)
    states.done(last, "r1", changed=False)
    assert table.writes[-1] == ("r1", {"n": 5}) and len(table.writes) == 2
    assert all(e.acked for e in events) and last.acked


def test_force_writes_at_once_and_partitions_are_written_only_by_their_own_events():
    table = FakeTable()
    clock = [0.0]
    states = DeferredTable(table, interval_s=10.0)
    states._now = lambda: clock[0]  # noqa: SLF001
    a, b = FakeEvent(1), FakeEvent(2)
    states.get("ra", lambda s: {"v": 0})["v"] = 1
    states.done(a, "ra")  # first write of partition 1
    states.get("rb", lambda s: {"v": 0})["v"] = 2
    states.done(b, "rb")  # first write of partition 2
    a2 = FakeEvent(1)
    states.get("ra", lambda s: {"v": 0})["v"] = 7
    states.done(a2, "ra")
    assert not a2.acked  # inside partition 1's interval: neither written nor acknowledged
    assert [k for k, _ in table.writes] == ["ra", "rb"]
    # an event of partition 2 does not write partition 1's room (faust would send it to the wrong partition)
    b2 = FakeEvent(2)
    states.done(b2, "rb", force=True)
    assert [k for k, _ in table.writes] == ["ra", "rb", "rb"] and not a2.acked and b2.acked
    a3 = FakeEvent(1)
    states.done(a3, force=True)
    assert [k for k, _ in table.writes][-1] == "ra" and a2.acked and a3.acked


def test_revoked_partition_drops_unwritten_state_and_unacked_inputs():
    table = FakeTable()
    table["r9"] = {"v": 100}  # what the changelog holds
    clock = [0.0]
    states = DeferredTable(table, interval_s=10.0, serialize=lambda v: dict(v))
    states._now = lambda: clock[0]  # noqa: SLF001
    first = FakeEvent(4)
    states.done(first)  # partition 4's first (empty) write
    live = states.get("r9", lambda saved: dict(saved))
    live["v"] = 101
    pending = FakeEvent(4)
    states.done(pending, "r9")
    states.on_revoked({4})
    # reassigned later: the live value is rebuilt from the table, the pending input was never acked
    assert states.get("r9", lambda saved: dict(saved)) == {"v": 100}
    assert not pending.acked
    states.done(FakeEvent(4), force=True)
    assert not pending.acked and table.writes[-1] != ("r9", {"v": 101})


class _FakeTopic:
    def __init__(self):
        self.sent: list[bytes] = []

    async def send(self, key, value):
        self.sent.append(value)


class _FakeContext:
    def __init__(self):
        from streams.settings import Settings

        self.settings = Settings()
        self.dead = _FakeTopic()

    def topic(self, name):
        assert name == "dead_letters"
        return self.dead


async def test_each_message_is_decoded_once_per_worker_and_kinds_still_checked_per_processor():
    from processors.base import Processor
    from streams.schemas import ChatInsight, ChatMessage, decode_event

    ctx = _FakeContext()
    chat, other = Processor(ctx, "chat"), Processor(ctx, "other")
    raw = ChatMessage(room_id="r1", stream_ms=5, user_id="u1", text="多少钱").to_bytes()
    first = await chat.decode(raw, "chat", (ChatMessage,))
    assert await chat.decode(raw, "chat", (ChatMessage,)) is first  # same bytes object: parsed once
    assert first == decode_event(raw)
    # equal bytes in another object are parsed again (identity, not content, is the key)
    assert await chat.decode(bytes(bytearray(raw)), "chat", (ChatMessage,)) is not first
    # a processor that does not accept the kind still dead-letters it, cached or not
    assert await other.decode(raw, "chat_insights", (ChatInsight,)) is None
    assert len(ctx.dead.sent) == 1 and b"unexpected kind" in ctx.dead.sent[0]
