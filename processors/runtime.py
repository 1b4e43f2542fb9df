"""The one runtime around every processor: a processor is a named class with a pure core.

A processor (:class:`RoomProcessor`) says what it reads (``inputs``: topic → accepted event
kinds) and does one thing per input, ``handle(input, state) -> outputs``, on plain events and
its room's state. It never touches Kafka, faust or Prometheus. :func:`attach` runs it in a worker
and does, once for all processors:

- decoding, and dead-lettering what cannot be decoded or is not an accepted kind;
- keeping each room's state: in memory, or — when the processor names a ``table`` — in a faust
  table, written before each offset commit (:class:`streams.state.RoomStates`, restored from its
  changelog after a crash);
- emitting the outputs, stamping ``emitted_at`` and recording latency against the stage budget;
- dead-lettering an input whose ``handle`` raised (processor, exception type and message), so the
  stage carries on and the input is not lost; ``handle`` refuses bad input (e.g. audio at a wrong
  sample rate) by raising :class:`RejectInput` (reason): dead-lettered with that reason and acked;
- acknowledgement: inputs are acked once handled (faust commits their offsets after the outputs
  and the table writes are with the producer); a processor whose in-memory state holds inputs
  (``holds_inputs``: selling points keep the sentences of the open segment) has each input acked
  only once its state no longer holds it, so a restart re-reads exactly what was not finished;
- loading its models once, in a thread, before its first input (``load_models``).

``handle`` may also be a generator: each output is sent as soon as it is yielded (a slow cut
announces a clip before its vertical variant is made), and what it yields as :class:`Later` runs
after the input, in a small pool of its own (``later_workers``), off the processor's agent, so
slow follow-up work (platform renders) never delays the next input of any room.

``runs_on = "loop"`` processors share the worker's one dispatch agent (cheap work: µs per input);
``runs_on = "thread"`` ones (CPU-heavy: a model over a frame) get an agent of their own and run
``handle`` in a thread pool, so the loop stays free. :func:`processors.testing.run_processor`
drives any processor without a broker, the way this runtime does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from processors.base import Processor, release_held
from streams.app import AppContext
from streams.observability import HANDLER_ERRORS
from streams.schemas import Event, OutputEvent, StreamMarker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Input:
    """One decoded input and where it came from."""

    topic: str  # the TOPICS key it was read from ("chat", "commerce", …)
    event: Event
    offset: int = 0  # its Kafka offset (to skip a redelivery after a crash)
    partition: int = 0
    received_at: float = 0.0  # wall clock when the runtime took it (0: unknown)

    @property
    def room_id(self) -> str:
        return self.event.room_id

    def is_marker(self, *markers: str) -> bool:
        return isinstance(self.event, StreamMarker) and (not markers or self.event.marker in markers)


class RejectInput(Exception):
    """Raised by ``handle`` for an input it cannot use (bad audio: wrong sample rate, undecodable),
    before it changes the room's state: the runtime dead-letters it with ``reason`` and acks it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Output:
    topic: str  # the TOPICS key to send it to
    event: OutputEvent


@dataclass(frozen=True)
class Later:
    """Follow-up work an input leads to, yielded by ``handle``: ``work()`` (blocking; it may be a
    generator) runs after the input's outputs are sent, in the processor's pool of
    ``later_workers`` threads, and what it returns or yields is sent as it comes. The input is
    acknowledged without waiting for it: work lost in a crash is not redone (keep it to what can
    be made again on demand, like a render)."""

    work: Callable[[], Iterable[Output]]
    what: str = ""  # for the log when it fails


_DONE = object()


