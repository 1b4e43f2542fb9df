"""The consumer's per-record delivery shortcut (streams.framework.LivelensConsumer.wait_first)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.framework import LivelensConsumer as _Consumer


class _Queue:
    def __init__(self, full: bool = False):
        self._full = full

    def full(self) -> bool:
        return self._full


class _FlowControl:
    def __init__(self, active: bool = True):
        self.active = active

    def is_active(self) -> bool:
        return self.active


def _consumer(*, flow_active=True, suspended=False, flow_control=True, producer_size=0, full_queue=False):
    """A _Consumer with just the state the shortcut reads (no broker, no faust app)."""
    consumer = object.__new__(_Consumer)
    consumer.flow_active = flow_active
    consumer.suspend_flow = asyncio.Event()
    if suspended:
        consumer.suspend_flow.set()
    consumer.app = SimpleNamespace(
        flow_control=_FlowControl(flow_control),
        producer=SimpleNamespace(buffer=SimpleNamespace(size=producer_size, max_messages=100)),
        topics=SimpleNamespace(_topics=[SimpleNamespace(_queue=None), SimpleNamespace(_queue=_Queue()),
                                        SimpleNamespace(_queue=_Queue(full_queue))]))
    return consumer


@pytest.fixture
def faust_wait_first(monkeypatch):
    """Record calls to faust's own wait_first (the slow path) instead of running it."""
    calls = []

    async def recorded(self, *coros, timeout=None):
        calls.append(coros)
        for coro in coros:
            coro.close()
        return None

    monkeypatch.setattr(faust_aiokafka.Consumer, "wait_first", recorded)
    return calls


async def test_a_delivery_that_cannot_block_is_awaited_directly(faust_wait_first):
    consumer = _consumer()
    delivered = []

    async def callback(message):
        delivered.append(message)
        return "done"

    results = await consumer.wait_first(callback("m1"), consumer.suspend_flow.wait())
    assert delivered == ["m1"]
    assert results.results == ["done"] and not results.stopped
    assert faust_wait_first == []


@pytest.mark.parametrize("state", [
    {"flow_active": False}, {"suspended": True}, {"flow_control": False},
    {"producer_size": 101}, {"full_queue": True},
])
async def test_a_delivery_that_could_block_goes_through_faust(faust_wait_first, state):
    consumer = _consumer(**state)

    async def callback(message):
        raise AssertionError("must not run here: faust's wait_first runs it")

    await consumer.wait_first(callback("m1"), consumer.suspend_flow.wait())
    assert len(faust_wait_first) == 1


async def test_other_waits_are_left_to_faust(faust_wait_first):
    consumer = _consumer()

    async def something():
        return 1

    await consumer.wait_first(something(), timeout=1.0)  # Service.wait's shape
    await consumer.wait_first(something(), something())  # not a suspend_flow.wait()
    assert len(faust_wait_first) == 2
