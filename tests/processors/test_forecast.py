"""The forecast processor: room_metrics windows → forecasts, and early warnings on the alert lifecycle."""

from __future__ import annotations

import numpy as np

from processors.forecast import ForecastProcessor
from processors.testing import ProcessorRun, run_processor
from streams.schemas import RoomMetrics
from streams.settings import Settings

ROOM = "fc-room"
WINDOW_MS = 5_000


def _settings() -> Settings:
    return Settings(metrics_window_ms=WINDOW_MS, _env_file=None)


def window(i: int, viewers: int | None, orders: int = 2, final: bool = False, room: str = ROOM) -> RoomMetrics:
    return RoomMetrics(room_id=room, event_id=f"{room}:metrics:{i}", stream_ms=(i + 1) * WINDOW_MS,
                       ingested_at=1_700_000_000.0 + i * 5, window_start_ms=i * WINDOW_MS, window_ms=WINDOW_MS,
                       orders=orders, orders_per_min=orders * 12.0, gmv=orders * 59.9, viewers=viewers, final=final)


def test_a_room_that_just_started_has_forecasts_without_enough_data_and_no_warning():
    events = [window(0, 500), window(1, None, orders=0), window(2, 480)]
    outputs = run_processor(ForecastProcessor(_settings()), events)
    forecasts = [o.event for o in outputs if o.topic == "forecasts"]
    assert len(forecasts) == 3  # one per window
    assert not [o for o in outputs if o.topic == "alerts"]
    for f in forecasts:
        assert not f.enough_data
        assert [p.horizon_min for p in f.viewers] == [5, 15, 45]
        assert all(not p.enough_data for p in f.viewers + f.orders_per_min + f.gmv)
    # no minute has closed yet: no history, so no number is claimed
    assert forecasts[-1].viewers[0].mean is None


def test_a_room_that_ends_in_its_first_minute_gets_a_wide_forecast_and_is_forgotten():
    run = ProcessorRun(ForecastProcessor(_settings()))
    outputs = run.feed([window(i, 300 + i) for i in range(5)] + [window(5, 305, final=True)])
    last = [o.event for o in outputs if o.topic == "forecasts"][-1]
    assert not last.enough_data
    p = last.viewers[0]
    assert p.mean is not None and p.lo80 < p.mean < p.hi80  # the closed minute: a naive forecast, wide
    assert run.states == {}  # the final window forgets the room


def _falling_room(minutes: int, start: float, per_min: float, seed: int = 3) -> tuple[list[RoomMetrics], list[float]]:
    rng = np.random.default_rng(seed)
    events, truth = [], []
    for i in range(minutes * 12):
        level = start - per_min * i / 12
        truth.append(level)
        events.append(window(i, int(max(0.0, level + rng.normal(0, 8))), orders=int(rng.poisson(3))))
    return events, truth


def test_falling_viewers_raise_an_early_warning_with_its_lead_time_before_the_floor_is_crossed():
    # 1,000 viewers losing 20 a minute: the 200 floor (early_warning.yaml) is crossed at minute 40
    events, truth = _falling_room(minutes=36, start=1_000, per_min=20)
    outputs = run_processor(ForecastProcessor(_settings()), events)
    alerts = [o.event for o in outputs if o.topic == "alerts" and o.event.alert_type == "forecast_viewers_below_floor"]
    assert alerts, "no early warning for a steady fall towards the floor"
    opened = alerts[0]
    assert opened.state == "open" and opened.dedup_key == f"{ROOM}:forecast:viewers_below_floor"
    lead = opened.evidence["lead_time_min"]
    opened_min = opened.stream_ms / 60_000
    crossed_min = (1_000 - 200) / 20  # where the true level reaches the floor
    assert opened_min < crossed_min, "the warning must come before the problem"
    assert truth[int(opened_min * 12) - 1] > 200  # the room was still above the floor when warned
    assert 0 < lead <= 45 and opened_min + lead >= crossed_min - 5  # the lead time points at the crossing
    assert "在线人数" in opened.evidence["message_zh"] and "Viewers" in opened.evidence["message_en"]
    assert opened.evidence["forecast"]["enough_data"] is True
    # one open alert per rule: later windows update it (no second "open")
    assert [a.state for a in alerts].count("open") == 1
    forecasts = [o.event for o in outputs if o.topic == "forecasts"]
    last = forecasts[-1]
    assert last.enough_data and last.viewers[1].mean < truth[-1]  # the 15-min forecast continues the fall
    assert last.viewers[1].lo80 <= last.viewers[1].mean <= last.viewers[1].hi80


def test_a_warning_resolves_when_the_stream_ends_and_a_steady_room_never_warns():
    events, _ = _falling_room(minutes=30, start=900, per_min=20)
    events.append(window(len(events), 300, final=True))
    outputs = run_processor(ForecastProcessor(_settings()), events)
    states = [o.event.state for o in outputs if o.topic == "alerts" and o.event.alert_type == "forecast_viewers_below_floor"]
    assert states[0] == "open" and states[-1] == "resolved"

    steady, _ = _falling_room(minutes=25, start=1_000, per_min=0)
    outputs = run_processor(ForecastProcessor(_settings()), [window(i, e.viewers, orders=3) for i, e in enumerate(steady)])
    assert not [o for o in outputs if o.topic == "alerts"]
    assert [o.event for o in outputs if o.topic == "forecasts"][-1].enough_data
