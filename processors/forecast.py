"""Forecasts and early warnings: ``room_metrics`` windows → ``forecasts``, and warnings → ``alerts``.

Per room, a :class:`models.forecast.RoomForecastSet` (orders per minute, GMV, viewers; one-minute
steps, statsforecast's AutoETS) is fed every closed metrics window and asked for its forecasts at
``settings.forecast.horizons_min`` (5 / 15 / 45 min). Every window gives one ``forecast`` event
(the same forecasts until a minute closes: the set caches them). :func:`models.forecast.early_warnings`
then checks the forecasts against ``early_warning.yaml``; each rule has an
:class:`models.anomaly.AlertLifecycle` (the anomaly alerts' open → updated → resolved machine, the
same cooldown and update interval), so a warning is one alert ``forecast_<rule>`` with dedup key
``<room>:forecast:<rule>``, its lead time in ``evidence["lead_time_min"]``, resolved once three
windows in a row no longer cross.

Cost: each update's thread CPU time is measured (``update_cpu_ms`` on the event, and the histogram
``livelens_forecast_update_seconds``); the budget is 20 ms per room per window. A window that closes
no minute costs microseconds; a minute close costs a statsforecast ``forward`` or, every 15 minutes
per metric, a refit (docs/FORECASTING.md has the figures). statsforecast is imported by
``load_models`` when the worker starts (in :func:`register`), not on the first window.

State is per worker, in memory (the fitted models are not JSON). A restart or failover costs a
room its history: forecasts say ``enough_data: false`` (wide naive intervals, no warnings) for
the 10–12 minutes it takes to refill, and a warning open before the restart stays open in Redis
until the new worker's lifecycle resolves or re-opens it.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from prometheus_client import Histogram

from models.anomaly import AlertLifecycle, AlertPolicy
from models.forecast import Forecast, RoomForecastSet, early_warnings, load_warning_rules
from processors.runtime import Input, Output, RoomProcessor, attach
from streams.app import AppContext
from streams.schemas import Alert, ForecastPoint, RoomForecast, RoomMetrics

UPDATE_SECONDS = Histogram("livelens_forecast_update_seconds", "Thread CPU time of one room's forecast update",
                           buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1))


@dataclass
class RoomForecasts:
    """A room's forecasters and its warnings' lifecycles."""

    forecasts: RoomForecastSet
    warnings: dict[str, AlertLifecycle] = field(default_factory=dict)  # rule name -> lifecycle
    ended: bool = False


def _points(forecasts: list[Forecast]) -> list[ForecastPoint]:
    return [ForecastPoint(**f.to_dict()) for f in forecasts]  # to_dict: NaN -> None (events reject NaN)


class ForecastProcessor(RoomProcessor):
    name = "forecast"
    budget = "forecast"
    inputs = {"room_metrics": (RoomMetrics,)}
    # a minute close costs a few ms of statsforecast: its own agent and thread, off the shared loop
    runs_on = "thread"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.rules = load_warning_rules(settings.forecast.warnings_file)
        self.horizons = tuple(settings.forecast.horizons_min)
        self.policy = AlertPolicy(int(settings.anomaly.cooldown_s * 1000), int(settings.anomaly.update_interval_s * 1000))
        self._loaded = False
        self._load_lock = threading.Lock()

    def load_models(self) -> None:
        """Import pandas + statsforecast and run one tiny fit, so no room's first window pays for
        it (4-10 s under load, docs/FORECASTING.md). :func:`register` calls it while the worker
        starts; the runtime's call before the first input then finds it done."""
        with self._load_lock:  # the start-up task and the runtime's first-input call may overlap
            if not self._loaded:
                self._load()

    def _load(self) -> None:
        import numpy as np
        from scipy.stats import t  # noqa: F401  (the too-little-history interval)

        from models.forecast import make_model

        y = 100 + np.sin(np.arange(30) / 3.0)
        model = make_model("auto_ets")
        model.fit(y)
        model.forward(y=y, h=3, level=[95])
        self._loaded = True

    def new_state(self, room_id: str) -> RoomForecasts:
        return RoomForecasts(RoomForecastSet(room_id))

    def forget_room(self, inp: Input, room: RoomForecasts) -> bool:
        return room.ended

    def handle(self, inp: Input, room: RoomForecasts) -> list[Output]:
        m: RoomMetrics = inp.event
        started = time.thread_time()
        room.forecasts.observe_window({"window_start_ms": m.window_start_ms, "window_ms": m.window_ms,
                                       "orders_per_min": m.orders_per_min, "gmv": m.gmv, "viewers": m.viewers})
        if m.final:  # the last window closes its minute too: forecast from everything seen
            for forecaster in room.forecasts.forecasters.values():
                forecaster.close_open_step()
        forecasts = room.forecasts.forecast(self.horizons)
        warnings = {w.warning_type: w for w in early_warnings(
            m.room_id, forecasts, self.rules, stock=m.stock, segment_left_min=self.settings.forecast.segment_left_min)}
        cost_s = time.thread_time() - started
        UPDATE_SECONDS.observe(cost_s)
        t_ms = m.window_start_ms + m.window_ms
        outputs = [Output("forecasts", RoomForecast(
            room_id=m.room_id, event_id=f"{m.room_id}:forecast:{m.window_start_ms}", stream_ms=t_ms,
            ingested_at=m.ingested_at, window_start_ms=m.window_start_ms, window_ms=m.window_ms,
            orders_per_min=_points(forecasts.get("orders_per_min", [])), gmv=_points(forecasts.get("gmv", [])),
            viewers=_points(forecasts.get("viewers", [])),
            enough_data=all(f.enough_data for fs in forecasts.values() for f in fs),
            update_cpu_ms=round(cost_s * 1000, 3)))]
        outputs += self._alerts(m, room, forecasts, warnings, t_ms)
        room.ended = m.final
        return outputs

    def _alerts(self, m: RoomMetrics, room: RoomForecasts, forecasts, warnings, t_ms: int) -> list[Output]:
        changes = []
        for name, rule in self.rules.warnings.items():
            warning = warnings.get(name)
            lifecycle = room.warnings.get(name)
            if lifecycle is None:
                lifecycle = room.warnings[name] = AlertLifecycle(f"forecast_{name}", f"{m.room_id}:forecast:{name}", self.policy)
            usable = any(f.enough_data for f in forecasts.get(rule.metric, []))
            if m.final and lifecycle.is_open:
                changes.append(lifecycle.resolve(t_ms, f"{name}: the stream ended"))
                continue
            if warning is not None:
                evidence = {"lead_time_min": round(warning.lead_time_min, 1), "metric": warning.metric,
                            "message_zh": warning.message_zh, "message_en": warning.message_en,
                            **_finite(warning.evidence)}
                changes += lifecycle.step(t_ms, breach=True, clear=False, severity=warning.severity,
                                          message=warning.message_en, evidence=evidence, resolve_message="")
            else:
                # no data is not a clear: a room that stopped reporting keeps its warning open
                changes += lifecycle.step(t_ms, breach=False, clear=usable, severity=rule.severity, message="",
                                          evidence={"metric": rule.metric}, ready=usable,
                                          resolve_message=f"{name}: the forecast no longer crosses the threshold")
        return [Output("alerts", Alert(
            room_id=m.room_id, event_id=f"{m.room_id}:alert:{ch.dedup_key}:{ch.state}:{ch.t_ms}", stream_ms=ch.t_ms,
            ingested_at=m.ingested_at, alert_type=ch.alert_type, state=ch.state, severity=ch.severity,
            dedup_key=ch.dedup_key, message=ch.message, evidence=ch.evidence)) for ch in changes]


def _finite(value):
    """Evidence without NaN / inf (events reject them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def register(ctx: AppContext) -> None:
    processor = ForecastProcessor(ctx.settings)
    # Loaded now, while the worker starts: the runtime would load on the first input, and the first
    # windows' forecasts waited for the imports (p99 ~10 s in `livelens demo` under load). Loaded
    # before the worker's ``models_loaded``, pandas and statsforecast are also frozen out of the
    # collector's full passes with the other models. (A process that only builds the context to
    # learn its tables, as `livelens demo` does, pays the import too.)
    processor.load_models()
    attach(ctx, processor)
