"""Every override of faust, mode and aiokafka internals, in one place, pinned to their versions.

livelens uses faust-streaming (on mode-streaming) and aiokafka through their public APIs,
except for the overrides below. Each says what it fixes and how to drop it. They reach into
private methods and attributes, so:

* pyproject.toml pins the three packages exactly (``WRITTEN_FOR``);
* :func:`check_versions` (called by ``streams.app.create_app``) stops a worker with one line
  naming these versions when others are installed;
* tests/streams/test_overrides.py fails when an overridden method's signature changes, or an
  attribute or a code shape an override relies on disappears (``OVERRIDDEN_METHODS`` lists them).

To upgrade faust or aiokafka: bump the pins and ``WRITTEN_FOR``, run tests/streams/ and the
integration tests, and re-check each override below against the new source.

Not overrides (public API, listed so nobody looks for them elsewhere): ``streams/state.py``
writes ``Table.data`` and sends to ``Table.changelog_topic`` itself (one record at a time, see
there); the faust app's settings in ``streams/app.py`` are all public.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from time import monotonic

from faust.sensors.monitor import Monitor
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.worker import Worker
from mode.services import WaitResults

from streams.observability import task_stacks

log = logging.getLogger(__name__)

#: the versions the overrides were written for and tested with (pinned in pyproject.toml)
WRITTEN_FOR = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}


class FrameworkVersionMismatch(RuntimeError):
    """Installed faust/mode/aiokafka differ from ``WRITTEN_FOR``; the message is one line."""


def check_versions() -> None:
    """Raise :class:`FrameworkVersionMismatch` unless the installed versions are ``WRITTEN_FOR``."""
    wrong = []
    for dist, wanted in WRITTEN_FOR.items():
        try:
            installed = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            installed = "none"
        if installed != wanted:
            wrong.append(f"{dist} {installed} (written for {wanted})")
    if wrong:
        raise FrameworkVersionMismatch(
            "streams/framework.py overrides faust/aiokafka internals written for "
            + ", ".join(f"{d}=={v}" for d, v in WRITTEN_FOR.items()) + "; installed: " + "; ".join(wrong)
            + " - install the pinned versions (pyproject.toml) or re-check the overrides")


# ------------------------------------------------------------- 1. consumer fetch wait (aiokafka)


class FetchWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """What: the consumer's ``fetch_max_wait_ms`` comes from ``Settings.fetch_max_wait_ms``.

    Why: faust's driver passes ``fetch_max_wait_ms=1500`` literally, and Tansu answers a fetch only
    when the wait runs out: ~370 ms per hop. 10 ms gives ~12 ms per hop (streams/kafka.py quirk 4).
    How: aiokafka reads the private ``_fetch_max_wait_ms`` when it builds its fetcher in
    ``start()``, so setting it on the new consumer takes effect.
    Drop it: when faust has a setting for it (or stops hard-coding 1500): pass it there.
    """

    def _create_worker_consumer(self, transport):  # type: ignore[override]
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = getattr(self.app, "livelens_fetch_max_wait_ms", 10)
        return consumer


# ------------------------------------------------------------- 2.-4. the faust consumer

#: the code of ``asyncio.Event.wait``: how :meth:`LivelensConsumer.wait_first` recognises faust's
#: per-record ``wait_first(callback(message), self.suspend_flow.wait())``
_EVENT_WAIT_CODE = asyncio.Event.wait.__code__


def stale_generations(app) -> set:
    """Consumer-group generations whose partitions were revoked (override 9)."""
    stale = getattr(app, "livelens_stale_generations", None)
    if stale is None:
        stale = app.livelens_stale_generations = set()
    return stale


def is_stale(app, message) -> bool:
    """Was ``message`` read before a rebalance revoked its partition? Such an input must be
    neither applied nor acknowledged: after the rebalance it is read again from the committed
    offset, by whichever worker owns its partition then (override 9)."""
    return message.generation_id is not None and message.generation_id in stale_generations(app)


class LivelensConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer with four overrides (2, 3, 4, 9 below)."""

    #: rebalances begun so far (override 9)
    revocations: int = 0

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        """2. Use :class:`FetchWaitConsumerThread` (override 1). Drop it with override 1."""
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def wait_first(self, *coros, timeout=None):  # type: ignore[override]
        """3. A per-record shortcut. faust's fetch loop hands every record to the conductor with
        ``wait_first(callback(message), suspend_flow.wait())``, so that a delivery blocked on a
        full stream buffer or on suspended flow is abandoned when a rebalance stops the flow.
        That costs four futures and an ``asyncio.wait`` per record: ~10 % of a busy worker's
        main thread (BENCHMARKS.md, session 6). When the delivery cannot block, it is awaited
        directly: the same outcome as faust's when the callback finishes first, which it always
        does then, since nothing else runs while a coroutine does not suspend. Anything else
        goes through faust's own ``wait_first``.
        Drop it: when faust's fetch loop stops paying per record for this wait (or the CPU
        saving no longer shows in ``livelens bench load``)."""
        if (len(coros) == 2 and timeout is None and getattr(coros[1], "cr_code", None) is _EVENT_WAIT_CODE
                and self.delivery_cannot_block()):
            coros[1].close()  # the suspend_flow.wait() faust made for the slow path
            result = await coros[0]
            return WaitResults([coros[0]], [result], False)
        return await super().wait_first(*coros, timeout=timeout)

    def delivery_cannot_block(self) -> bool:
        """True when the conductor's callback for a record would run to its end without
        suspending: the flow is on, the app's flow control is active (it waits otherwise), the
        producer's buffer is within its limit (it flushes otherwise), and no stream buffer is
        full (it waits for room otherwise). Decoding raw bytes never waits."""
        app = self.app
        if not self.flow_active or self.suspend_flow.is_set() or not app.flow_control.is_active():
            return False
        buffer = app.producer.buffer
        if buffer.size > buffer.max_messages:
            return False
        for channel in app.topics._topics:  # the conductor's channels; a queue is made on first use
            queue = channel._queue
            if queue is not None and queue.full():
                return False
        return True

    async def _commit_offsets(self, offsets, start_new_transaction: bool = True) -> bool:
        """4. State kept in memory between commits (streams/state.py) is sent to its changelog
        first (``app.livelens_before_commit``); faust then flushes the producer and commits, so a
        committed input is never missing from the changelog.
        Drop it: when faust offers a pre-commit hook (a signal before offsets are committed)."""
        revocations = self.revocations
        for write in getattr(self.app, "livelens_before_commit", ()):
            await write()
        if self.revocations != revocations:
            # 9 (continued). A rebalance began while the states were written: it dropped the live
            # states of its partitions, maybe before they were written, so ``offsets`` (taken
            # before) may cover inputs the changelog lacks. No commit: they are read again.
            return False
        return await super()._commit_offsets(offsets, start_new_transaction=start_new_transaction)

    async def on_partitions_revoked(self, revoked) -> None:  # type: ignore[override]
        """9. Inputs in flight when a rebalance starts are stale. faust stops delivering new
        records then (stream_wait_empty is off, so it does not wait for the ones a processor is
        handling), forgets the partitions' acks and committed offsets, and seeks every partition
        back to its committed offset once assigned. An input still being handled would otherwise
        (a) be acked after that: with the committed offset forgotten, faust takes the ack, and a
        commit before the re-read inputs below it are acked again commits past them; and
        (b) be applied to a room state reloaded from the table, moving its applied-offset mark
        past the inputs that are re-read next, which are then skipped as redeliveries. Both lost
        inputs in the SIGKILL failover test (tests/integration/test_resilience.py). So the
        generation being revoked is marked stale: :meth:`ack` refuses its inputs and the runtime
        (processors/runtime.py) does not apply them.
        Drop it: when faust waits for in-flight events on revoke without stalling a rebalance, or
        checks an ack's generation itself."""
        self.revocations += 1
        stale_generations(self.app).add(self.app.consumer_generation_id)
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned, generation_id: int = 0) -> None:  # type: ignore[override]
        """9 (continued). A group generation that is assigned again is current, not stale (a
        broker reusing a generation id would otherwise have every later input refused)."""
        stale_generations(self.app).discard(generation_id)
        await super().on_partitions_assigned(assigned, generation_id)

    def ack(self, message) -> bool:  # type: ignore[override]
        """9 (continued). Refuse the ack of an input read before its partition was revoked."""
        if is_stale(self.app, message):
            return False
        return super().ack(message)


class LivelensTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport with :class:`LivelensConsumer`; selected by the broker URL
    scheme ``livelens://`` (``TRANSPORTS.aliases``, faust's public driver registry)."""

    Consumer = LivelensConsumer


TRANSPORTS.aliases["livelens"] = f"{__name__}:LivelensTransport"


# ------------------------------------------------------------- 5. the monitor


class LeanMonitor(Monitor):
    """5. faust's Monitor without its per-message bookkeeping (timings in deques and dicts per
    event, stream and send), which nothing here reads: livelens measures latency itself, in
    Prometheus. Those hooks ran 3-4 times per chat message (once per agent) and took ~3 % of a
    busy worker's main thread. Commit, rebalance and assignment tracking stay as faust has them.
    Uses faust's public ``Monitor=`` app setting; the hooks' signatures are faust's.
    Drop it: pass ``Monitor=`` no more, if the cost stops showing in ``livelens bench load``."""

    def on_message_in(self, tp, offset, message) -> None:
        pass

    def on_stream_event_in(self, tp, offset, stream, event) -> None:
        self.stream_inbound_time[tp] = monotonic()  # read by faust's stalled-stream check
        return None

    def on_stream_event_out(self, tp, offset, stream, event, state=None) -> None:
        pass

    def on_message_out(self, tp, offset, message) -> None:
        pass

    def on_send_initiated(self, producer, topic, message, keysize, valsize) -> None:
        return None

    def on_send_completed(self, producer, state, metadata) -> None:
        pass


# ------------------------------------------------------------- 6. table recovery


