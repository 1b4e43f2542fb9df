"""What several processors share, in one explicit place (processors never import each other).

- :func:`observe_windows`: one input onto a room's :class:`models.room_metrics.TumblingRoomMetrics`
  (the metrics processor publishes those windows; the recommender keeps windows of its own over
  the same inputs, one broker hop sooner than ``room_metrics``);
- :class:`SharedChatAnalysis`: one chat analysis per message per worker, whichever processor
  (chat, recommender) sees the message first.
"""

from __future__ import annotations

from models.room_metrics import TumblingRoomMetrics
from models.understanding.chat import ChatAnalysis, ChatAnalyzer
from streams.schemas import ChatMessage, CommerceEvent, StreamMarker

#: the topics a room's rate windows count
WINDOW_SOURCES = ("chat", "commerce")
#: chars of a chat message carried on its insight (the full text stays on the input topic)
TEXT_KEEP = 256


def observe_windows(model: TumblingRoomMetrics, source: str, position: int | None,
                    ev: ChatMessage | CommerceEvent | StreamMarker) -> list[dict]:
    """Feed one input of ``source`` (its Kafka offset as ``position``) to a room's windows; the
    windows it closed."""
    if isinstance(ev, StreamMarker):
        if ev.marker == "end":
            return model.end_of_input(source)
        if ev.marker == "flush":  # the metrics processor's idle flush, sent through the room's chat partition
            return model.flush(final=False)
        return model.observe_watermark(source, ev.stream_ms)  # start / watermark
    if isinstance(ev, ChatMessage):
        return model.observe_chat(source, position, ev.stream_ms, ev.user_id)
    return model.observe_commerce(source, position, ev.stream_ms, ev.type, ev.count, ev.amount)


class SharedChatAnalysis:
    """One :class:`ChatAnalyzer` per worker, and one analysis per chat message.

    Why: the recommender reads the chat topic itself instead of the chat processor's insights (one
    broker hop, ~50-100 ms under load, sooner); when both run in one worker, whichever sees a
    message first analyses it and the other reuses the result (bounded, oldest dropped first).
    """

    MAX_KEPT = 4096

    def __init__(self, analyzer: ChatAnalyzer):
        self.analyzer = analyzer
        self._by_event: dict[str, ChatAnalysis] = {}

    def __call__(self, message: ChatMessage) -> ChatAnalysis:
        hit = self._by_event.pop(message.event_id, None)  # the second reader is the last: forget it
        if hit is not None:
            return hit
        analysis = self.analyzer.analyze(message.text)
        if len(self._by_event) >= self.MAX_KEPT:
            del self._by_event[next(iter(self._by_event))]
        self._by_event[message.event_id] = analysis
        return analysis


def shared_chat_analysis(extras: dict, settings) -> SharedChatAnalysis:
    """The worker's :class:`SharedChatAnalysis` (``extras``: the worker's shared components, made
    by whichever processor asks first)."""
    if "chat_analysis" not in extras:
        u = settings.understanding
        # the fast lexicon + n-gram heads, per message on the loop; the encoder heads
        # (understanding.chat_encoder) refine the chat processor's insight batches in a thread
        analyzer = ChatAnalyzer(u.chat_weights, encoder=None) if u.chat_weights else ChatAnalyzer(encoder=None)
        extras["chat_analysis"] = SharedChatAnalysis(analyzer)
    return extras["chat_analysis"]
