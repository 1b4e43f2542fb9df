"""Chat understanding: each message → sentiment, emotion, live-commerce intent (``chat_insights``);
per room and window → sentiment/emotion mix, intent counts, most-asked questions (``chat_windows``).

The models are :class:`models.understanding.chat.ChatAnalyzer` (~0.05 ms per message, on the loop)
and :class:`models.understanding.streaming.ChatAggregator`, whose window state lives in the faust
table ``chat_rooms`` (JSON snapshot, written at each offset commit: :class:`streams.state.RoomStates`),
so a restarted worker continues the open window.

Insights leave as one ``ChatInsights`` record per room and flush interval
(``understanding.insight_batch_ms``, :class:`InsightBatcher`): a hot room's 50 messages/s are 10
records, not 50.

With ``understanding.chat_encoder`` set (e.g. "use-multilingual"), the pending insights of each
flush are re-decided by the encoder heads (``chat_encoder_batch`` messages per encoder call, each
cut to 256 characters; no new call after ``chat_encoder_budget_ms``: the rest keep the fast
decision) before they are sent: in a child process of their own (``chat_encoder_process``,
processors/chat_refiner.py: the loop's core stays free) or in a thread (:meth:`ChatProcessor.refine`).
The per-message decision on the loop stays the fast lexicon one, and neither the dispatch agent
nor the recommender, which reads the chat topic itself, ever waits for the encoder: a full batch
is flushed by a task of its own. The room's chat windows keep the fast decisions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from models.understanding.chat import WEIGHTS_PATH, ChatAnalysis, ChatAnalyzer

from models.understanding.streaming import ChatAggregator
from processors.base import Processor
from processors.chat_refiner import ChatRefinerProcess, analyze_until
from processors.runtime import Input, Output, RoomProcessor, attach
from processors.shared import TEXT_KEEP, SharedChatAnalysis, shared_chat_analysis
from streams.app import AppContext
from streams.observability import DROPPED
from streams.schemas import ChatInsight, ChatInsights, ChatMessage, ChatWindow, StreamMarker

TABLE = "chat_rooms"
log = logging.getLogger(__name__)


class InsightBatcher:
    """Pending chat insights per room, sent as one :class:`ChatInsights` per room and flush.

    A flush happens every ``insight_batch_ms`` (a faust timer), when a room holds ``max_items``,
    at a room's end marker, and right before offsets are committed (``app.livelens_before_commit``):
    like room state (streams/state.py), a committed input's insight is always with the producer,
    which faust flushes before the commit. One lock orders the flushes, so a room's batches go
    out oldest first and a commit never passes a flush still sending.
    """

    def __init__(self, send: Callable[[ChatInsights], Awaitable[None]], max_items: int,
                 refine: Callable[[list[ChatInsight]], Awaitable[None]] | None = None,
                 prefetch_ms: int = 0, prefetch_items: int = 64):
        self._send = send
        self._refine = refine  # re-decides a flush's insights in place before they are sent
        self.max_items = max(1, max_items)
        #: with a refiner: insights are handed to it as they come, once the oldest not handed
        #: yet is ``prefetch_ms`` old or ``prefetch_items`` wait, so a flush only waits for the
        #: last few (0: a flush hands all of its insights over itself)
        self.prefetch_s, self.prefetch_items = max(0, prefetch_ms) / 1000.0, max(1, prefetch_items)
        self._fresh: list[ChatInsight] = []  # added, not handed to the refiner yet
        self._fresh_since = 0.0
        self._refining: dict[int, asyncio.Future] = {}  # id(insight) -> the refinement it is in
        self._pending: dict[str, list[ChatInsight]] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()  # early flushes of full batches (with a refiner)
        #: flushes in the order they were taken from ``_pending``; each sender sends the oldest
        #: under the lock, so a room's batches leave in order whichever task gets the lock first
        self._queue: deque[list[tuple[str, list[ChatInsight]]]] = deque()

    async def add(self, insight: ChatInsight) -> None:
        items = self._pending.setdefault(insight.room_id, [])
        items.append(insight)
        if self._refine is not None and self.prefetch_s > 0:
            now = time.monotonic()
            if not self._fresh:
                self._fresh_since = now
            self._fresh.append(insight)
            if len(self._fresh) >= self.prefetch_items or now - self._fresh_since >= self.prefetch_s:
                self._hand_fresh()
        if len(items) >= self.max_items:
            if self._refine is None:
                await self.flush(insight.room_id)
                return
            # with a refiner, a flush waits for the encoder: a task of its own sends it, so the
            # dispatch agent (every light processor's inputs) never waits; the lock keeps the order
            self._queue.append([(insight.room_id, self._pending.pop(insight.room_id))])
            task = asyncio.ensure_future(self._send_oldest())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def flush(self, room_id: str | None = None) -> int:
        """Send the pending insights of ``room_id`` (None: of every room); the records sent.
        Waits for the early flushes already started (a commit after it covers them too)."""
        batches = [(room, self._pending.pop(room, None))
                   for room in ([room_id] if room_id is not None else list(self._pending))]
        self._queue.append([(room, items) for room, items in batches if items])
        sent = await self._send_oldest()
        if self._tasks:
            await asyncio.gather(*list(self._tasks))
        return sent

    def _hand_fresh(self) -> None:
        """Start refining the insights added since the last hand-off (one call, in order)."""
        items, self._fresh = self._fresh, []
        task = asyncio.ensure_future(self._refine(items))
        for item in items:
            self._refining[id(item)] = task

    async def _send_oldest(self) -> int:
        async with self._lock:
            batches = self._queue.popleft()
            sent = 0
            if batches and self._refine is not None:
                items = [item for _room, items in batches for item in items]
                if self.prefetch_s > 0:  # most are refined or on their way: hand over the rest, wait
                    if self._fresh:
                        self._hand_fresh()
                    await asyncio.gather(*{self._refining.pop(id(i)) for i in items if id(i) in self._refining})
                else:  # every room of this flush in one hand-off
                    await self._refine(items)
            for room, items in batches:
                if items:
                    await self._send(ChatInsights(
                        room_id=room, event_id=f"{items[0].event_id}s", stream_ms=items[-1].stream_ms,
                        ingested_at=min(i.ingested_at for i in items), items=items))
                    sent += 1
            return sent

    def pending(self) -> int:
        return sum(len(items) for items in self._pending.values())


class ChatProcessor(RoomProcessor):
    """Each message → a :class:`ChatInsight`; each room's window → a :class:`ChatWindow`."""

    name = "chat"
    budget = "chat"
    table = TABLE
    inputs = {"chat": (ChatMessage, StreamMarker)}

    def __init__(self, settings, analysis: SharedChatAnalysis, refiner: ChatAnalyzer | None = None) -> None:
        super().__init__(settings)
        self.analyze = analysis
        self.u = settings.understanding
        #: the encoder heads that refine insight batches (None: off, or not loaded yet)
        self.refiner = refiner
        self.encoder = "" if self.u.chat_encoder.lower() in ("", "none", "off") else self.u.chat_encoder
        #: the encoder heads in a child process (``chat_encoder_process``); None: in this one
        self.child = ChatRefinerProcess(self.encoder, self.u.chat_weights, self.u.chat_encoder_batch,
                                        nice=self.u.chat_encoder_nice, precision=self.u.encoder_precision) \
            if self.encoder and self.u.chat_encoder_process and refiner is None else None

    def load_models(self) -> None:
        """The encoder heads, when ``understanding.chat_encoder`` names an encoder (the runtime
        calls this in a thread before the first input: ~1 s and ~130 MB), in the child process
        when there is one (``chat_encoder_process``)."""
        if self.child is not None:
            self.child.start()
        elif self.encoder:
            self._load_refiner()

    def _load_refiner(self) -> None:
        if self.refiner is None:
            u = self.u
            self.refiner = ChatAnalyzer(u.chat_weights or WEIGHTS_PATH, encoder=self.encoder,
                                        encoder_precision=u.encoder_precision)

    async def refine_off_loop(self, items: list[ChatInsight], deadline: float | None = None) -> int:
        """:meth:`refine`, off the event loop: in the child process, or else in a thread."""
        if self.child is None:
            return await asyncio.to_thread(self.refine, items, deadline)
        return self._apply(items, await self.child.analyze([i.text for i in items], deadline))

    def _apply(self, items: list[ChatInsight], analyses: list[ChatAnalysis]) -> int:
        """Write the encoder's analyses onto the first insights; how many were refined."""
        for item, analysis in zip(items, analyses):
            apply_analysis(item, analysis)
            item.refined_by = self.encoder
        return len(analyses)

    def refine(self, items: list[ChatInsight], deadline: float | None = None) -> int:
        """Re-decide ``items`` in place with the encoder heads, ``chat_encoder_batch`` per call;
        the number refined (0 when no encoder is configured). No new call starts after
        ``deadline`` (``time.monotonic()``): the rest keep the fast decision, so a busy machine
        sheds encoder work instead of holding insights back. Blocking: run it in a thread."""
        if not self.encoder:
            return 0
        self._load_refiner()
        return self._apply(items, analyze_until(self.refiner, [i.text for i in items], self.u.chat_encoder_batch,
                                                deadline))

    def load_state(self, saved) -> ChatAggregator:
        return ChatAggregator.from_state(saved) if saved else ChatAggregator(self.u.chat_window_ms, self.u.top_questions)

    def dump_state(self, agg: ChatAggregator):
        return agg.to_state()

    def handle(self, inp: Input, agg: ChatAggregator) -> list[Output]:
        ev = inp.event
        if isinstance(ev, StreamMarker):
            return self.windows(ev.room_id, agg.flush(), ev.ingested_at) if ev.marker in ("end", "flush") else []
        analysis = self.analyze(ev)
        insight = ChatInsight(
            room_id=ev.room_id, event_id=f"{ev.event_id}:insight", stream_ms=ev.stream_ms,
            ingested_at=ev.ingested_at, message_id=ev.event_id, user_id=ev.user_id, text=ev.text[:TEXT_KEEP],
            sentiment="neutral", emotion="none", intent="other", confidence=0.0)
        apply_analysis(insight, analysis)
        return [Output("chat_insights", insight)] + self.windows(ev.room_id, agg.add(ev.stream_ms, ev.text, analysis),
                                                                 ev.ingested_at)

    @staticmethod
    def windows(room_id: str, windows, ingested_at: float) -> list[Output]:
        return [Output("chat_windows", ChatWindow(
            room_id=room_id, event_id=f"{room_id}:chat_window:{w.start_ms}", stream_ms=w.end_ms,
            ingested_at=ingested_at, start_ms=w.start_ms, end_ms=w.end_ms, messages=w.messages,
            sentiment_mix=w.sentiment_mix, emotion_mix=w.emotion_mix, intent_counts=w.intent_counts,
            top_questions=[q for q, _n in w.top_questions], top_question_counts=[n for _q, n in w.top_questions]))
            for w in windows]


