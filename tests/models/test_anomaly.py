"""Anomaly detectors: a shared contract every detector passes, then each detector on constructed
series with known onsets (delay bounds), steady/drifting series (no alerts), and the lifecycle
(open → updated → resolved, dedup, hysteresis, cooldown).

Delay bounds for stream-health faults, at the pipeline's sampling (audio chunks every 250 ms,
frames at 1 fps, wall ticks every 250 ms), measured from the true onset at any phase:
silence ≤ 2 s (1.5 s hold + ≤ 0.25 s chunk phase); frozen video ≤ 2 s (at 1 fps the first
frame *identical to its predecessor* arrives 1–2 s after the picture stops, and one such frame
opens the alert — 1 fps cannot do better than one frame period plus phase); black ≤ 2 s (two
black frames); audio ingest stall ≤ 2 s after the missing chunk was due; timestamp jumps on the
sample that carries them.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Callable

import numpy as np
import pytest

from models.anomaly import (
    AlertChange,
    AlertPolicy,
    AnomalyConfig,
    AnomalyDetector,
    BaselineDeviationDetector,
    EventRateDetector,
    IngestGapDetector,
    LevelConfig,
    LevelDetector,
    PercentileBudgetDetector,
    RoomAnomalyMonitor,
    TimestampJumpDetector,
    rms_dbfs,
)

CFG = AnomalyConfig()
POLICY = AlertPolicy(cooldown_ms=30_000, update_interval_ms=10_000)
EVIDENCE_KEYS = {"value", "baseline", "window_ms", "threshold"}

# ------------------------------------------------------------------------------ contract

# (name, factory, normal sample generator (i, rng) -> (t_ms, value), step between samples in ms)
Case = tuple[str, Callable[[], AnomalyDetector], Callable[[int, np.random.Generator], tuple[int, float]]]


def _every(ms: int, make_value: Callable[[int, np.random.Generator], float]):
    return lambda i, rng: (i * ms, make_value(i, rng))


CASES: list[Case] = [
    ("silence", lambda: LevelDetector("audio_silence", "r:audio_silence", CFG.silence, POLICY),
     _every(250, lambda i, r: -30 + r.normal(0, 3))),
    ("frozen", lambda: LevelDetector("video_frozen", "r:video_frozen", CFG.frozen, POLICY),
     _every(1000, lambda i, r: 3 + abs(r.normal(0, 1)))),
    ("black", lambda: LevelDetector("video_black", "r:video_black", CFG.black, POLICY),
     _every(1000, lambda i, r: 110 + r.normal(0, 5))),
    ("ingest_lag", lambda: LevelDetector("ingest_lag", "r:ingest_lag", CFG.ingest_lag, POLICY),
     _every(250, lambda i, r: 400 + r.normal(0, 40))),
    ("audio_gap", lambda: IngestGapDetector("audio_ingest_gap", "r:audio_ingest_gap", CFG.audio_gap, POLICY),
     _every(250, lambda i, r: i * 250)),
    ("audio_jump", lambda: TimestampJumpDetector("audio_timestamp_jump", "r:j", CFG.audio_jump, POLICY),
     lambda i, r: (1_000_000 + i * 250 + int(r.integers(0, 30)), i * 250)),
    ("viewers", lambda: BaselineDeviationDetector("viewer_drop", "r:viewer_drop", CFG.viewer_drop, POLICY),
     _every(5000, lambda i, r: 1000 + r.normal(0, 20))),
    ("chat_spike", lambda: BaselineDeviationDetector("chat_rate_spike", "r:cs", CFG.chat_spike, POLICY),
     _every(5000, lambda i, r: float(r.poisson(10)))),
    ("chat_collapse", lambda: BaselineDeviationDetector("chat_rate_collapse", "r:cc", CFG.chat_collapse, POLICY),
     _every(5000, lambda i, r: float(r.poisson(10)))),
    ("negative", lambda: BaselineDeviationDetector("negative_sentiment_surge", "r:n", CFG.negative_surge, POLICY),
     _every(5000, lambda i, r: float(np.clip(r.normal(0.1, 0.03), 0, 1)))),
    ("orders", lambda: BaselineDeviationDetector("order_rate_collapse", "r:o", CFG.order_collapse, POLICY),
     _every(5000, lambda i, r: float(r.poisson(8)))),
    ("payment", lambda: BaselineDeviationDetector("payment_failure_spike", "r:p", CFG.payment_failures, POLICY),
     _every(5000, lambda i, r: float(r.poisson(0.5)))),
    ("latency", lambda: PercentileBudgetDetector("stage_latency", "r:stage_latency:asr",
                                                 replace(CFG.stage_latency, budget_ms=300), POLICY),
     _every(100, lambda i, r: 100 + abs(r.normal(0, 30)))),
    ("consumer_lag", lambda: LevelDetector("consumer_lag", "r:consumer_lag:g", CFG.consumer_lag, POLICY),
     _every(1000, lambda i, r: float(r.integers(0, 100)))),
    ("dead_letters", lambda: EventRateDetector("dead_letter_rate", "r:dl", CFG.dead_letters, POLICY),
     _every(60_000, lambda i, r: 1.0)),
]
IDS = [c[0] for c in CASES]


def _feed(detector: AnomalyDetector, samples: list[tuple[int, float]]) -> list[AlertChange]:
    changes: list[AlertChange] = []
    for t, v in samples:
        changes += detector.update(t, v)
        changes += detector.tick(t)
    return changes


def _normal(case: Case, n: int, seed: int = 0) -> list[tuple[int, float]]:
    rng = np.random.default_rng(seed)
    return [case[2](i, rng) for i in range(n)]


def _assert_valid_lifecycle(changes: list[AlertChange]) -> None:
    open_keys: set[str] = set()
    for c in changes:
        assert c.state in ("open", "updated", "resolved")
        assert c.severity in ("info", "warning", "critical")
        assert EVIDENCE_KEYS <= c.evidence.keys()
        json.dumps(c.evidence, allow_nan=False)  # JSON-safe evidence
        assert c.message and c.dedup_key
        if c.state == "open":
            assert c.dedup_key not in open_keys, "opened twice without resolving (dedup broken)"
            open_keys.add(c.dedup_key)
        else:
            assert c.dedup_key in open_keys, f"{c.state} without an open alert"
            if c.state == "resolved":
                open_keys.discard(c.dedup_key)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_contract_steady_series_raises_no_alert(case: Case) -> None:
    detector = case[1]()
    assert isinstance(detector, AnomalyDetector)
    assert _feed(detector, _normal(case, 400)) == []
    assert not detector.is_open
    assert detector.counters["samples"] == 400


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_contract_nonfinite_values_are_ignored_and_counted(case: Case) -> None:
    samples = _normal(case, 200, seed=1)
    clean = case[1]()
    dirty = case[1]()
    expected = _feed(clean, samples)
    got: list[AlertChange] = []
    bad = [math.nan, math.inf, -math.inf]
    for i, (t, v) in enumerate(samples):
        got += dirty.update(t, bad[i % 3])  # a junk sample before every real one
        got += dirty.update(math.nan, v)  # and a junk clock
        got += dirty.update(t, v)
        got += dirty.tick(t)
    assert got == expected
    assert dirty.counters["ignored_nonfinite"] == 2 * len(samples)
    assert dirty.counters["samples"] == len(samples)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_contract_non_monotone_times_and_extreme_values_keep_a_valid_lifecycle(case: Case) -> None:
    rng = np.random.default_rng(3)
    detector = case[1]()
    samples = _normal(case, 300, seed=2)
    # shuffle blocks of times backwards and inject extreme values, then check invariants only
    jumbled = []
    for i, (t, v) in enumerate(samples):
        if i % 17 == 0:
            t -= int(rng.integers(1, 20_000))
        if 150 <= i < 200:
            v = v * float(rng.choice([0.0, -1.0, 50.0, 1e9]))
        jumbled.append((t, v))
    changes = _feed(detector, jumbled)
    _assert_valid_lifecycle(changes)
    if any(t < prev for (prev, _), (t, _) in zip(jumbled, jumbled[1:])):
        assert detector.counters["out_of_order"] > 0


@pytest.mark.parametrize("case", [c for c in CASES if getattr(c[1]().config, "warmup_samples", 0) > 0],
                         ids=lambda c: c[0])
def test_contract_warm_up_is_silent_even_on_extreme_input(case: Case) -> None:
    detector = case[1]()
    warmup = detector.config.warmup_samples  # type: ignore[attr-defined]
    extreme = [(i * 1000, (1e6 if i % 2 else -1e6)) for i in range(warmup)]
    assert _feed(detector, extreme) == []


# ------------------------------------------------------------------------------ stream health delays


def _first_open(changes: list[tuple[int, AlertChange]], alert_type: str) -> int | None:
    return next((t for t, c in changes if c.alert_type == alert_type and c.state == "open"), None)


ONSET_PHASES_MS = [0, 90, 250, 499, 730, 999]


@pytest.mark.parametrize("phase", ONSET_PHASES_MS)
def test_audio_silence_alerts_within_2s_and_resolves(phase: int) -> None:
    rng = np.random.default_rng(phase)
    monitor = RoomAnomalyMonitor("r")
    onset, recover = 30_000 + phase, 45_000 + phase
    changes = []
    for t in range(0, 60_000, 250):
        silent = t >= onset and t < recover
        level = -math.inf if silent else -25 + rng.normal(0, 3)  # digital silence is -inf dB
        changes += [(t, c) for c in monitor.observe("audio_rms_db", t, level)]
    opened = _first_open(changes, "audio_silence")
    assert opened is not None and opened - onset <= 2_000
    states = [c.state for _, c in changes]
    assert states[0] == "open" and states[-1] == "resolved"
    assert all(t >= onset for t, _ in changes)


@pytest.mark.parametrize("freeze_at_ms", [10_000, 10_001, 10_400, 10_999])
def test_frozen_video_at_1fps_alerts_within_2s(freeze_at_ms: int) -> None:
    rng = np.random.default_rng(freeze_at_ms)
    monitor = RoomAnomalyMonitor("r")
    changes = []
    for k in range(0, 30):
        t = k * 1000
        # frame k shows the picture at time t; it equals frame k-1 once both are after the freeze
        frozen = (k - 1) * 1000 >= freeze_at_ms
        diff = 0.0 if frozen else 2.0 + abs(rng.normal(0, 1))
        changes += [(t, c) for c in monitor.observe("video_frame_diff", t, diff)]
    opened = _first_open(changes, "video_frozen")
    assert opened is not None
    assert 0 < opened - freeze_at_ms <= 2_000


@pytest.mark.parametrize("black_at_ms", [10_000, 10_300, 10_999])
def test_black_video_at_1fps_alerts_within_2s(black_at_ms: int) -> None:
    monitor = RoomAnomalyMonitor("r")
    changes = []
    for k in range(0, 30):
        t = k * 1000
        luma = 3.0 if t >= black_at_ms else 100.0 + k % 7
        changes += [(t, c) for c in monitor.observe("video_luma", t, luma)]
    opened = _first_open(changes, "video_black")
    assert opened is not None and opened - black_at_ms <= 2_000


def test_single_black_frame_does_not_alert() -> None:
    monitor = RoomAnomalyMonitor("r")
    changes = [c for k in range(30) for c in monitor.observe("video_luma", k * 1000, 3.0 if k == 12 else 90.0)]
    assert changes == []


@pytest.mark.parametrize("phase", [0, 100, 240])
def test_audio_ingest_stall_alerts_within_2s_via_ticks_and_resolves(phase: int) -> None:
    monitor = RoomAnomalyMonitor("r")
    last_chunk = 20_000
    resume = 26_000
    changes = []
    for t in range(0, 40_000, 250):
        if t <= last_chunk or t >= resume:
            changes += [(t, c) for c in monitor.observe("audio_arrival", t, t)]
        changes += [(t + phase, c) for c in monitor.tick(t + phase)]  # wall ticks, not aligned to chunks
    opened = _first_open(changes, "audio_ingest_gap")
    due = last_chunk + 250  # the first chunk that did not come
    assert opened is not None and 0 < opened - due <= 2_000
    gap_changes = [c for _, c in changes if c.alert_type == "audio_ingest_gap"]
    assert gap_changes[-1].state == "resolved"
    assert any(c.severity == "critical" for c in gap_changes)  # stall > 5 s escalates
    assert not any(c.alert_type == "audio_timestamp_jump" for _, c in changes)  # wall and stream both paused


def test_ingest_gap_without_ticks_opens_on_the_late_arrival() -> None:
    detector = IngestGapDetector("video_ingest_gap", "r:v", CFG.video_gap, POLICY)
    changes = _feed(detector, [(t, 0.0) for t in list(range(0, 10_000, 1000)) + [15_000, 16_000, 17_000]])
    assert [c.state for c in changes] == ["open", "resolved"]
    assert changes[0].evidence["value"] == 6_000


def test_video_ingest_gap_at_1fps_tolerates_jitter() -> None:
    detector = IngestGapDetector("video_ingest_gap", "r:v", CFG.video_gap, POLICY)
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(700, 1300, size=300)).astype(int)
    assert _feed(detector, [(int(t), 0.0) for t in times]) == []


def test_timestamp_jumps_backwards_and_forwards_alert_on_the_sample() -> None:
    detector = TimestampJumpDetector("audio_timestamp_jump", "r:j", CFG.audio_jump, POLICY)
    stream = [i * 250 for i in range(40)] + [5_000 + i * 250 for i in range(20)]  # backwards by 5 s at i=40
    wall = [100_000 + i * 250 for i in range(60)]
    changes = [(w, c) for w, s in zip(wall, stream) for c in detector.update(w, s)]
    assert changes[0][0] == wall[40] and changes[0][1].state == "open"
    assert changes[0][1].severity == "critical" and "backwards" in changes[0][1].message
    assert changes[-1][1].state == "resolved"

    forward = TimestampJumpDetector("audio_timestamp_jump", "r:j", CFG.audio_jump, POLICY)
    stream = [i * 250 for i in range(40)] + [60_000 + i * 250 for i in range(20)]  # a 50 s hole in stream time
    changes = [(w, c) for w, s in zip(wall, stream) for c in forward.update(w, s)]
    assert changes[0][0] == wall[40] and "forwards" in changes[0][1].message


def test_ingest_lag_growth_alerts_and_slow_clock_drift_does_not() -> None:
    growing = LevelDetector("ingest_lag", "r:l", CFG.ingest_lag, POLICY)
    onset = 60_000
    samples = [(t, 300.0 + (0.5 * (t - onset) if t >= onset else 0.0)) for t in range(0, 90_000, 250)]
    changes = [(t, c) for t, v in samples for c in growing.update(t, v)]
    opened = _first_open(changes, "ingest_lag")
    assert opened is not None and opened - onset <= 2_500  # 1 s above floor at 0.5 s/s is 2 s, + 2 samples

    drifting = LevelDetector("ingest_lag", "r:l", CFG.ingest_lag, POLICY)
    assert _feed(drifting, [(t, 300.0 + 0.01 * t) for t in range(0, 1_800_000, 250)]) == []


# ------------------------------------------------------------------------------ engagement / commerce


def _metric_run(metric: str, values: list[float], step_ms: int = 5000) -> list[tuple[int, AlertChange]]:
    monitor = RoomAnomalyMonitor("room-1")
    return [(i * step_ms, c) for i, v in enumerate(values) for c in monitor.observe(metric, i * step_ms, v)]


def _onset_series(rng: np.random.Generator, before: Callable[[], float], after: Callable[[], float],
                  onset: int = 100, n: int = 140) -> list[float]:
    return [before() if i < onset else after() for i in range(n)]


@pytest.mark.parametrize(
    "metric,alert_type,before,after,max_delay_samples",
    [
        ("viewers", "viewer_drop", lambda r: 1000 + r.normal(0, 20), lambda r: 550 + r.normal(0, 20), 2),
        ("chat_messages", "chat_rate_spike", lambda r: float(r.poisson(10)), lambda r: float(r.poisson(60)), 1),
        ("chat_messages", "chat_rate_collapse", lambda r: float(r.poisson(10)), lambda r: float(r.poisson(0.3)), 3),
        ("chat_negative_share", "negative_sentiment_surge",
         lambda r: float(np.clip(r.normal(0.1, 0.03), 0, 1)), lambda r: float(np.clip(r.normal(0.5, 0.05), 0, 1)), 2),
        ("orders", "order_rate_collapse", lambda r: float(r.poisson(8)), lambda r: float(r.poisson(0.2)), 3),
        ("payment_failures", "payment_failure_spike", lambda r: float(r.poisson(0.5)), lambda r: float(r.poisson(12)), 1),
    ],
)
def test_room_metric_fault_detected_within_bound(metric, alert_type, before, after, max_delay_samples) -> None:
    rng = np.random.default_rng(11)
    values = _onset_series(rng, lambda: before(rng), lambda: after(rng))
    changes = _metric_run(metric, values)
    opened = _first_open(changes, alert_type)
    assert opened is not None
    assert 0 <= (opened - 100 * 5000) // 5000 <= max_delay_samples - 1
    assert all(t >= 100 * 5000 for t, c in changes if c.alert_type == alert_type)  # nothing before onset


@pytest.mark.parametrize(
    "metric,make",
    [
        ("viewers", lambda i, r: 2000 * (1 - 0.4 * i / 720) + r.normal(0, 30)),  # −40 % over an hour
        ("viewers", lambda i, r: 500 * (1 + 1.0 * i / 720) + r.normal(0, 15)),  # doubling over an hour
        ("chat_messages", lambda i, r: float(r.poisson(20 * (1 - 0.7 * i / 720)))),
        ("chat_negative_share", lambda i, r: float(np.clip(0.05 + 0.25 * i / 720 + r.normal(0, 0.03), 0, 1))),
        ("orders", lambda i, r: float(r.poisson(10 * (1 - 0.8 * i / 720)))),
        ("payment_failures", lambda i, r: float(r.poisson(0.5 + 3 * i / 720))),
        ("orders", lambda i, r: 0.0),  # a room that never sells
    ],
)
def test_slow_drift_over_an_hour_raises_no_alert(metric, make) -> None:
    rng = np.random.default_rng(5)
    assert _metric_run(metric, [make(i, rng) for i in range(720)]) == []


def test_stage_latency_over_budget_opens_and_recovers() -> None:
    monitor = RoomAnomalyMonitor("pipeline", AnomalyConfig(stage_budgets_ms={"asr": 1500}))
    rng = np.random.default_rng(2)
    changes = []
    for i in range(1200):  # 10 events/s for 120 s; latency over budget between 40 s and 70 s
        t = i * 100
        latency = 2400 + rng.normal(0, 100) if 400 <= i < 700 else 600 + rng.normal(0, 100)
        changes += [(t, c) for c in monitor.observe("stage_latency_ms:asr", t, latency)]
    opened = _first_open(changes, "stage_latency")
    assert opened is not None and opened - 40_000 <= 3_000
    assert changes[0][1].dedup_key == "pipeline:stage_latency:asr"
    assert changes[-1][1].state == "resolved" and changes[-1][0] > 70_000


def test_consumer_lag_needs_to_hold_and_dead_letter_rate_drains_with_ticks() -> None:
    monitor = RoomAnomalyMonitor("pipeline")
    blip = [c for t in range(0, 4000, 1000) for c in monitor.observe("consumer_lag:asr", t, 50_000)]
    assert blip == []  # 3 s over the level is under the 5 s hold
    lag = [c for t in range(4000, 20_000, 1000) for c in monitor.observe("consumer_lag:asr", t, 5000)]
    assert [c.state for c in lag][:1] == ["open"]

    changes = []
    for t in range(0, 200_000, 1000):
        if 10_000 <= t < 40_000 and t % 2000 == 0:
            changes += monitor.observe("dead_letters", t, 1)
        changes += monitor.tick(t)
    dl = [c.state for c in changes if c.alert_type == "dead_letter_rate"]
    assert dl[0] == "open" and dl[-1] == "resolved"


# ------------------------------------------------------------------------------ lifecycle


def _level(policy: AlertPolicy, **kw) -> LevelDetector:
    cfg = LevelConfig(direction="above", open_at=10.0, resolve_at=5.0, resolve_samples=3, label="x", **kw)
    return LevelDetector("x_high", "room:x_high", cfg, policy)


def test_lifecycle_open_updated_resolved_with_hysteresis() -> None:
    d = _level(AlertPolicy(cooldown_ms=0, update_interval_ms=3_000))
    seq = [1, 1, 12, 12, 12, 12, 12, 7, 7, 7, 7, 12, 4, 4, 4, 1]
    changes = [(t * 1000, c) for t, v in enumerate(seq) for c in d.update(t * 1000, v)]
    assert [(t, c.state) for t, c in changes] == [
        (2000, "open"), (5000, "updated"),  # re-announced after update_interval, not on every sample
        (11000, "updated"),  # 7 (between B=5 and A=10) neither resolved it nor counted as a breach
        (14000, "resolved"),  # three samples under B=5
    ]
    assert changes[0][1].evidence["value"] == 12 and changes[0][1].evidence["threshold"] == 10.0


def test_dedup_one_open_alert_per_key_and_severity_escalation_updates_at_once() -> None:
    d = _level(AlertPolicy(cooldown_ms=0, update_interval_ms=60_000), critical_at=100.0)
    changes = [c for t, v in enumerate([20] * 30 + [200] + [20] * 5) for c in d.update(t * 1000, v)]
    assert [c.state for c in changes] == ["open", "updated"]
    assert changes[1].severity == "critical"


def test_cooldown_blocks_reopen_then_allows_it() -> None:
    d = _level(AlertPolicy(cooldown_ms=10_000, update_interval_ms=60_000))
    seq = [20, 1, 1, 1] + [20, 1, 1, 1] + [1] * 10 + [20]
    changes = [(t * 1000, c.state) for t, v in enumerate(seq) for c in d.update(t * 1000, v)]
    # opened at 0, resolved at 3 s; the breach at 4 s is inside the cooldown; the one at 18 s is not
    assert changes == [(0, "open"), (3000, "resolved"), (18000, "open")]


def test_hold_requires_duration() -> None:
    d = _level(AlertPolicy(), hold_ms=2_000)
    assert [c for t in range(0, 2000, 500) for c in d.update(t, 50)] == []
    assert [c.state for c in d.update(2000, 50)] == ["open"]


# ------------------------------------------------------------------------------ monitor


def test_monitor_routes_metrics_and_keys_alerts_per_room() -> None:
    monitor = RoomAnomalyMonitor("room-9")
    with pytest.raises(KeyError):
        monitor.observe("no_such_metric", 0, 1.0)
    monitor.observe("chat_messages", 0, 3)
    assert set(monitor.detectors) == {"room-9:chat_rate_spike", "room-9:chat_rate_collapse"}
    for t in range(0, 3000, 1000):
        monitor.observe("video_luma", t, 0.0)
    assert monitor.open_alerts() == ["room-9:video_black"]
    ended = monitor.end(5000)
    assert [(c.dedup_key, c.state) for c in ended] == [("room-9:video_black", "resolved")]
    assert monitor.open_alerts() == [] and monitor.detectors == {}


def test_monitor_skips_small_chat_windows_for_sentiment() -> None:
    monitor = RoomAnomalyMonitor("r")
    for i in range(100):
        assert monitor.observe_chat_sentiment(i * 5000, 1.0 if i > 50 else 0.0, messages=2) == []
    assert monitor.detectors == {}


def test_rms_dbfs_floors_digital_silence() -> None:
    assert rms_dbfs(np.zeros(4000, dtype=np.int16)) == -120.0
    assert rms_dbfs(np.full(4000, 32767, dtype=np.int16)) == pytest.approx(0.0, abs=0.01)
    tone = (0.1 * 32767 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440)).astype(np.int16)
    assert rms_dbfs(tone) == pytest.approx(20 * math.log10(0.1 / math.sqrt(2)), abs=0.1)
