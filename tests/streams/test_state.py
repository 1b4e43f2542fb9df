"""RoomStates: live objects in memory, written to the table's changelog only when offsets are committed.

A small fake stands in for the faust table here (what was sent, in which order); the integration
tests (test_restart.py, test_resilience.py) run the real thing through SIGKILLs and rebalances.
"""

from __future__ import annotations

import asyncio

import pytest

from streams.state import RoomStates


class _Sent:
    """What faust's changelog send returns: awaitable until the broker has the record."""

    def __init__(self, log: list, record: tuple):
        self.log, self.record = log, record

    def __await__(self):
        yield from asyncio.sleep(0).__await__()
        self.log.append(("delivered", self.record))
        return self.record


class FakeChangelog:
    def __init__(self):
        self.log: list = []

    async def send(self, *, key, value, partition, key_serializer, value_serializer, force):
        assert force, "must bypass faust's attach/buffer path"
        self.log.append(("sent", (key, value, partition)))
        return _Sent(self.log, (key, value, partition))


class FakeTable:
    key_serializer = value_serializer = "json"

    def __init__(self, data=None):
        self.data = dict(data or {})
        self.changelog_topic = FakeChangelog()

    def get(self, key):
        return self.data.get(key)


def counter_states(table) -> RoomStates:
    return RoomStates(table, load=lambda saved: {"n": saved["n"]} if saved else {"n": 0},
                      dump=lambda obj: dict(obj))


async def test_nothing_is_written_until_the_commit_then_each_changed_room_once_in_order():
    table = FakeTable()
    states = counter_states(table)
    for room, partition in [("a", 0), ("b", 1), ("a", 0), ("a", 0)]:
        states.get(room, partition)["n"] += 1
        states.changed(room)
    assert table.changelog_topic.log == [] and table.data == {}

    assert await states.write() == 2
    log = table.changelog_topic.log
    # one record at a time: each delivered before the next is sent (Tansu's batch end-offset quirk)
    assert [kind for kind, _ in log] == ["sent", "delivered", "sent", "delivered"]
    assert sorted(rec for kind, rec in log if kind == "sent") == [("a", {"n": 3}, 0), ("b", {"n": 1}, 1)]
    assert table.data == {"a": {"n": 3}, "b": {"n": 1}}

    assert await states.write() == 0, "unchanged rooms are not written again"


async def test_the_table_gets_a_snapshot_not_the_live_object():
    table = FakeTable()
    states = counter_states(table)
    states.get("a", 0)["n"] = 5
    states.changed("a")
    await states.write()
    states.get("a", 0)["n"] = 6  # after the commit: must not leak into what was written
    assert table.data["a"] == {"n": 5}


async def test_a_rebalance_drops_live_objects_and_reloads_the_committed_state():
    table = FakeTable({"a": {"n": 10}})
    states = counter_states(table)
    assert states.get("a", 2) == {"n": 10}  # restored from the table (the changelog)
    states.get("a", 2)["n"] = 12
    states.changed("a")
    await states.write()
    states.get("a", 2)["n"] = 13  # processed after the commit: faust re-reads it after the seek
    states.changed("a")
    states.get("b", 3)["n"] = 1
    states.changed("b")

    states.drop_partitions({2})
    assert states.get("a", 2) == {"n": 12}, "back to the state as of the last commit"
    assert len(states) == 2
    assert await states.write() == 1, "only b is still changed (a's unwritten change was dropped)"
    assert table.data["b"] == {"n": 1}


async def test_changed_without_get_is_ignored_and_a_room_dropped_mid_write_is_skipped():
    table = FakeTable()
    states = counter_states(table)
    states.changed("never-loaded")
    assert await states.write() == 0
    states.get("a", 0)
    states.changed("a")
    states.drop_partitions({0})
    assert await states.write() == 0
    assert table.changelog_topic.log == []


@pytest.mark.parametrize("partitions", [set(), {1}])
async def test_dropping_other_partitions_keeps_the_live_object(partitions):
    table = FakeTable()
    states = counter_states(table)
    states.get("a", 0)["n"] = 7
    states.drop_partitions(partitions)
    assert states.get("a", 0) == {"n": 7}


async def test_a_commit_waits_until_the_outputs_of_an_applied_input_are_sent():
    table = FakeTable()
    states = counter_states(table)
    states.get("a", 0)["n"] = 1
    states.changed("a")
    output_sent = asyncio.Event()

    async def agent():
        states.get("a", 0)["n"] = 2  # an input closed a window ...
        await states.applied("a", output_sent.wait())  # ... whose event is still on its way to the producer

    task = asyncio.create_task(agent())
    await asyncio.sleep(0)
    writer = asyncio.create_task(states.write())
    for _ in range(50):  # every task runs as far as it can (no I/O here: no wall-clock wait needed)
        await asyncio.sleep(0)
    assert not writer.done() and table.changelog_topic.log == [], "wrote a state whose outputs are unsent"
    output_sent.set()
    await task
    assert await writer == 1
    assert table.data["a"] == {"n": 2}