class RoomProcessor:
    """Base of a named processor. Subclasses set the class attributes and implement ``handle``."""

    #: the processor's name (metrics label, dead letters, ``LIVELENS_PROCESSORS``)
    name: ClassVar[str]
    #: topic → the event kinds accepted on it (anything else is dead-lettered)
    inputs: ClassVar[Mapping[str, tuple[type[Event], ...]]]
    #: the field of ``settings.budgets`` its latency is held to (None: no budget)
    budget: ClassVar[str | None] = None
    #: a faust table holding each room's state (None: state lives in memory, per worker)
    table: ClassVar[str | None] = None
    runs_on: ClassVar[Literal["loop", "thread"]] = "loop"
    #: inputs stay unacknowledged while the room's state holds them (see ``held_end_ms``)
    holds_inputs: ClassVar[bool] = False
    #: ``new_state`` blocks (reads a file): the runtime makes a room's state in a thread
    new_state_blocks: ClassVar[bool] = False
    #: threads running the :class:`Later` work ``handle`` yields (an instance may set it from settings)
    later_workers: int = 1

    def __init__(self, settings) -> None:
        self.settings = settings

    def thread_workers(self) -> int:
        """``runs_on = "thread"``: the threads of the pool ``handle`` runs in, off the event loop."""
        return 1

    def load_models(self) -> None:
        """Load what ``handle`` needs (blocking; the runtime calls it once, in a thread, before
        the first input)."""

    def held_end_ms(self, inp: Input) -> int | None:
        """``holds_inputs``: the stream time up to which ``inp`` is held by its room's state, or
        None when the state does not keep it (it is acked at once)."""
        return None

    def held_from_ms(self, state: Any) -> int | None:
        """``holds_inputs``: inputs ending after this stream time are still needed (None: none are)."""
        return None

    def new_state(self, room_id: str) -> Any:
        """A room's state the first time it is seen (in-memory state)."""
        return None

    def load_state(self, saved: Any) -> Any:
        """A room's live state from its table value (None: new room). Table-backed processors."""
        raise NotImplementedError

    def dump_state(self, state: Any) -> Any:
        """A JSON-safe snapshot of ``state`` for the table (never the live object's own dicts)."""
        raise NotImplementedError

    def forget_room(self, inp: Input, state: Any) -> bool:
        """Drop the room's in-memory state after this input (default: its ``end`` marker)."""
        return inp.is_marker("end")

    def handle(self, inp: Input, state: Any) -> list[Output] | Iterator[Output | Later]:
        """Apply one input to its room's state; the events to emit (a list, or yielded as they are
        made, with any :class:`Later` work). Pure: no I/O, no clock reads other than
        ``inp.received_at`` — except what a ``runs_on = "thread"`` processor exists to do (cutting media)."""
        raise NotImplementedError

    def after(self, inp: Input, state: Any) -> None:
        """Work that may wait until ``handle``'s outputs are sent (fusion learns here, so a
        training step never delays the window it learns from). Default: nothing."""


#: sends one output event somewhere other than straight to its topic (e.g. into a batch)
Route = Callable[[OutputEvent], Awaitable[None]]


class Attached:
    """A processor running in a worker (what :func:`attach` returns; timers use ``emit``)."""

    def __init__(self, ctx: AppContext, processor: RoomProcessor, routes: Mapping[str, Route] | None = None,
                 before: Callable[[Input], Awaitable[None]] | None = None):
        self.ctx, self.processor = ctx, processor
        self.routes = dict(routes or {})
        self.before = before
        budget = getattr(ctx.settings.budgets, processor.budget) if processor.budget else None
        self.helper = Processor(ctx, processor.name, budget)
        self.rooms: dict[str, Any] = {}
        self.held: dict[str, deque] = {}  # room -> (end ms, faust event) its state still holds
        self._loaded = False
        self.pool: ThreadPoolExecutor | None = None  # runs_on="thread": where handle's steps run
        self._later_pool: ThreadPoolExecutor | None = None
        self._later_tasks: set[asyncio.Task] = set()
        self.states = None
        if processor.table:
            table = ctx.app.Table(processor.table, default=None, partitions=ctx.settings.partitions)
            ctx.tables.append(processor.table)
            self.states = ctx.room_states(table, load=processor.load_state, dump=processor.dump_state)

    async def state(self, room_id: str, partition: int) -> Any:
        if self.states is not None:
            return self.states.get(room_id, partition)
        state = self.rooms.get(room_id)
        if state is None and room_id not in self.rooms:
            if self.processor.new_state_blocks:  # e.g. a model loaded from its checkpoint: not on the loop
                state = await asyncio.to_thread(self.processor.new_state, room_id)
            else:
                state = self.processor.new_state(room_id)
            state = self.rooms.setdefault(room_id, state)
        return state

    async def emit(self, outputs: Iterable[Output | Later]) -> None:
        for out in outputs:
            if isinstance(out, Later):
                self.start_later(out)
                continue
            route = self.routes.get(out.topic)
            if route is not None:
                await route(out.event)
            else:
                await self.helper.emit(out.topic, out.event)

    async def emit_result(self, result: list[Output] | Iterator[Output | Later]) -> None:
        """Send what ``handle`` returned; a generator's outputs as it yields them (its steps run in
        ``self.pool`` for thread processors)."""
        if not isinstance(result, Iterator):
            await self.emit(result)
            return
        await self._drain(result, self.pool)

    async def _drain(self, items: Iterator, pool: ThreadPoolExecutor | None) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await loop.run_in_executor(pool, next, items, _DONE) if pool else next(items, _DONE)
            if item is _DONE:
                return
            await self.emit([item])

    def start_later(self, later: Later) -> None:
        if self._later_pool is None:
            self._later_pool = ThreadPoolExecutor(max_workers=max(1, int(self.processor.later_workers)),
                                                  thread_name_prefix=f"{self.processor.name}-later")
        task = asyncio.ensure_future(self._run_later(later))
        self._later_tasks.add(task)
        task.add_done_callback(self._later_tasks.discard)

    async def _run_later(self, later: Later) -> None:
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._later_pool, later.work)
            await (self._drain(result, self._later_pool) if isinstance(result, Iterator) else self.emit(result))
        except Exception:  # noqa: BLE001 - follow-up work must not take the agent down; it is counted
            HANDLER_ERRORS.labels(self.processor.name).inc()
            log.exception("%s: later work %s failed", self.processor.name, later.what)

    async def ensure_loaded(self) -> None:
        if not self._loaded:
            await asyncio.to_thread(self.processor.load_models)
            self._loaded = True
            self.ctx.models_loaded(f"{self.processor.name}'s models")

    def hold(self, inp: Input, event) -> None:
        """``holds_inputs``: keep ``event`` unacked if the room's state took it, else ack it."""
        end = self.processor.held_end_ms(inp)
        if end is None:
            event.ack()
        else:
            self.held.setdefault(inp.room_id, deque()).append((end, event))

    def release(self, room_id: str | None = None) -> None:
        """Ack the inputs of ``room_id`` (None: every room) that its state no longer holds."""
        for room in [room_id] if room_id is not None else list(self.held):
            queue = self.held.get(room)
            if not queue:
                continue
            if self.states is not None:  # table-backed: the live object, if it is still loaded
                state = self.states.live(room)
                known = state is not None
            else:
                state, known = self.rooms.get(room), room in self.rooms
            held_from = self.processor.held_from_ms(state) if known else None
            while queue and (held_from is None or queue[0][0] <= held_from):
                queue.popleft()[1].ack()
            if not queue:
                self.held.pop(room, None)

    async def decode(self, event) -> Input | None:
        topic = self.ctx.topic_name(event)
        ev = await self.helper.decode(event.value, topic, self.processor.inputs.get(topic, ()))
        if ev is None:
            return None
        m = event.message
        return Input(topic, ev, m.offset, m.partition, time.time())

    async def apply(self, inp: Input, outputs: list[Output] | Iterator[Output | Later], state: Any) -> None:
        """Send what one input produced, then keep (or forget) its room's state."""
        room = inp.room_id
        if self.states is not None:
            await self.states.applied(room, self.emit_result(outputs) if outputs else None)
            self.processor.after(inp, state)
            return
        if outputs:
            await self.emit_result(outputs)
        self.processor.after(inp, state)
        if self.processor.forget_room(inp, state):
            self.rooms.pop(room, None)

    async def on_event(self, event) -> None:
        """The loop path: decode, handle, emit (errors: the dispatch agent dead-letters)."""
        inp = await self.decode(event)
        if inp is None:
            return
        await self.ensure_loaded()
        state = await self.state(inp.room_id, inp.partition)
        if self.before is not None:
            await self.before(inp)
        if self.ctx.stale(event):  # a rebalance began while it waited: it is read again after it
            return
        try:
            outputs = self.processor.handle(inp, state)
        except RejectInput as exc:
            await self.reject(event, inp, exc)
            return
        await self.apply(inp, outputs, state)

    async def reject(self, event, inp: Input, exc: RejectInput) -> None:
        """Dead-letter an input ``handle`` refused (acked by the caller once this is written)."""
        await self.helper.reject(event.value, exc.reason, inp.topic, inp.room_id)


