"""One room's detectors behind one call: ``monitor.observe("audio_rms_db", t_ms, value)``.

Metric names, what the value is, and which clock ``t_ms`` is on:

| metric | value | clock | alert types |
|---|---|---|---|
| ``audio_rms_db`` | RMS of one audio chunk in dBFS (−inf allowed: floored) | stream | audio_silence |
| ``video_frame_diff`` | mean abs difference to the previous sampled frame, 0–255 | stream | video_frozen |
| ``video_luma`` | mean luma of a frame, 0–255 | stream | video_black |
| ``audio_arrival`` / ``video_arrival`` | the chunk's/frame's stream time (ms) | **wall** (arrival) | *_ingest_gap, *_timestamp_jump |
| ``ingest_lag_ms`` | wall clock − (stream start + stream time) | stream | ingest_lag |
| ``viewers`` | viewer count | stream | viewer_drop |
| ``chat_messages`` | chat messages in one metrics window | stream | chat_rate_spike, chat_rate_collapse |
| ``chat_negative_share`` | share of negative messages in a window (use :meth:`observe_chat_sentiment`) | stream | negative_sentiment_surge |
| ``orders`` | orders in one metrics window | stream | order_rate_collapse |
| ``payment_failures`` | payment failures in one metrics window | stream | payment_failure_spike |
| ``stage_latency_ms:<stage>`` | one event's emitted − ingested, ms | **wall** | stage_latency (key per stage) |
| ``consumer_lag:<group>`` | consumer lag in messages | **wall** | consumer_lag (key per group) |
| ``dead_letters`` | dead letters since the last call (usually 1) | **wall** | dead_letter_rate |

``tick(now_ms)`` must be on the **wall** clock: it drives the absence-based detectors (ingest
gaps; latency windows and dead-letter rates draining). Stream-clock detectors ignore it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from models.anomaly.base import AlertChange, AlertPolicy, AnomalyDetector
from models.anomaly.detectors import (
    BaselineDeviationDetector,
    BudgetConfig,
    DeviationConfig,
    EventRateDetector,
    GapConfig,
    IngestGapDetector,
    JumpConfig,
    LevelConfig,
    LevelDetector,
    PercentileBudgetDetector,
    RateConfig,
    TimestampJumpDetector,
)

#: rms_db values below this (including −inf for digital silence) are clamped to it
DB_FLOOR = -120.0


def rms_dbfs(pcm16: np.ndarray) -> float:
    """RMS level of int16 PCM in dBFS, floored at :data:`DB_FLOOR` (never −inf)."""
    if pcm16.size == 0:
        return DB_FLOOR
    rms = float(np.sqrt(np.mean(np.square(pcm16.astype(np.float64) / 32768.0))))
    return max(DB_FLOOR, 20.0 * math.log10(rms)) if rms > 0 else DB_FLOOR


def _default_budgets() -> dict[str, float]:
    # Same defaults as streams.settings.LatencyBudgets; the processor passes the live settings.
    return {"metrics": 300, "asr": 1500, "understanding": 100, "chat": 100, "vision": 300,
            "fusion": 300, "clips": 3000, "anomaly": 300, "recommend": 300}


@dataclass(frozen=True)
class AnomalyConfig:
    """Every threshold and window of a room monitor. Defaults assume the pipeline's sampling:
    audio chunks every 250 ms, frames at 1 fps, room metrics every few seconds."""

    policy: AlertPolicy = field(default_factory=AlertPolicy)

    # --- stream health: stream faults must alert within 2 s of onset at these rates
    #: 1.5 s of chunks under −50 dBFS (6 chunks at 250 ms): a pause in speech with room noise stays above
    silence: LevelConfig = field(default_factory=lambda: LevelConfig(
        direction="below", open_at=-50.0, resolve_at=-45.0, hold_ms=1_500, resolve_samples=2,
        critical_after_ms=10_000, label="audio silent", unit=" dBFS"))
    #: one frame identical to the previous (diff < 0.5/255): at 1 fps the first repeated frame is
    #: the earliest evidence, so this alerts ≤ 2 s after the picture stopped changing
    frozen: LevelConfig = field(default_factory=lambda: LevelConfig(
        direction="below", open_at=0.5, resolve_at=1.0, hold_samples=1, resolve_samples=2,
        critical_after_ms=5_000, label="video frozen", unit=""))
    #: two consecutive frames with mean luma under 16 (video-range black)
    black: LevelConfig = field(default_factory=lambda: LevelConfig(
        direction="below", open_at=16.0, resolve_at=24.0, hold_samples=2, resolve_samples=2,
        critical_after_ms=5_000, label="video black", unit=""))
    audio_gap: GapConfig = field(default_factory=lambda: GapConfig(max_gap_ms=1_000, label="audio"))
    #: frames arrive every ~1 s, so a gap is > 1.8 s without one
    video_gap: GapConfig = field(default_factory=lambda: GapConfig(max_gap_ms=1_800, label="video"))
    audio_jump: JumpConfig = field(default_factory=lambda: JumpConfig(label="audio"))
    video_jump: JumpConfig = field(default_factory=lambda: JumpConfig(label="video"))
    #: lag more than 1 s above its own minimum of the last 240 samples (60 s of audio chunks)
    ingest_lag: LevelConfig = field(default_factory=lambda: LevelConfig(
        direction="above", open_at=1_000.0, resolve_at=500.0, hold_samples=2, resolve_samples=4,
        critical_at=5_000.0, baseline="rolling_min", baseline_window=240, warmup_samples=4,
        label="ingest lag growing", unit=" ms"))

    # --- engagement (one sample per room-metrics window)
    viewer_drop: DeviationConfig = field(default_factory=lambda: DeviationConfig(
        direction="down", window_samples=60, warmup_samples=12, z_open=3.0, z_resolve=1.5,
        min_rel_change=0.30, rel_resolve=0.15, rel_critical=0.60, scale_floor_rel=0.02,
        hold_samples=2, label="viewers"))
    chat_spike: DeviationConfig = field(default_factory=lambda: DeviationConfig(
        direction="up", window_samples=60, warmup_samples=12, z_open=5.0, z_resolve=2.0,
        min_rel_change=1.0, rel_resolve=0.5, min_abs_change=10, poisson=True, hold_samples=1,
        severity="info", label="chat messages"))
    #: collapse = ≤ 30 % of the baseline for 3 windows in a row (a few messages per window are noisy)
    chat_collapse: DeviationConfig = field(default_factory=lambda: DeviationConfig(
        direction="down", window_samples=60, warmup_samples=12, z_open=1.5, z_resolve=0.75,
        min_rel_change=0.70, rel_resolve=0.40, min_baseline=3, poisson=True, hold_samples=3,
        label="chat messages"))
    negative_surge: DeviationConfig = field(default_factory=lambda: DeviationConfig(
        direction="up", window_samples=60, warmup_samples=12, z_open=3.0, z_resolve=1.5,
        min_abs_change=0.20, scale_floor_abs=0.05, hold_samples=2, label="negative chat share"))
    #: windows with fewer messages say little about sentiment and are skipped
    min_messages_for_sentiment: int = 5

    # --- commerce (collapses need 3 windows in a row: counts of a few orders are noisy)
    order_collapse: DeviationConfig = field(default_factory=lambda: DeviationConfig(
        direction="down", window_samples=60, warmup_samples=12, z_open=1.5, z_resolve=0.75,
        min_rel_change=0.70, rel_resolve=0.40, rel_critical=0.95, min_baseline=2, poisson=True,
        hold_samples=3, label="orders per window"))
    payment_failures: DeviationConfig = field(default_factory=lambda: DeviationConfig(
        direction="up", window_samples=60, warmup_samples=12, z_open=5.0, z_resolve=2.0,
        min_abs_change=4, scale_floor_abs=1.0, poisson=True, hold_samples=1, severity="critical",
        label="payment failures per window"))

    # --- pipeline
    stage_budgets_ms: dict[str, float] = field(default_factory=_default_budgets)
    stage_latency: BudgetConfig = field(default_factory=lambda: BudgetConfig(budget_ms=300.0))
    consumer_lag: LevelConfig = field(default_factory=lambda: LevelConfig(
        direction="above", open_at=1_000, resolve_at=200, hold_ms=5_000, hold_samples=2,
        critical_at=10_000, label="consumer lag", unit=" msgs"))
    dead_letters: RateConfig = field(default_factory=lambda: RateConfig(label="dead letters"))


class RoomAnomalyMonitor:
    """Owns one detector per (metric, alert type) of a room, created on first use."""

    def __init__(self, room_id: str, config: AnomalyConfig | None = None) -> None:
        self.room_id = room_id
        self.config = config or AnomalyConfig()
        self.detectors: dict[str, AnomalyDetector] = {}  # keyed by dedup key
        self._routes: dict[str, list[AnomalyDetector]] = {}

    # -- routing
    def _factories(self, metric: str) -> list[tuple[str, str, Callable[[str, str], AnomalyDetector]]]:
        c, p = self.config, self.config.policy
        base, _, qualifier = metric.partition(":")
        simple: dict[str, list[tuple[str, Callable[[str, str], AnomalyDetector]]]] = {
            "audio_rms_db": [("audio_silence", lambda t, k: LevelDetector(t, k, c.silence, p))],
            "video_frame_diff": [("video_frozen", lambda t, k: LevelDetector(t, k, c.frozen, p))],
            "video_luma": [("video_black", lambda t, k: LevelDetector(t, k, c.black, p))],
            "audio_arrival": [
                ("audio_ingest_gap", lambda t, k: IngestGapDetector(t, k, c.audio_gap, p)),
                ("audio_timestamp_jump", lambda t, k: TimestampJumpDetector(t, k, c.audio_jump, p)),
            ],
            "video_arrival": [
                ("video_ingest_gap", lambda t, k: IngestGapDetector(t, k, c.video_gap, p)),
                ("video_timestamp_jump", lambda t, k: TimestampJumpDetector(t, k, c.video_jump, p)),
            ],
            "ingest_lag_ms": [("ingest_lag", lambda t, k: LevelDetector(t, k, c.ingest_lag, p))],
            "viewers": [("viewer_drop", lambda t, k: BaselineDeviationDetector(t, k, c.viewer_drop, p))],
            "chat_messages": [
                ("chat_rate_spike", lambda t, k: BaselineDeviationDetector(t, k, c.chat_spike, p)),
                ("chat_rate_collapse", lambda t, k: BaselineDeviationDetector(t, k, c.chat_collapse, p)),
            ],
            "chat_negative_share": [
                ("negative_sentiment_surge", lambda t, k: BaselineDeviationDetector(t, k, c.negative_surge, p)),
            ],
            "orders": [("order_rate_collapse", lambda t, k: BaselineDeviationDetector(t, k, c.order_collapse, p))],
            "payment_failures": [
                ("payment_failure_spike", lambda t, k: BaselineDeviationDetector(t, k, c.payment_failures, p)),
            ],
            "dead_letters": [("dead_letter_rate", lambda t, k: EventRateDetector(t, k, c.dead_letters, p))],
        }
        if base == "stage_latency_ms" and qualifier:
            budget = c.stage_budgets_ms.get(qualifier, c.stage_latency.budget_ms)
            cfg = replace(c.stage_latency, budget_ms=budget, label=qualifier)
            return [("stage_latency", f"{self.room_id}:stage_latency:{qualifier}",
                     lambda t, k: PercentileBudgetDetector(t, k, cfg, p))]
        if base == "consumer_lag" and qualifier:
            cfg_lag = replace(c.consumer_lag, label=f"consumer lag ({qualifier})")
            return [("consumer_lag", f"{self.room_id}:consumer_lag:{qualifier}",
                     lambda t, k: LevelDetector(t, k, cfg_lag, p))]
        if metric not in simple:
            raise KeyError(f"unknown metric {metric!r}")
        return [(alert_type, f"{self.room_id}:{alert_type}", make) for alert_type, make in simple[metric]]

    def _route(self, metric: str) -> list[AnomalyDetector]:
        detectors = self._routes.get(metric)
        if detectors is None:
            detectors = []
            for alert_type, key, make in self._factories(metric):
                detector = self.detectors.get(key) or make(alert_type, key)
                self.detectors[key] = detector
                detectors.append(detector)
            self._routes[metric] = detectors
        return detectors

    # -- feeding
    def observe(self, metric: str, t_ms: int, value: float) -> list[AlertChange]:
        """Feed one sample of a named metric (see the module table). Unknown names raise KeyError."""
        if metric == "audio_rms_db" and value == -math.inf:
            value = DB_FLOOR  # digital silence is the loudest evidence of silence, not a bad sample
        changes: list[AlertChange] = []
        for detector in self._route(metric):
            changes.extend(detector.update(t_ms, value))
        return changes

    def observe_chat_sentiment(self, t_ms: int, negative_share: float, messages: int) -> list[AlertChange]:
        """Feed a chat window's negative share, skipping windows too small to mean anything."""
        if messages < self.config.min_messages_for_sentiment:
            return []
        return self.observe("chat_negative_share", t_ms, negative_share)

    def tick(self, now_ms: int) -> list[AlertChange]:
        """Wall-clock tick (every ~250 ms): lets absence-based detectors fire and drain."""
        changes: list[AlertChange] = []
        for detector in self.detectors.values():
            changes.extend(detector.tick(now_ms))
        return changes

    def end(self, t_ms: int, reason: str = "stream ended") -> list[AlertChange]:
        """The room's stream ended: resolve open alerts and forget all state."""
        changes: list[AlertChange] = []
        for detector in self.detectors.values():
            close = getattr(detector, "close", None)
            if close is not None:
                changes.extend(close(t_ms, reason))
        self.detectors.clear()
        self._routes.clear()
        return changes

    def open_alerts(self) -> list[str]:
        """Dedup keys of the alerts open now."""
        return [key for key, detector in self.detectors.items() if detector.is_open]
