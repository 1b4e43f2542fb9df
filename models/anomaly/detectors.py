"""Online detectors. Six shapes cover every alert type of the room monitor:

- :class:`LevelDetector` — a value past a fixed level for long enough (audio silence, black or
  frozen video, consumer lag); optionally measured above its own rolling minimum (ingest lag
  growth).
- :class:`BaselineDeviationDetector` — a value far from the stream's own recent robust baseline
  (median/MAD over a ring buffer): viewer drop, chat-rate spike/collapse, negative-sentiment
  surge, order-rate collapse, payment-failure spike. It is also the detector scored on NAB.
- :class:`PercentileBudgetDetector` — a quantile of a latency over a time window vs a budget.
- :class:`EventRateDetector` — events per second over a time window (dead letters).
- :class:`IngestGapDetector` — no arrival for too long (needs ``tick``).
- :class:`TimestampJumpDetector` — stream time running backwards or jumping forwards.

All of them use :class:`~models.anomaly.base.AlertLifecycle` for hold, hysteresis, dedup,
updates and cooldown, and :class:`~models.anomaly.base.SampleGuard` for NaN/inf and clock order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from models.anomaly.base import (
    AlertChange,
    AlertLifecycle,
    AlertPolicy,
    SampleGuard,
    Severity,
    finite_or_none,
)
from models.anomaly.stats import MAD_TO_SIGMA, Ewm, RingBuffer, TimeWindow


class _Detector:
    """Shared plumbing: guard, lifecycle, ``is_open``, ``counters``; ``tick`` does nothing."""

    def __init__(
        self,
        alert_type: str,
        dedup_key: str,
        *,
        policy: AlertPolicy | None,
        hold_ms: int,
        hold_samples: int,
        resolve_samples: int,
    ) -> None:
        self.alert_type = alert_type
        self.dedup_key = dedup_key
        self._guard = SampleGuard()
        self._life = AlertLifecycle(
            alert_type,
            dedup_key,
            policy=policy or AlertPolicy(),
            hold_ms=hold_ms,
            hold_samples=max(1, hold_samples),
            resolve_samples=max(1, resolve_samples),
        )

    def update(self, t_ms: int, value: float) -> list[AlertChange]:
        accepted = self._guard.accept(t_ms, value)
        if accepted is None:
            return []
        return self._observe(*accepted)

    def _observe(self, t_ms: int, value: float) -> list[AlertChange]:  # pragma: no cover - abstract
        raise NotImplementedError

    def tick(self, t_ms: int) -> list[AlertChange]:
        return []

    def close(self, t_ms: int, reason: str = "stream ended") -> list[AlertChange]:
        """Resolve an open alert now (the stream ended or the metric went away)."""
        if not self._life.is_open:
            return []
        return [self._life.resolve(int(t_ms), f"{self.alert_type.replace('_', ' ')} closed: {reason}")]

    @property
    def is_open(self) -> bool:
        return self._life.is_open

    @property
    def counters(self) -> dict[str, int]:
        return self._guard.as_dict()


# ------------------------------------------------------------------------------ level


@dataclass(frozen=True)
class LevelConfig:
    """A fixed level. ``direction="below"``: breach when value < open_at, clear when > resolve_at."""

    direction: Literal["below", "above"]
    open_at: float
    resolve_at: float
    hold_ms: int = 0  # the breach must last this long (stream time) before it opens
    hold_samples: int = 1
    resolve_samples: int = 3
    severity: Severity = "warning"
    critical_after_ms: int | None = None  # escalate to critical when the breach lasts this long
    critical_at: float | None = None  # ... or when the (compared) value passes this level
    #: "rolling_min": compare value − min(last baseline_window samples) (growth above its floor)
    baseline: Literal["none", "rolling_min"] = "none"
    baseline_window: int = 120
    warmup_samples: int = 0
    label: str = "value out of range"
    unit: str = ""


class LevelDetector(_Detector):
    def __init__(self, alert_type: str, dedup_key: str, config: LevelConfig, policy: AlertPolicy | None = None) -> None:
        super().__init__(
            alert_type, dedup_key, policy=policy, hold_ms=config.hold_ms,
            hold_samples=config.hold_samples, resolve_samples=config.resolve_samples,
        )
        self.config = config
        self._normal = Ewm(alpha=0.05)  # typical value while not breached, for the evidence
        self._floor = RingBuffer(config.baseline_window) if config.baseline == "rolling_min" else None

    def _observe(self, t_ms: int, value: float) -> list[AlertChange]:
        c = self.config
        compared, baseline, ready = value, self._normal.mean, self._guard.samples > c.warmup_samples
        if self._floor is not None:
            if self._floor.count:
                baseline = self._floor.min()
                compared = value - baseline
            else:
                compared, ready = 0.0, False
            self._floor.push(t_ms, value)
        if c.direction == "below":
            breach, clear = compared < c.open_at, compared > c.resolve_at
            critical_level = c.critical_at is not None and compared < c.critical_at
        else:
            breach, clear = compared > c.open_at, compared < c.resolve_at
            critical_level = c.critical_at is not None and compared > c.critical_at
        if not breach and self._floor is None:
            self._normal.push(value)
        duration = self._life.breach_duration_ms(t_ms) if breach else 0
        critical_long = c.critical_after_ms is not None and duration >= c.critical_after_ms
        severity: Severity = "critical" if (critical_level or critical_long) else c.severity
        evidence = {
            "value": value,
            "baseline": finite_or_none(baseline),
            "window_ms": duration,
            "threshold": c.open_at,
            "resolve_threshold": c.resolve_at,
        }
        if self._floor is not None:
            evidence["growth"] = compared
        shown = f"{compared:.1f}{c.unit} above its floor" if self._floor is not None else f"{value:.1f}{c.unit}"
        message = f"{c.label} for {duration / 1000:.1f} s ({shown}; threshold {c.open_at:g}{c.unit})"
        resolve_message = f"{c.label} resolved ({shown})"
        return self._life.step(
            t_ms, breach=breach, clear=clear, severity=severity, message=message,
            evidence=evidence, resolve_message=resolve_message, ready=ready,
        )


# ------------------------------------------------------------------------------ baseline deviation


@dataclass(frozen=True)
class DeviationConfig:
    """Deviation from a robust baseline: median and MAD of the last ``window_samples`` samples.

    A sample breaches when, in ``direction``, its robust z-score ≥ ``z_open`` AND its change
    relative to the baseline ≥ ``min_rel_change`` AND its absolute change ≥ ``min_abs_change``.
    It is clear when z < ``z_resolve`` or relative change < ``rel_resolve``. Every sample enters
    the baseline after it is judged, so a lasting level shift is absorbed (and the alert resolves)
    after about ``window_samples / 2`` samples; a single spike does not move the median.
    """

    direction: Literal["up", "down", "both"]
    window_samples: int = 60
    warmup_samples: int = 20
    z_open: float = 4.0
    z_resolve: float = 2.0
    z_critical: float | None = None
    min_rel_change: float = 0.0
    rel_resolve: float = 0.0
    rel_critical: float | None = None
    min_abs_change: float = 0.0
    min_baseline: float | None = None  # |baseline| must reach this to alert (e.g. a room that sells at all)
    #: the scale never drops below these (a flat baseline has MAD 0)
    scale_floor_abs: float = 1e-9
    scale_floor_rel: float = 0.0
    poisson: bool = False  # counts: scale ≥ sqrt(baseline)
    hold_ms: int = 0
    hold_samples: int = 1
    resolve_samples: int = 3
    severity: Severity = "warning"
    label: str = "value"
    unit: str = ""


class BaselineDeviationDetector(_Detector):
    def __init__(
        self, alert_type: str, dedup_key: str, config: DeviationConfig, policy: AlertPolicy | None = None
    ) -> None:
        super().__init__(
            alert_type, dedup_key, policy=policy, hold_ms=config.hold_ms,
            hold_samples=config.hold_samples, resolve_samples=config.resolve_samples,
        )
        self.config = config
        self._history = RingBuffer(config.window_samples)
        self.last_score: float = 0.0  # robust z of the last sample in the alert direction

    def _observe(self, t_ms: int, value: float) -> list[AlertChange]:
        c = self.config
        if self._history.count < max(1, c.warmup_samples):
            self._history.push(t_ms, value)
            return []
        median, mad = self._history.median_mad()
        scale = max(MAD_TO_SIGMA * mad, c.scale_floor_abs, c.scale_floor_rel * abs(median))
        if c.poisson:
            scale = max(scale, math.sqrt(max(median, 1.0)))
        deviation = value - median
        if c.direction == "up":
            signed = deviation
        elif c.direction == "down":
            signed = -deviation
        else:
            signed = abs(deviation)
        z = signed / scale
        relative = signed / abs(median) if median != 0 else (math.inf if signed > 0 else 0.0)
        baseline_ok = c.min_baseline is None or abs(median) >= c.min_baseline
        breach = baseline_ok and z >= c.z_open and relative >= c.min_rel_change and signed >= c.min_abs_change
        clear = z < c.z_resolve or relative < c.rel_resolve or not baseline_ok
        critical = (c.z_critical is not None and z >= c.z_critical) or (
            c.rel_critical is not None and relative >= c.rel_critical
        )
        window_ms = self._history.span_ms()
        self._history.push(t_ms, value)
        self.last_score = z

        evidence = {
            "value": value,
            "baseline": median,
            "window_ms": window_ms,
            "threshold": c.z_open,
            "z": finite_or_none(z),
            "relative_change": finite_or_none(relative if deviation >= 0 else -relative),
            "scale": scale,
        }
        where = "above" if deviation >= 0 else "below"
        pct = f"{abs(deviation) / abs(median):.0%} " if median != 0 else ""
        message = (
            f"{c.label} {value:.3g}{c.unit} is {pct}{where} its recent baseline "
            f"{median:.3g}{c.unit} (z={z:.1f})"
        )
        resolve_message = f"{c.label} back near its baseline: {value:.3g}{c.unit} (baseline {median:.3g}{c.unit})"
        return self._life.step(
            t_ms, breach=breach, clear=clear, severity="critical" if critical else c.severity,
            message=message, evidence=evidence, resolve_message=resolve_message,
        )


# ------------------------------------------------------------------------------ latency budget


@dataclass(frozen=True)
class BudgetConfig:
    """A latency quantile over a time window against a budget (open above it, resolve below a fraction)."""

    budget_ms: float
    quantile: float = 0.95
    window_ms: int = 30_000
    min_samples: int = 20
    resolve_fraction: float = 0.8
    critical_factor: float = 2.0  # quantile ≥ this × budget → critical
    hold_samples: int = 3
    resolve_samples: int = 5
    label: str = "stage"


class PercentileBudgetDetector(_Detector):
    def __init__(self, alert_type: str, dedup_key: str, config: BudgetConfig, policy: AlertPolicy | None = None) -> None:
        super().__init__(
            alert_type, dedup_key, policy=policy, hold_ms=0,
            hold_samples=config.hold_samples, resolve_samples=config.resolve_samples,
        )
        self.config = config
        self._window = TimeWindow(config.window_ms)

    def _observe(self, t_ms: int, value: float) -> list[AlertChange]:
        self._window.push(t_ms, value)
        return self._evaluate(t_ms)

    def tick(self, t_ms: int) -> list[AlertChange]:
        t = self._guard.clock(t_ms)
        if t is None or not self._window:
            return []
        self._window.expire(t)
        return self._evaluate(t)

    def _evaluate(self, t_ms: int) -> list[AlertChange]:
        c = self.config
        enough = len(self._window) >= c.min_samples
        q = self._window.quantile(c.quantile) if enough else math.nan
        breach = enough and q > c.budget_ms
        clear = not enough or q < c.resolve_fraction * c.budget_ms
        pname = f"p{round(c.quantile * 100)}"
        evidence = {
            "value": finite_or_none(q),
            "baseline": c.budget_ms,
            "window_ms": c.window_ms,
            "threshold": c.budget_ms,
            "samples": len(self._window),
            "quantile": c.quantile,
        }
        severity: Severity = "critical" if breach and q >= c.critical_factor * c.budget_ms else "warning"
        message = f"{c.label} latency {pname} {q:.0f} ms over its {c.budget_ms:.0f} ms budget ({c.window_ms // 1000} s window)"
        resolve_message = f"{c.label} latency back within budget ({pname} {q:.0f} ms)" if enough else (
            f"{c.label} latency: too few samples to judge, alert closed"
        )
        return self._life.step(
            t_ms, breach=breach, clear=clear, severity=severity, message=message,
            evidence=evidence, resolve_message=resolve_message,
        )


# ------------------------------------------------------------------------------ event rate


@dataclass(frozen=True)
class RateConfig:
    """Events per second over a sliding time window; ``update(t, count)`` adds ``count`` events."""

    window_ms: int = 60_000
    open_per_s: float = 0.1
    resolve_per_s: float = 0.02
    min_events: int = 5
    critical_per_s: float | None = 1.0
    resolve_samples: int = 1
    label: str = "events"


class EventRateDetector(_Detector):
    def __init__(self, alert_type: str, dedup_key: str, config: RateConfig, policy: AlertPolicy | None = None) -> None:
        super().__init__(alert_type, dedup_key, policy=policy, hold_ms=0, hold_samples=1,
                         resolve_samples=config.resolve_samples)
        self.config = config
        self._window = TimeWindow(config.window_ms)

    def _observe(self, t_ms: int, value: float) -> list[AlertChange]:
        self._window.push(t_ms, max(0.0, value))
        return self._evaluate(t_ms)

    def tick(self, t_ms: int) -> list[AlertChange]:
        t = self._guard.clock(t_ms)
        if t is None:
            return []
        self._window.expire(t)
        if not self._life.is_open:
            return []  # only samples can open; ticks let an open alert drain and resolve
        return self._evaluate(t)

    def _evaluate(self, t_ms: int) -> list[AlertChange]:
        c = self.config
        total = self._window.total
        rate = total / (c.window_ms / 1000)
        breach = total >= c.min_events and rate >= c.open_per_s
        clear = rate < c.resolve_per_s
        critical = c.critical_per_s is not None and rate >= c.critical_per_s
        evidence = {"value": rate, "baseline": None, "window_ms": c.window_ms, "threshold": c.open_per_s,
                    "events": total}
        message = f"{c.label}: {total:.0f} in the last {c.window_ms // 1000} s ({rate:.2f}/s, threshold {c.open_per_s:g}/s)"
        return self._life.step(
            t_ms, breach=breach, clear=clear, severity="critical" if critical else "warning",
            message=message, evidence=evidence, resolve_message=f"{c.label} rate back to {rate:.2f}/s",
        )


# ------------------------------------------------------------------------------ ingest gaps


@dataclass(frozen=True)
class GapConfig:
    """No arrival for more than ``max_gap_ms``. ``tick(now)`` opens it while the gap lasts;
    without ticks, the arrival that ends a long gap opens it. Arrivals resolve it."""

    max_gap_ms: int = 1_000
    critical_after_ms: int = 5_000
    resolve_samples: int = 2  # arrivals after the gap before it resolves
    label: str = "ingest"


class IngestGapDetector(_Detector):
    """``update(t_ms=arrival clock, value=anything)``; ``tick(t_ms)`` on the same clock."""

    def __init__(self, alert_type: str, dedup_key: str, config: GapConfig, policy: AlertPolicy | None = None) -> None:
        super().__init__(alert_type, dedup_key, policy=policy, hold_ms=0, hold_samples=1,
                         resolve_samples=config.resolve_samples)
        self.config = config
        self._last_arrival: int | None = None

    def _observe(self, t_ms: int, value: float) -> list[AlertChange]:
        previous, self._last_arrival = self._last_arrival, t_ms
        if previous is None:
            return []
        gap = t_ms - previous
        # an arrival that ends a gap already alerted on counts as recovery, not as another breach
        breach = gap > self.config.max_gap_ms and not self._life.is_open
        return self._step(t_ms, gap, breach=breach, clear=not breach)

    def tick(self, t_ms: int) -> list[AlertChange]:
        t = self._guard.clock(t_ms)
        if t is None or self._last_arrival is None:
            return []
        gap = t - self._last_arrival
        if gap <= self.config.max_gap_ms:
            return []  # ticks between arrivals neither breach nor interrupt a recovery run
        return self._step(t, gap, breach=True, clear=False)

    def _step(self, t_ms: int, gap: int, *, breach: bool, clear: bool) -> list[AlertChange]:
        c = self.config
        evidence = {"value": gap, "baseline": None, "window_ms": gap, "threshold": c.max_gap_ms}
        return self._life.step(
            t_ms, breach=breach, clear=clear,
            severity="critical" if gap >= c.critical_after_ms else "warning",
            message=f"no {c.label} data for {gap / 1000:.1f} s (threshold {c.max_gap_ms / 1000:g} s)",
            evidence=evidence, resolve_message=f"{c.label} data flowing again",
        )


# ------------------------------------------------------------------------------ timestamp jumps


@dataclass(frozen=True)
class JumpConfig:
    """Stream time vs arrival clock between consecutive chunks: backwards, or ahead by too much."""

    forward_jump_ms: int = 2_000  # stream time advancing this much more than the arrival clock
    backward_tolerance_ms: int = 0
    resolve_samples: int = 4
    label: str = "stream"


class TimestampJumpDetector(_Detector):
    """``update(t_ms=arrival clock, value=the chunk's stream time in ms)``."""

    def __init__(self, alert_type: str, dedup_key: str, config: JumpConfig, policy: AlertPolicy | None = None) -> None:
        super().__init__(alert_type, dedup_key, policy=policy, hold_ms=0, hold_samples=1,
                         resolve_samples=config.resolve_samples)
        self.config = config
        self._previous: tuple[int, float] | None = None

    def _observe(self, t_ms: int, value: float) -> list[AlertChange]:
        c = self.config
        previous, self._previous = self._previous, (t_ms, value)
        if previous is None:
            return []
        stream_step = value - previous[1]
        clock_step = t_ms - previous[0]
        backward = stream_step < -c.backward_tolerance_ms
        forward = stream_step - clock_step > c.forward_jump_ms
        kind = "backwards" if backward else "forwards"
        evidence = {"value": stream_step, "baseline": clock_step, "window_ms": clock_step,
                    "threshold": -c.backward_tolerance_ms if backward else c.forward_jump_ms,
                    "direction": kind if (backward or forward) else None}
        return self._life.step(
            t_ms, breach=backward or forward, clear=not (backward or forward),
            severity="critical" if backward else "warning",
            message=f"{c.label} timestamps jumped {kind} by {abs(stream_step) / 1000:.1f} s "
                    f"(arrival clock advanced {clock_step / 1000:.1f} s)",
            evidence=evidence, resolve_message=f"{c.label} timestamps steady again",
        )


def describe(detector: Any) -> str:
    """One line naming a detector and its config (for logs and the benchmark)."""
    return f"{type(detector).__name__}({detector.alert_type}, {getattr(detector, 'config', None)})"
