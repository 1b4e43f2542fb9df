"""A room's live state, as the recommendation policy sees it.

The recommender processor keeps one :class:`RoomState` per room and feeds it plain values from
events (chat insights, room metrics, selling points, fused windows, alerts). The policy reads it
through :meth:`RoomState.features` (numbers, for rule conditions) and :meth:`RoomState.context`
(numbers and texts, for message templates).

Everything is windowed in *stream time* (ms since the room's stream start), so replays and tests
are deterministic. Observations are O(1) amortised; old entries are pruned lazily.
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

#: Chat intents the understanding stage emits (ChatInsight.intent). Unknown intents count as "other".
INTENTS: tuple[str, ...] = (
    "asks_size_fit",
    "asks_price",
    "asks_stock_shipping_returns",
    "asks_attribute",
    "purchase_signal",
    "praise",
    "complaint",
    "spam_ad",
    "other",
)
#: Intents that are questions: their texts feed "the most asked question".
QUESTION_INTENTS = frozenset({"asks_size_fit", "asks_price", "asks_stock_shipping_returns", "asks_attribute"})

NAN = math.nan


def _numeric_feature_names() -> tuple[str, ...]:
    per_intent = [f"{intent}_{suffix}" for intent in INTENTS for suffix in ("count", "share")]
    return tuple(
        per_intent
        + [
            "chat_messages",  # chat insights in the window
            "negative_share",  # negative share of chat in the window
            "negative_baseline",  # slow moving average of negative_share (the room's normal)
            "negative_surge",  # negative_share - negative_baseline
            "chat_rate",  # messages/s in the latest metrics window
            "chat_rate_peak",  # highest chat_rate over the history
            "chat_rate_drop",  # 1 - chat_rate / chat_rate_peak (0 = at peak, 1 = silent)
            "viewers",
            "viewers_peak",
            "viewers_drop",  # 1 - viewers / viewers_peak
            "orders_per_min",
            "orders_per_min_peak",
            "selling_point_orders",  # orders right after the selling point that preceded the last orders
            "selling_point_age_s",  # seconds since that selling point ended
            "low_stock",  # lowest known stock among products (NaN if none known)
            "top_product_asks",  # chat mentions of the most mentioned product in the window
            "top_question_count",  # repeats of the most asked question text in the window
            "highlight_score",  # latest fused highlight score
            "highlight_age_s",  # seconds since that fused window ended
            "open_alerts",
            "stream_age_s",
        ]
    )


#: Every numeric feature a rule condition may name. Unknown data is NaN (a condition on NaN is false).
FEATURE_NAMES: tuple[str, ...] = tuple(dict.fromkeys(_numeric_feature_names()))
#: Text placeholders a message template may use, besides the numeric features.
TEXT_NAMES: tuple[str, ...] = (
    "room_id",
    "top_product",
    "top_question",
    "top_complaint",
    "selling_point",
    "selling_point_text",
    "low_stock_product",
    "current_product",
)

_PUNCT = re.compile(r"[\s\.,!?;:，。！？；：、~～…\"'“”‘’()（）\[\]【】]+")


def normalize_question(text: str) -> str:
    """Key for counting repeats of one question: lower case, no spaces or punctuation."""
    return _PUNCT.sub("", text).lower()


@dataclass
class _ChatEntry:
    ts_ms: int
    intent: str
    negative: bool
    question_key: str
    product: str
    complaint_key: str


@dataclass
class SellingPointMark:
    label: str
    start_ms: int
    end_ms: int
    text: str = ""
    product: str = ""
    orders_after: int = 0  # orders in metrics windows attributed to this selling point


@dataclass
class RoomState:
    """Live per-room state. Feed it with the ``observe_*`` methods; read it with :meth:`features`.

    ``window_ms`` is the chat window for intent counts and sentiment; ``history_ms`` bounds the
    peaks (viewers, chat rate, orders) and the selling-point history; ``attribution_ms`` is how
    long after a selling point ends its orders still count for it.
    """

    room_id: str
    window_ms: int = 60_000
    history_ms: int = 600_000
    attribution_ms: int = 120_000
    #: The negative-share baseline is a moving average over messages that have LEFT the window
    #: (so a surge inside the window cannot drag its own baseline up); it starts at the prior.
    negative_prior: float = 0.15
    baseline_alpha: float = 0.02  # weight of each message leaving the window

    # chat
    _chat: deque[_ChatEntry] = field(default_factory=deque, repr=False)
    intent_counts: Counter[str] = field(default_factory=Counter)
    question_counts: Counter[str] = field(default_factory=Counter)
    question_texts: dict[str, str] = field(default_factory=dict)  # key -> a readable original
    product_counts: Counter[str] = field(default_factory=Counter)
    complaint_counts: Counter[str] = field(default_factory=Counter)
    negative_in_window: int = 0
    negative_baseline: float = NAN  # set from negative_prior in __post_init__
    # metrics: (window_end_ms, value) "monotonic max" queues: values strictly decrease from the
    # front, so the front is the peak over the history and each update is O(1) amortised
    chat_rate: float = NAN
    viewers: float = NAN
    orders_per_min: float = NAN
    _chat_rate_hist: deque[tuple[int, float]] = field(default_factory=deque, repr=False)
    _viewers_hist: deque[tuple[int, float]] = field(default_factory=deque, repr=False)
    _orders_hist: deque[tuple[int, float]] = field(default_factory=deque, repr=False)
    last_orders_ms: int | None = None
    # commerce / product
    stock: dict[str, int] = field(default_factory=dict)
    current_product: str = ""
    selling_points: deque[SellingPointMark] = field(default_factory=deque)
    # fusion / alerts
    highlight_score: float = NAN
    highlight_end_ms: int | None = None
    open_alerts: dict[str, str] = field(default_factory=dict)  # dedup_key -> alert_type
    # the policy's memory for this room (cooldown and dedup survive with the room's state)
    last_fired_ms: dict[str, int] = field(default_factory=dict)  # rule name -> stream ms
    live_dedup: dict[str, int] = field(default_factory=dict)  # dedup_key -> expires_ms
    latest_ms: int = 0

    def __post_init__(self) -> None:
        if math.isnan(self.negative_baseline):
            self.negative_baseline = self.negative_prior

    # ------------------------------------------------------------------ observations

    def observe_chat_insight(
        self,
        ts_ms: int,
        intent: str,
        sentiment: str,
        text: str = "",
        product: str | None = None,
    ) -> None:
        """One classified chat message. ``product`` is the product it mentions, if known.
        A message older than the window (delivered late) is ignored."""
        if ts_ms < self.latest_ms - self.window_ms:
            return
        intent = intent if intent in INTENTS else "other"
        negative = sentiment == "negative"
        question_key = normalize_question(text) if intent in QUESTION_INTENTS and text else ""
        complaint_key = normalize_question(text) if intent == "complaint" and text else ""
        entry = _ChatEntry(ts_ms, intent, negative, question_key, product or "", complaint_key)
        self._chat.append(entry)
        self.intent_counts[intent] += 1
        self.negative_in_window += negative
        if question_key:
            self.question_counts[question_key] += 1
            self.question_texts.setdefault(question_key, text.strip())
        if complaint_key:
            self.complaint_counts[complaint_key] += 1
            self.question_texts.setdefault(complaint_key, text.strip())
        if entry.product:
            self.product_counts[entry.product] += 1
        self._advance(ts_ms)

    def observe_metrics(
        self,
        window_end_ms: int,
        messages_per_s: float | None = None,
        viewers: int | None = None,
        orders: int = 0,
        orders_per_min: float | None = None,
        stock: int | None = None,
        product: str | None = None,
    ) -> None:
        """One RoomMetrics window (its end time and values). ``stock`` is for ``product``
        (or the current product when ``product`` is None)."""
        if messages_per_s is not None:
            self.chat_rate = float(messages_per_s)
            _push_max(self._chat_rate_hist, window_end_ms, self.chat_rate)
        if viewers is not None:
            self.viewers = float(viewers)
            _push_max(self._viewers_hist, window_end_ms, self.viewers)
        if orders_per_min is not None:
            self.orders_per_min = float(orders_per_min)
            _push_max(self._orders_hist, window_end_ms, self.orders_per_min)
        if stock is not None:
            self.observe_stock(product or self.current_product or "", stock)
        if orders > 0:
            self.last_orders_ms = window_end_ms
            mark = self._selling_point_before(window_end_ms)
            if mark is not None:
                mark.orders_after += orders
        self._advance(window_end_ms)

    def observe_stock(self, product: str, stock: int) -> None:
        self.stock[product] = int(stock)

    def observe_selling_point(
        self, label: str, start_ms: int, end_ms: int, text: str = "", product: str | None = None
    ) -> None:
        """A closed selling-point segment. ``product``, if given, becomes the current product."""
        if product:
            self.current_product = product
        self.selling_points.append(
            SellingPointMark(label, start_ms, end_ms, text, product or self.current_product)
        )
        self._advance(end_ms)

    def observe_fused(self, end_ms: int, highlight_score: float) -> None:
        self.highlight_score = float(highlight_score)
        self.highlight_end_ms = end_ms
        self._advance(end_ms)

    def observe_alert(self, dedup_key: str, alert_type: str, state: str) -> None:
        """An anomaly alert's lifecycle event (open / updated / resolved)."""
        if state == "resolved":
            self.open_alerts.pop(dedup_key, None)
        else:
            self.open_alerts[dedup_key] = alert_type

    # ------------------------------------------------------------------ reading

    def features(self, now_ms: int) -> dict[str, float]:
        """Every name in :data:`FEATURE_NAMES`, as floats (NaN where unknown), at ``now_ms``."""
        self._prune(now_ms)
        total = len(self._chat)
        f: dict[str, float] = {}
        for intent in INTENTS:
            count = self.intent_counts.get(intent, 0)
            f[f"{intent}_count"] = float(count)
            f[f"{intent}_share"] = count / total if total else NAN
        f["chat_messages"] = float(total)
        negative_share = self.negative_in_window / total if total else NAN
        f["negative_share"] = negative_share
        f["negative_baseline"] = self.negative_baseline
        f["negative_surge"] = negative_share - self.negative_baseline
        f["chat_rate"] = self.chat_rate
        f["chat_rate_peak"] = peak = _peak(self._chat_rate_hist)
        f["chat_rate_drop"] = _drop(self.chat_rate, peak)
        f["viewers"] = self.viewers
        f["viewers_peak"] = peak = _peak(self._viewers_hist)
        f["viewers_drop"] = _drop(self.viewers, peak)
        f["orders_per_min"] = self.orders_per_min
        f["orders_per_min_peak"] = _peak(self._orders_hist)
        mark = self.converting_selling_point()
        f["selling_point_orders"] = float(mark.orders_after) if mark else NAN
        f["selling_point_age_s"] = (now_ms - mark.end_ms) / 1000 if mark else NAN
        f["low_stock"] = float(min(self.stock.values())) if self.stock else NAN
        top_product = self.product_counts.most_common(1)
        f["top_product_asks"] = float(top_product[0][1]) if top_product else 0.0
        top_question = self.question_counts.most_common(1)
        f["top_question_count"] = float(top_question[0][1]) if top_question else 0.0
        f["highlight_score"] = self.highlight_score
        f["highlight_age_s"] = (
            (now_ms - self.highlight_end_ms) / 1000 if self.highlight_end_ms is not None else NAN
        )
        f["open_alerts"] = float(len(self.open_alerts))
        f["stream_age_s"] = now_ms / 1000
        return f

    def context(self, now_ms: int, features: dict[str, float] | None = None) -> dict[str, Any]:
        """Features plus the texts (:data:`TEXT_NAMES`) that message templates may use."""
        ctx: dict[str, Any] = dict(features if features is not None else self.features(now_ms))
        top_product = self.product_counts.most_common(1)
        top_question = self.question_counts.most_common(1)
        top_complaint = self.complaint_counts.most_common(1)
        mark = self.converting_selling_point()
        low = min(self.stock.items(), key=lambda kv: kv[1]) if self.stock else None
        ctx.update(
            room_id=self.room_id,
            top_product=top_product[0][0] if top_product else self.current_product,
            top_question=self.question_texts.get(top_question[0][0], "") if top_question else "",
            top_complaint=self.question_texts.get(top_complaint[0][0], "") if top_complaint else "",
            selling_point=mark.label if mark else "",
            selling_point_text=mark.text if mark else "",
            low_stock_product=(low[0] or self.current_product) if low else "",
            current_product=self.current_product,
        )
        return ctx

    def top_question_by_intent(self) -> dict[str, str]:
        """Question intent -> its most repeated question text in the chat window (O(window): call
        it per evaluation round, not per message)."""
        counts: dict[str, Counter[str]] = {}
        for entry in self._chat:
            if entry.question_key:
                counts.setdefault(entry.intent, Counter())[entry.question_key] += 1
        return {intent: self.question_texts.get(c.most_common(1)[0][0], "") for intent, c in counts.items()}

    def converting_selling_point(self) -> SellingPointMark | None:
        """The selling point that preceded the last orders (None if no orders followed one)."""
        if self.last_orders_ms is None:
            return None
        return self._selling_point_before(self.last_orders_ms)

    # ------------------------------------------------------------------ internals

    def _selling_point_before(self, ts_ms: int) -> SellingPointMark | None:
        for mark in reversed(self.selling_points):
            if mark.end_ms <= ts_ms:
                return mark if ts_ms - mark.end_ms <= self.attribution_ms else None
        return None

    def _advance(self, ts_ms: int) -> None:
        if ts_ms > self.latest_ms:
            self.latest_ms = ts_ms

    def _prune(self, now_ms: int) -> None:
        cutoff = now_ms - self.window_ms
        chat = self._chat
        while chat and chat[0].ts_ms < cutoff:
            e = chat.popleft()
            self.negative_baseline += self.baseline_alpha * (float(e.negative) - self.negative_baseline)
            _decrement(self.intent_counts, e.intent)
            self.negative_in_window -= e.negative
            if e.question_key:
                if _decrement(self.question_counts, e.question_key) and e.question_key not in self.complaint_counts:
                    self.question_texts.pop(e.question_key, None)
            if e.complaint_key:
                if _decrement(self.complaint_counts, e.complaint_key) and e.complaint_key not in self.question_counts:
                    self.question_texts.pop(e.complaint_key, None)
            if e.product:
                _decrement(self.product_counts, e.product)
        history_cutoff = now_ms - self.history_ms
        for hist in (self._chat_rate_hist, self._viewers_hist, self._orders_hist):
            while hist and hist[0][0] < history_cutoff:
                hist.popleft()
        # keep the selling point that may still own the last orders, drop anything older
        marks = self.selling_points
        while len(marks) > 1 and marks[1].end_ms < history_cutoff:
            marks.popleft()
        for key in [k for k, exp in self.live_dedup.items() if exp <= now_ms]:
            del self.live_dedup[key]


def _decrement(counter: Counter[str], key: str) -> bool:
    """Decrement; delete at zero. True if the key is gone."""
    n = counter[key] - 1
    if n <= 0:
        del counter[key]
        return True
    counter[key] = n
    return False


def _push_max(hist: deque[tuple[int, float]], ts_ms: int, value: float) -> None:
    """Append to a monotonic max queue: older values not above the new one can never be the peak."""
    while hist and hist[-1][1] <= value:
        hist.pop()
    hist.append((ts_ms, value))


def _peak(hist: deque[tuple[int, float]]) -> float:
    return hist[0][1] if hist else NAN


def _drop(now: float, peak: float) -> float:
    """Fractional drop below the peak: 0 at the peak, 1 at zero; NaN if unknown."""
    if math.isnan(now) or math.isnan(peak) or peak <= 0:
        return NAN
    return max(0.0, 1.0 - now / peak)
