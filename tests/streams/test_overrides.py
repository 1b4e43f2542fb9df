"""The overrides of faust/mode/aiokafka internals (streams/framework.py) still fit the installed
frameworks: these fail when an overridden method's signature changes or an internal they rely
on disappears, instead of a worker misbehaving at run time."""

from __future__ import annotations

import importlib.metadata
import inspect
import tomllib
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams import framework
from streams.app import create_app
from streams.framework import OVERRIDDEN_METHODS, WRITTEN_FOR, FrameworkVersionMismatch, check_versions
from streams.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_the_installed_versions_are_the_pinned_ones_the_overrides_were_written_for():
    check_versions()
    deps = [d.replace(" ", "") for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]]
    for dist, version in WRITTEN_FOR.items():
        assert f"{dist}=={version}" in deps, f"pyproject.toml must pin {dist}=={version}"


def test_other_versions_stop_the_app_with_one_line_naming_the_pins(monkeypatch):
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda dist: "9.9.9" if dist == "aiokafka" else real(dist))
    with pytest.raises(FrameworkVersionMismatch) as failed:
        create_app(Settings(_env_file=None), "127.0.0.1:1")
    message = str(failed.value)
    assert "\n" not in message and "aiokafka 9.9.9" in message and "aiokafka==0.14.0" in message


def _shape(fn) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("ours, theirs, name", OVERRIDDEN_METHODS,
                         ids=[f"{t.__name__}.{n}" for _o, t, n in OVERRIDDEN_METHODS])
def test_each_overridden_method_still_exists_with_the_same_signature(ours, theirs, name):
    assert hasattr(theirs, name), f"{theirs.__qualname__}.{name} is gone: re-check streams/framework.py"
    assert _shape(getattr(ours, name)) == _shape(getattr(theirs, name)), f"{theirs.__qualname__}.{name} changed"


def test_faust_still_hard_codes_the_fetch_wait_and_aiokafka_still_reads_the_attribute_we_set():
    # if faust stops hard-coding 1500 ms, it may now take a setting: use that and drop override 1
    assert "fetch_max_wait_ms=1500" in inspect.getsource(faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)


def test_faust_still_hands_each_record_over_with_the_wait_the_shortcut_recognises():
    source = inspect.getsource(faust_consumer.Consumer._drain_messages)
    assert "callback(message), self.suspend_flow.wait()" in source
    assert "self._commit_every" in source  # the count-based commit broker_commit_every sets


async def test_the_internal_attributes_the_overrides_read_exist_on_a_real_app():
    settings = Settings(topic_prefix="t", app_id="overrides-test", partitions=4, _env_file=None)
    app = create_app(settings, "127.0.0.1:1")  # no broker is contacted
    consumer = app.consumer
    assert isinstance(consumer, framework.LivelensConsumer)
    for name in ("_unacked_messages", "_paused_partitions", "_buffered_partitions", "_active_partitions",
                 "_read_offset", "_committed_offset", "_acked", "_thread", "flow_active", "suspend_flow"):
        assert hasattr(consumer, name), name
    assert hasattr(consumer._thread, "_ensure_consumer")
    assert isinstance(consumer._thread, framework.FetchWaitConsumerThread)
    assert hasattr(app.topics, "_topics") and hasattr(app.topic("x"), "_queue")
    assert hasattr(app.producer.buffer, "size") and hasattr(app.producer.buffer, "max_messages")
    assert isinstance(app.tables.recovery, framework.StreamResumeRecovery)  # filled faust's _recovery
    assert consumer.delivery_cannot_block() in (True, False)  # runs over the real attributes
    raw = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
    try:
        assert hasattr(raw, "_fetch_max_wait_ms")
    finally:
        await raw.stop()


def test_mode_still_calls_the_sigusr1_handler_we_replace():
    from mode.worker import Worker

    assert "_on_sigusr1" in inspect.getsource(Worker)


async def test_inputs_read_before_a_revoke_are_neither_acked_nor_applied_after_it():
    """Override 9: an input in flight when a rebalance starts is read again from the committed
    offset; acking it would let a commit skip the inputs re-read below it."""
    from faust.types import TP, Message

    settings = Settings(topic_prefix="t", app_id="overrides-stale", partitions=4, _env_file=None)
    app = create_app(settings, "127.0.0.1:1")  # no broker is contacted
    consumer = app.consumer
    app.topics._acking_topics.add("t.chat")  # what subscribing an agent to the topic does
    tp = TP("t.chat", 0)

    def message(offset: int, generation: int) -> Message:
        return Message("t.chat", 0, offset, 0.0, 0, {}, b"k", b"v", None, tp=tp, generation_id=generation)

    app.consumer_generation_id = 7
    assert consumer.ack(message(10, 7)) is True  # current generation: acked as faust does
    assert not framework.is_stale(app, message(11, 7))

    await consumer.on_partitions_revoked(set())  # a rebalance starts while generation 7's inputs are in flight
    late = message(11, 7)
    assert framework.is_stale(app, late)
    assert consumer.ack(late) is False and 11 not in consumer._acked.get(tp, [])

    await consumer.on_partitions_assigned(set(), generation_id=8)
    assert consumer.ack(message(12, 8)) is True  # the next generation's inputs are acked again
    assert framework.is_stale(app, message(13, 7))


async def test_no_commit_when_a_rebalance_began_while_the_states_were_written(monkeypatch):
    """Override 9: the revoke dropped live states, maybe before they were written, so offsets
    taken before it may cover inputs the changelog lacks."""
    settings = Settings(topic_prefix="t", app_id="overrides-commit", partitions=4, _env_file=None)
    app = create_app(settings, "127.0.0.1:1")  # no broker is contacted
    consumer = app.consumer
    committed = []

    async def faust_commit(self, offsets, start_new_transaction=True):
        committed.append(dict(offsets))
        return True

    monkeypatch.setattr(faust_aiokafka.Consumer, "_commit_offsets", faust_commit)
    rebalance = {"now": False}

    async def write_states():
        if rebalance["now"]:
            await consumer.on_partitions_revoked(set())

    app.livelens_before_commit.append(write_states)
    assert await consumer._commit_offsets({"tp": 5}) is True and committed == [{"tp": 5}]
    rebalance["now"] = True
    assert await consumer._commit_offsets({"tp": 9}) is False
    assert committed == [{"tp": 5}]  # faust's commit was not reached