def attach(ctx: AppContext, processor: RoomProcessor, routes: Mapping[str, Route] | None = None,
           before: Callable[[Input], Awaitable[None]] | None = None) -> Attached:
    """Run ``processor`` in this worker (see the module docstring). ``routes``: output topics whose
    events go to a callable instead (the chat processor batches its insights); ``before``: awaited
    with each decoded input before ``handle`` (loop processors)."""
    attached = Attached(ctx, processor, routes, before)
    if processor.runs_on == "loop" and not processor.holds_inputs:
        ctx.on_event(processor.name, list(processor.inputs), attached.on_event)
        return attached
    # an agent of its own: CPU-heavy work goes to a thread, and held inputs need manual acks
    pool = attached.pool = ThreadPoolExecutor(max_workers=max(1, processor.thread_workers()),
                                              thread_name_prefix=processor.name)
    source = ctx.topic(*processor.inputs)
    manual = processor.holds_inputs

    @ctx.app.agent(source, name=f"{ctx.settings.app_id}.{processor.name}")
    async def own_agent(stream):
        loop = asyncio.get_running_loop()
        async for event in (stream.noack() if manual else stream).events():
            on_failure = (lambda: release_held(event, attached.held.values())) if manual else None
            async with attached.helper.guard(event, on_failure=on_failure):
                inp = await attached.decode(event)
                if inp is None:
                    if manual:
                        event.ack()
                    continue
                await attached.ensure_loaded()
                state = await attached.state(inp.room_id, inp.partition)
                if ctx.stale(event):  # a rebalance began while it waited: it is read again after it
                    continue
                try:
                    if processor.runs_on == "thread":
                        outputs = await loop.run_in_executor(pool, processor.handle, inp, state)
                    else:
                        outputs = processor.handle(inp, state)
                except RejectInput as exc:
                    await attached.reject(event, inp, exc)
                    if manual:
                        event.ack()
                    continue
                if attached.states is not None and ctx.stale(event):
                    continue  # revoked while in the thread: the table state it changed was dropped
                if manual:
                    attached.hold(inp, event)
                await attached.apply(inp, outputs, state)
                if manual:
                    attached.release(inp.room_id)

    return attached