class StreamResumeRecovery(Recovery):
    """6. faust's table recovery with the consumer's flow stopped while stream partitions resume.

    Why: when a rebalance's recovery is done, faust resumes the stream partitions and seeks them
    to their committed offsets while the consumer's flow is still on (it was turned on to read the
    changelogs), and only then resumes ``app.flow_control``, which *clears* every stream buffer.
    Records fetched in that window (a few ms, but Tansu answers fetches within ~10 ms) reach an
    agent's buffer, are cleared, and are never fetched again: the fetch position is already past
    them. faust does this in two places: ``_resume_streams`` (a worker without tables) and
    ``on_recovery_completed`` (every worker with tables, after reading their changelogs). The ASR
    restart test lost the whole second half of its audio this way (2 runs in 34; the worker then
    sat idle with the chunks unacked); tests/integration/test_resume_window.py widens the window
    to make the loss certain. Stopping the flow first means nothing is delivered until the
    buffers are cleared and the flow is resumed, from the committed offsets (the stream
    partitions were paused until then, so nothing of theirs was delivered earlier).
    Drop it: when faust stops the flow before it resumes stream partitions (re-run
    tests/integration/test_resume_window.py without it to see).
    """

    async def _resume_streams(self, generation_id: int = 0) -> None:
        self.app.consumer.stop_flow()
        await super()._resume_streams(generation_id)

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.app.consumer.stop_flow()
        await super().on_recovery_completed(generation_id)


class LivelensTableManager(TableManager):
    """faust's TableManager with :class:`StreamResumeRecovery` (faust's public ``TableManager=``
    app setting; the ``recovery`` property fills faust's private ``_recovery`` as faust's does).
    Drop it with override 6."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = StreamResumeRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


# ------------------------------------------------------------- 7. the worker's SIGUSR1 handler


class TaskDumpingWorker(Worker):
    """7. faust's worker; SIGUSR1 logs where every task waits (``task_stacks``) and the consumer's
    partition state (mode's default handler, ``_on_sigusr1``, prints each task's outer frame
    only: useless for a stuck agent). ``livelens.workers.WorkerProcess.dump_tasks`` sends it.
    Drop it: when mode's dump shows full stacks."""

    def _on_sigusr1(self) -> None:
        try:
            consumer = describe_consumer(self.app)
        except Exception as exc:  # noqa: BLE001 - a dump must not take the worker down
            consumer = f"(no consumer state: {exc!r})"
        log.warning("SIGUSR1: where the tasks wait\n%s\nconsumer:\n%s", task_stacks(), consumer)


def describe_consumer(app) -> str:
    """8. Read-only diagnostics: the faust consumer's flow and per-partition state, from faust's
    and aiokafka's private attributes, for a stuck-worker dump (read across threads without
    locks: a snapshot for a human, nothing decides on it). Changelog partitions and partitions
    that never had data are left out. Drop it with override 7."""
    consumer = app.consumer
    lines = [f"flow_active={consumer.flow_active} in_recovery={app.in_recovery} "
             f"unacked={len(consumer._unacked_messages)} paused={sorted(map(str, consumer._paused_partitions))} "
             f"buffered={sorted(map(str, consumer._buffered_partitions))}"]
    active = consumer._active_partitions
    try:
        aio = consumer._thread._ensure_consumer()
        assignment = aio._fetcher._subscriptions.subscription.assignment
    except Exception:  # noqa: BLE001 - not started, or between assignments
        assignment = None
    for tp in sorted(consumer.assignment()):
        state = assignment.state_value(tp) if assignment is not None else None
        read = consumer._read_offset.get(tp)
        if read is None and (state is None or not state.highwater):
            continue
        lines.append(
            f"  {tp.topic}[{tp.partition}] active={active is None or tp in active} read={read} "
            f"committed={consumer._committed_offset.get(tp)} acked={list(consumer._acked.get(tp, []))[:5]} "
            + (f"position={state._position} highwater={state.highwater} status={state._status} paused={state._paused}"
               if state is not None else "no aiokafka state"))
    return "\n".join(lines)


#: (our class, the framework class, method): each override's signature must stay the framework's
OVERRIDDEN_METHODS = [
    (FetchWaitConsumerThread, faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer"),
    (LivelensConsumer, faust_aiokafka.Consumer, "_new_consumer_thread"),
    (LivelensConsumer, faust_aiokafka.Consumer, "wait_first"),
    (LivelensConsumer, faust_aiokafka.Consumer, "_commit_offsets"),
    (LivelensConsumer, faust_aiokafka.Consumer, "on_partitions_revoked"),
    (LivelensConsumer, faust_aiokafka.Consumer, "on_partitions_assigned"),
    (LivelensConsumer, faust_aiokafka.Consumer, "ack"),
    *[(LeanMonitor, Monitor, name) for name in ("on_message_in", "on_stream_event_in", "on_stream_event_out",
                                                "on_message_out", "on_send_initiated", "on_send_completed")],
    (StreamResumeRecovery, Recovery, "_resume_streams"),
    (StreamResumeRecovery, Recovery, "on_recovery_completed"),
    (TaskDumpingWorker, Worker, "_on_sigusr1"),
]