def apply_analysis(insight: ChatInsight, analysis: ChatAnalysis) -> None:
    """Write a message's analysis onto its insight (decisions, confidence and scores)."""
    insight.sentiment, insight.emotion = analysis.sentiment.label, analysis.emotion.label
    insight.intent = analysis.intent.label
    insight.confidence = min(max(analysis.confidence, 0.0), 1.0)
    if analysis.sentiment_score is not None:
        insight.sentiment_score = round(min(max(float(analysis.sentiment_score), 0.0), 1.0), 4)
    insight.emotion_scores = dict(analysis.emotion_probabilities or {})


def register(ctx: AppContext) -> None:
    s = ctx.settings
    u = s.understanding
    processor = ChatProcessor(s, shared_chat_analysis(ctx.extras, s))
    proc = Processor(ctx, processor.name, s.budgets.chat)

    async def send_insights(batch: ChatInsights) -> None:
        now = time.time()
        for item in batch.items:
            item.processor, item.emitted_at = processor.name, now
        await proc.emit("chat_insights", batch)

    async def refine_insights(items: list[ChatInsight]) -> None:
        try:  # off the loop: the encoder costs ~0.3-0.5 ms a distinct message in batches
            refined = await processor.refine_off_loop(items, time.monotonic() + u.chat_encoder_budget_ms / 1000.0)
            if refined < len(items):  # the flush's budget ran out: these keep the fast decision
                DROPPED.labels(processor.name, "encoder_refinement").inc(len(items) - refined)
        except Exception:  # noqa: BLE001 - the fast decisions still go out; nothing is lost
            log.exception("chat: encoder refinement failed; %d insights keep the lexicon decision", len(items))

    batch_s = u.insight_batch_ms / 1000.0
    insights = InsightBatcher(send_insights, u.insight_batch_max if batch_s > 0 else 1,
                              refine=refine_insights if processor.encoder else None,
                              prefetch_ms=u.chat_encoder_prefetch_ms, prefetch_items=u.chat_encoder_batch)
    ctx.app.livelens_before_commit.append(insights.flush)
    if batch_s > 0:
        @ctx.app.timer(batch_s, name=f"{s.app_id}.chat-insights-flush")
        async def flush_insights() -> None:  # no parameters: faust passes the app to a task that has one
            await insights.flush()

    async def flush_room_at_its_end(inp: Input) -> None:
        if inp.is_marker("end", "flush"):  # the room's insights go out before its last window
            await insights.flush(inp.room_id)

    attach(ctx, processor, routes={"chat_insights": insights.add}, before=flush_room_at_its_end)
