"""RoomForecaster, RoomForecastSet and the early warnings: behaviour on good and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from models.forecast import (
    Forecast, MetricConfig, RoomForecaster, RoomForecastSet, WarningRulesError, early_warnings, load_warning_rules,
    parse_warning_rules, stock_out_minutes,
)

MINUTE = 60_000


def _fed(values, config: MetricConfig | None = None, start_minute: int = 0) -> RoomForecaster:
    forecaster = RoomForecaster(config or MetricConfig(kind="level"))
    for i, value in enumerate(values):
        forecaster.update((start_minute + i) * MINUTE, value)
    forecaster.close_open_step()
    return forecaster


def _width(f: Forecast) -> float:
    return f.hi80 - f.lo80


def test_a_room_with_no_history_says_so_instead_of_raising() -> None:
    out = RoomForecaster().forecast((5, 15, 45))
    assert [f.horizon_min for f in out] == [5, 15, 45]
    assert all(not f.enough_data and math.isnan(f.mean) for f in out)


def test_a_room_that_just_started_gets_a_wide_naive_forecast_flagged_not_enough() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(100, 5, 200)
    short = _fed(noise[:3]).forecast((5,))[0]
    long = _fed(noise).forecast((5,))[0]
    assert not short.enough_data and long.enough_data
    assert short.lo80 <= short.mean <= short.hi80
    assert _width(short) > _width(long)  # little history: less certainty


def test_constant_series_gets_a_nonzero_interval() -> None:
    for kind in ("level", "count"):
        f = _fed([7.0] * 40, MetricConfig(kind=kind)).forecast((5, 45))
        assert all(x.enough_data for x in f)
        assert all(x.mean == pytest.approx(7.0, abs=1e-6) for x in f)
        assert all(x.hi80 > x.mean > x.lo80 for x in f)
        assert all(x.hi95 > x.hi80 for x in f)


def test_all_zero_counts_stay_nonnegative() -> None:
    f = _fed([0.0] * 30, MetricConfig(kind="count")).forecast((5,))[0]
    assert f.lo95 == 0.0 and f.mean == 0.0 and f.hi80 > 0.0


def test_duplicate_timestamps_keep_the_last_value() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(50, 3, 40)
    clean = _fed(values)
    noisy = RoomForecaster(MetricConfig(kind="level"))
    for i, value in enumerate(values):
        noisy.update(i * MINUTE, 999.0)  # redelivered, then corrected
        noisy.update(i * MINUTE, value)
    noisy.close_open_step()
    assert noisy.forecast((5,))[0].mean == pytest.approx(clean.forecast((5,))[0].mean)


def test_windows_inside_a_minute_aggregate_by_the_metric_rule() -> None:
    summed = RoomForecaster(MetricConfig(aggregate="sum"))
    averaged = RoomForecaster(MetricConfig(aggregate="mean"))
    for forecaster in (summed, averaged):
        for second in range(0, 60, 10):
            forecaster.update(second * 1000, 2.0)
        forecaster.update(MINUTE, 0.0)  # opens the next minute: the first closes
    assert list(summed.history) == [12.0] and list(averaged.history) == [2.0]


def test_gaps_are_filled_and_a_long_outage_restarts_the_history() -> None:
    values = list(np.linspace(10, 20, 30))
    forecaster = _fed(values)
    forecaster.update(40 * MINUTE, 21.0)  # 9 missing minutes
    forecaster.close_open_step()
    assert len(forecaster.history) == 41 and forecaster.history[-2] == forecaster.history[29]
    assert forecaster.forecast((5,))[0].enough_data
    forecaster.update(200 * MINUTE, 5.0)  # off for more than max_gap_steps
    forecaster.close_open_step()
    assert forecaster.dropped["restarts"] == 1
    assert not forecaster.forecast((5,))[0].enough_data


def test_late_and_non_finite_values_are_dropped_and_counted() -> None:
    forecaster = _fed(np.full(20, 5.0))
    forecaster.update(3 * MINUTE, 100.0)
    forecaster.update(21 * MINUTE, float("nan"))
    forecaster.update(21 * MINUTE, None)  # type: ignore[arg-type]
    forecaster.update(21 * MINUTE, "x")  # type: ignore[arg-type]
    assert forecaster.dropped["late"] == 1 and forecaster.dropped["non_finite"] == 3
    assert forecaster.forecast((5,))[0].mean == pytest.approx(5.0, abs=1e-6)


def test_a_falling_audience_is_forecast_lower_further_ahead() -> None:
    rng = np.random.default_rng(2)
    viewers = 2000 * np.exp(-0.01 * np.arange(90)) * np.exp(rng.normal(0, 0.005, 90))
    out = _fed(viewers, MetricConfig(name="viewers", kind="level")).forecast((5, 15, 45))
    assert out[0].mean > out[1].mean > out[2].mean
    assert _width(out[2]) > _width(out[0])


def test_the_80_percent_interval_covers_about_80_percent_of_new_draws() -> None:
    rng = np.random.default_rng(3)
    inside = total = 0
    for _ in range(30):
        series = rng.normal(100, 8, 80)
        f = _fed(series[:60]).forecast((5,))[0]
        future = rng.normal(100, 8, 50)
        inside += int(np.sum((future >= f.lo80) & (future <= f.hi80)))
        total += len(future)
    assert 0.65 <= inside / total <= 0.93


def test_forecast_set_reads_room_metrics_windows() -> None:
    room = RoomForecastSet("room-1")
    for w in range(6 * 30):  # 10-s windows for 30 minutes
        room.observe_window({"window_start_ms": w * 10_000, "window_ms": 10_000, "orders_per_min": 6.0 * (w % 2), "gmv": 129.0 * (w % 2), "viewers": 800})
    out = room.forecast((5, 15, 45))
    assert set(out) == {"orders_per_min", "gmv", "viewers"}
    assert out["orders_per_min"][0].mean == pytest.approx(3.0, rel=0.05)  # mean of 6/min and 0/min windows
    assert out["gmv"][0].mean == pytest.approx(3 * 129.0, rel=0.05)  # GMV sums inside a minute
    assert out["viewers"][0].mean == pytest.approx(800, rel=0.01)


# ---------------------------------------------------------------------------- early warnings


def _forecasts(metric: str, means: dict[float, float], spread: float = 0.1, enough: bool = True) -> dict[str, list[Forecast]]:
    return {metric: [Forecast(h, m, m * (1 - spread), m * (1 + spread), m * (1 - 2 * spread), m * (1 + 2 * spread), "test", enough) for h, m in means.items()]}


def test_viewers_floor_warns_at_the_first_horizon_that_crosses_with_its_lead_time() -> None:
    rules = load_warning_rules()
    floor = rules.warnings["viewers_below_floor"].threshold
    forecasts = _forecasts("viewers", {5: floor * 3, 15: floor * 1.5, 45: floor * 0.5})
    warnings = early_warnings("room-1", forecasts, rules)
    assert [w.warning_type for w in warnings] == ["viewers_below_floor"]
    assert warnings[0].lead_time_min == 45
    assert warnings[0].dedup_key == "room-1:forecast:viewers_below_floor"
    assert "45" in warnings[0].message_en and "45" in warnings[0].message_zh and "在线人数" in warnings[0].message_zh


def test_no_warning_without_enough_data_or_when_the_interval_stays_above() -> None:
    rules = load_warning_rules()
    floor = rules.warnings["viewers_below_floor"].threshold
    assert early_warnings("r", _forecasts("viewers", {5: floor * 0.5}, enough=False), rules) == []
    # mean below the floor, but the 80 % interval's top end above it: not yet likely
    assert early_warnings("r", _forecasts("viewers", {5: floor * 0.95}, spread=0.2), rules) == []


def test_stock_running_out_before_the_segment_ends_warns_with_minutes_left() -> None:
    forecasts = _forecasts("orders_per_min", {5: 10.0, 15: 10.0, 45: 10.0})
    assert stock_out_minutes(forecasts["orders_per_min"], 100) == pytest.approx(10.0)
    warnings = early_warnings("r", forecasts, load_warning_rules(), stock=100, segment_left_min=20)
    assert [w.warning_type for w in warnings] == ["stock_out_before_segment_end"]
    assert warnings[0].lead_time_min == pytest.approx(10.0)
    assert early_warnings("r", forecasts, load_warning_rules(), stock=100, segment_left_min=8) == []
    assert early_warnings("r", forecasts, load_warning_rules()) == []  # stock unknown


def test_piecewise_rate_for_stock_out() -> None:
    forecasts = _forecasts("orders_per_min", {5: 2.0, 15: 4.0, 45: 1.0})["orders_per_min"]
    # 5 min x 2 = 10, then 10 min x 4 = 40 (50 by minute 15), then 1/min
    assert stock_out_minutes(forecasts, 30) == pytest.approx(5 + 20 / 4)
    assert stock_out_minutes(forecasts, 60) == pytest.approx(15 + 10)
    assert math.isinf(stock_out_minutes(_forecasts("o", {5: 0.0})["o"], 10))


def test_bad_rules_fail_with_one_line_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "warnings.yaml"
    bad.write_text("version: 1\nwarnings:\n  v:\n    type: threshold\n    metric: viewers\n    direction: sideways\n    threshold: 3\n    message: {zh: a, en: b}\n", encoding="utf-8")
    with pytest.raises(WarningRulesError) as error:
        load_warning_rules(bad)
    message = str(error.value)
    assert str(bad) in message and "warnings.v.direction" in message and "\n" not in message
    with pytest.raises(WarningRulesError, match=r"warnings.v.message.en"):
        parse_warning_rules({"warnings": {"v": {"type": "threshold", "metric": "m", "direction": "below", "threshold": 1,
                                                "message": {"zh": "a", "en": "{nope}"}}}})
    with pytest.raises(WarningRulesError, match=r"warnings.v.type"):
        parse_warning_rules({"warnings": {"v": {"type": "guess"}}})
