"""The detector interface, the alert record and the shared alert lifecycle.

Every detector is online: it sees one sample at a time (``update(t_ms, value)``) and, for
absence-based faults, a clock tick (``tick(t_ms)``). It returns the alert *changes* that the
sample caused — usually none. The lifecycle rules are the same for all detectors and live in
:class:`AlertLifecycle`:

- **warm-up**: no alert until the detector has seen enough normal data to judge;
- **hold**: a breach must last ``hold_ms`` and ``hold_samples`` before it opens (debounce);
- **hysteresis**: open when the score crosses threshold A, resolve only when it is back past a
  laxer threshold B for ``resolve_samples`` consecutive samples;
- **dedup**: one open alert per dedup key; while it stays breached it is re-announced as
  ``updated`` at most every ``update_interval_ms`` (sooner when its severity rises);
- **cooldown**: after a resolve, the same key does not re-open for ``cooldown_ms``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Severity = Literal["info", "warning", "critical"]
AlertState = Literal["open", "updated", "resolved"]

_SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class AlertChange:
    """One step in an alert's life. Maps 1:1 onto ``streams.schemas.Alert``."""

    alert_type: str
    state: AlertState
    severity: Severity
    dedup_key: str  # "<room_id>:<alert_type>" (plus ":<stage>" for per-stage pipeline alerts)
    message: str  # English, one line, for ops staff
    evidence: dict[str, Any]  # always has value, baseline, window_ms, threshold
    t_ms: int  # the detector's clock at the change (stream time, or wall ms for arrival detectors)


@runtime_checkable
class AnomalyDetector(Protocol):
    """What every detector offers. ``update`` and ``tick`` never raise on odd input."""

    alert_type: str
    dedup_key: str

    def update(self, t_ms: int, value: float) -> list[AlertChange]:
        """Feed one sample. NaN/inf values are ignored and counted."""
        ...

    def tick(self, t_ms: int) -> list[AlertChange]:
        """Advance the clock without a sample (only absence-based detectors react)."""
        ...

    @property
    def is_open(self) -> bool: ...

    @property
    def counters(self) -> dict[str, int]:
        """``samples``, ``ignored_nonfinite``, ``out_of_order`` (and detector-specific ones)."""
        ...


@dataclass(frozen=True)
class AlertPolicy:
    """Lifecycle timing shared by a room's detectors (the per-detector parts live in their configs)."""

    cooldown_ms: int = 30_000  # no re-open of the same key within this long after a resolve
    update_interval_ms: int = 10_000  # an open, still-breached alert is re-announced at most this often


class SampleGuard:
    """Drops non-finite values and keeps a monotone clock, counting both.

    A sample whose time is earlier than one already seen is still used, at the latest time seen,
    so that hold/cooldown timers never run backwards.
    """

    def __init__(self) -> None:
        self.samples = 0
        self.ignored_nonfinite = 0
        self.out_of_order = 0
        self.last_t: int | None = None

    def clock(self, t_ms: Any) -> int | None:
        """The monotone clock for ``t_ms``, or None if ``t_ms`` is not a finite number."""
        try:
            t = float(t_ms)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(t):
            return None
        t_int = int(t)
        if self.last_t is not None and t_int < self.last_t:
            self.out_of_order += 1
            return self.last_t
        self.last_t = t_int
        return t_int

    def accept(self, t_ms: Any, value: Any) -> tuple[int, float] | None:
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        t = self.clock(t_ms)
        if t is None or not math.isfinite(v):
            self.ignored_nonfinite += 1
            return None
        self.samples += 1
        return t, v

    def as_dict(self) -> dict[str, int]:
        return {"samples": self.samples, "ignored_nonfinite": self.ignored_nonfinite, "out_of_order": self.out_of_order}


@dataclass
class AlertLifecycle:
    """The open → updated → resolved state machine for one dedup key.

    The detector decides, per sample, whether it is a *breach* (past threshold A) or *clear*
    (back past threshold B); samples in between are neither and reset the resolve run.
    """

    alert_type: str
    dedup_key: str
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    hold_ms: int = 0
    hold_samples: int = 1
    resolve_samples: int = 3

    is_open: bool = False
    severity: Severity = "warning"
    opened_at: int | None = None
    _breach_since: int | None = None
    _breach_count: int = 0
    _clear_run: int = 0
    _last_emit: int = 0
    _cooldown_until: int | None = None
    _last_evidence: dict[str, Any] = field(default_factory=dict)

    def breach_duration_ms(self, t_ms: int) -> int:
        return 0 if self._breach_since is None else t_ms - self._breach_since

    def step(
        self,
        t_ms: int,
        *,
        breach: bool,
        clear: bool,
        severity: Severity,
        message: str,
        evidence: dict[str, Any],
        resolve_message: str,
        ready: bool = True,
    ) -> list[AlertChange]:
        """Advance by one observation; ``ready`` is False during the detector's warm-up."""
        if breach:
            if self._breach_since is None:
                self._breach_since, self._breach_count = t_ms, 0
            self._breach_count += 1
            self._clear_run = 0
        else:
            self._breach_since, self._breach_count = None, 0
            self._clear_run = self._clear_run + 1 if clear else 0

        if not self.is_open:
            held = (
                self._breach_since is not None
                and t_ms - self._breach_since >= self.hold_ms
                and self._breach_count >= self.hold_samples
            )
            cooling = self._cooldown_until is not None and t_ms < self._cooldown_until
            if breach and ready and held and not cooling:
                self.is_open, self.severity, self.opened_at = True, severity, t_ms
                return [self._emit("open", t_ms, message, evidence)]
            return []

        if breach:
            escalated = _SEVERITY_RANK[severity] > _SEVERITY_RANK[self.severity]
            self._last_evidence = evidence
            if escalated or t_ms - self._last_emit >= self.policy.update_interval_ms:
                self.severity = severity
                return [self._emit("updated", t_ms, message, evidence)]
            return []
        if self._clear_run >= self.resolve_samples:
            return [self.resolve(t_ms, resolve_message, evidence)]
        return []

    def resolve(self, t_ms: int, message: str, evidence: dict[str, Any] | None = None) -> AlertChange:
        """Close the open alert now (also used when a stream ends) and start the cooldown."""
        change = self._emit("resolved", t_ms, message, evidence if evidence is not None else self._last_evidence)
        self.is_open, self.opened_at = False, None
        self._cooldown_until = t_ms + self.policy.cooldown_ms
        self._clear_run = 0
        return change

    def _emit(self, state: AlertState, t_ms: int, message: str, evidence: dict[str, Any]) -> AlertChange:
        self._last_emit = t_ms
        self._last_evidence = evidence
        if self.opened_at is not None:
            evidence = {**evidence, "open_for_ms": t_ms - self.opened_at}
        return AlertChange(
            alert_type=self.alert_type,
            state=state,
            severity=self.severity,
            dedup_key=self.dedup_key,
            message=message,
            evidence=evidence,
            t_ms=t_ms,
        )


def finite_or_none(x: float | None) -> float | None:
    """Evidence values must be JSON-safe: NaN/inf become None."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)
