"""Drive a processor without a broker, the way the runtime does (bytewax's testing sources/sinks idea).

    outputs = run_processor(MetricsProcessor(settings), [chat1, order1, end_marker])
    assert [o.event.kind for o in outputs] == ["room_metrics"]

Each event goes to the topic its kind is read from (``topic_of``), or give ``(topic, event)``
pairs, or ``(topic, event, offset)`` to replay a redelivery. Offsets otherwise count per topic from 0, rooms keep their state across the call, and a
table-backed processor's state can be put through its table round trip (``restore_every``)
to check that what it writes is enough to carry on after a crash. A generator ``handle`` is
drained, and the :class:`~processors.runtime.Later` work it yields runs after the input (inline:
its outputs follow the input's), as the runtime runs it in its own pool.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from processors.runtime import Input, Later, Output, RejectInput, RoomProcessor
from streams.schemas import Event

#: where each input kind normally arrives (processors that read another topic get pairs)
TOPIC_OF_KIND = {
    "audio": "audio", "frame": "frames", "segment": "segments", "chat": "chat", "commerce": "commerce",
    "transcript": "transcripts", "selling_point": "selling_points", "fused": "fused", "fused_window": "fused", "alert": "alerts",
    "room_metrics": "room_metrics", "chat_window": "chat_windows", "recommendation": "recommendations",
    "clip": "clips", "dead_letter": "dead_letters", "vision": "vision", "prosody": "prosody",
    "chat_insights": "chat_insights", "compliance": "compliance", "forecast": "forecasts",
    "promotion": "room_activity", "retention": "room_activity",
}


def topic_of(event: Event) -> str:
    return TOPIC_OF_KIND[event.kind]


class ProcessorRun:
    """A processor and its rooms' states across several ``feed`` calls."""

    def __init__(self, processor: RoomProcessor, restore_every: int = 0):
        self.processor = processor
        self.states: dict[str, Any] = {}
        self.offsets: dict[str, int] = defaultdict(int)
        self.restore_every = restore_every
        self._inputs = 0
        #: inputs ``handle`` refused (``RejectInput``) with the reason: the runtime dead-letters them
        self.rejected: list[tuple[Input, str]] = []

    def feed(self, events: Iterable[Event | tuple], received_at: float | None = None) -> list[Output]:
        """The outputs of ``events``, in order. Inputs of a kind the processor does not accept on
        that topic are skipped (the runtime would dead-letter them)."""
        outputs: list[Output] = []
        for item in events:
            topic, event, *given = item if isinstance(item, tuple) else (self._topic_of(item), item)
            if not isinstance(event, self.processor.inputs.get(topic, ())):
                continue
            offset = given[0] if given else self.offsets[topic]
            self.offsets[topic] = max(self.offsets[topic], offset + 1)
            inp = Input(topic, event, offset, 0, event.ingested_at if received_at is None else received_at)
            state = self._state(event.room_id)
            later: list[Later] = []
            try:
                for out in self.processor.handle(inp, state):
                    (later if isinstance(out, Later) else outputs).append(out)
            except RejectInput as exc:
                self.rejected.append((inp, exc.reason))
                continue
            self.processor.after(inp, state)
            for work in later:
                outputs += list(work.work())
            self._inputs += 1
            if self.processor.table:
                if self.restore_every and self._inputs % self.restore_every == 0:
                    # a crash: the next owner loads what the table was given
                    self.states[event.room_id] = self.processor.load_state(self.processor.dump_state(state))
            elif self.processor.forget_room(inp, state):
                self.states.pop(event.room_id, None)
        return outputs

    def _input_for(self, event: Event) -> Input:
        """The :class:`Input` the runtime would make of ``event`` (for processor hooks in tests)."""
        return Input(self._topic_of(event), event, self.offsets[self._topic_of(event)], 0, event.ingested_at)

    def _topic_of(self, event: Event) -> str:
        if event.kind == "marker":  # markers go on every input topic: say which, unless there is one
            topics = list(self.processor.inputs)
            if len(topics) != 1:
                raise ValueError(f"{self.processor.name} reads {topics}: give markers as (topic, marker)")
            return topics[0]
        return topic_of(event)

    def _state(self, room_id: str) -> Any:
        if room_id not in self.states:
            p = self.processor
            self.states[room_id] = p.load_state(None) if p.table else p.new_state(room_id)
        return self.states[room_id]


def run_processor(processor: RoomProcessor, events: Iterable[Event | tuple],
                  restore_every: int = 0) -> list[Output]:
    """All outputs of ``processor`` over ``events`` (see the module docstring)."""
    return ProcessorRun(processor, restore_every).feed(events)
