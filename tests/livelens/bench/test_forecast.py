"""``livelens bench forecast`` on tiny NAB-style folders: the JSON has every model's MASE and
coverage with the per-horizon breakdown; bad folders fail in one line; the MASE definition is
checked on a series whose errors are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from livelens.bench.forecast import Series, evaluate, load_series, season_length
from livelens.cli import app


def _write(path: Path, values, step_s: int = 300, extra_rows: list[str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["timestamp,value"]
    for i, v in enumerate(values):
        seconds = i * step_s
        rows.append(f"2024-01-01 {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d},{v}")
    path.write_text("\n".join(rows + (extra_rows or [])) + "\n", encoding="utf-8")


def test_bench_forecast_json_on_a_tiny_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    _write(tmp_path / "a" / "noisy.csv", rng.normal(50, 4, 200))
    _write(tmp_path / "b" / "deep" / "trend.csv", np.arange(200) * 0.5 + rng.normal(0, 1, 200), extra_rows=["garbage,row", "2024-01-01 23:59:00,nan"])
    (tmp_path / "b" / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["bench", "forecast", "--data", str(tmp_path), "--origins", "3", "--cost-rooms", "0", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["series"] == 2 and report["origins_total"] == 6
    assert set(report["models"]) == {"naive", "seasonal_naive", "auto_ets", "auto_theta", "room_forecaster"}
    for row in report["models"].values():
        assert row["mase"] > 0 and 0 <= row["coverage_80"] <= 1
        assert set(row["per_horizon"]) == {"5min", "15min", "45min"}
    assert any("notes.csv" in s for s in report["skipped"])
    assert report["command"].startswith("livelens bench forecast --data") and "--origins 3" in report["command"]


def test_bench_forecast_on_generated_sessions_measures_room_cost() -> None:
    result = CliRunner().invoke(app, ["bench", "forecast", "--generated", "1", "--minutes", "90", "--min-train", "30", "--origins", "2",
                                      "--models", "naive,seasonal_naive,room_forecaster", "--cost-rooms", "1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["series"] == 3  # orders_per_min, gmv, viewers of one room
    assert report["data"].startswith("generated")
    cost = report["room_cost"]
    assert cost["rooms"] == 1 and cost["per_minute_close_ms"]["p50"] > 0
    processor = report["processor_cost"]  # the same work in the forecast processor's path, per 5-s window
    assert processor["rooms"] == 1 and processor["update_cpu_ms_at_minute_close"]["p50"] > 0
    assert processor["update_cpu_ms"]["p50"] <= processor["update_cpu_ms_at_minute_close"]["p99"]


def test_bad_input_is_one_line_and_nonzero(tmp_path: Path) -> None:
    runner = CliRunner()
    empty = runner.invoke(app, ["bench", "forecast", "--data", str(tmp_path), "--cost-rooms", "0"])
    assert empty.exit_code != 0 and "no CSV" in empty.output and "Traceback" not in empty.output
    bad = runner.invoke(app, ["bench", "forecast", "--data", str(tmp_path), "--horizons", "5,x"])
    assert bad.exit_code != 0 and "--horizons" in bad.output


def test_mase_of_naive_on_a_random_walk_is_near_one_and_seasonality_is_inferred() -> None:
    rng = np.random.default_rng(1)
    walk = np.cumsum(rng.normal(0, 1, 3000))
    series = Series("walk", np.arange(3000) * 300.0, walk)  # 5-minute steps, ~10 days
    assert season_length(series) == 288
    report = evaluate([series], [5.0], origins=40, models=("naive",))
    # one step ahead, naive's error is the next step's difference: its MASE is ~1 by definition
    assert 0.7 < report["models"]["naive"]["mase"] < 1.3
    assert 0.65 < report["models"]["naive"]["coverage_80"] <= 1.0


def test_load_series_drops_duplicates_and_bad_rows(tmp_path: Path) -> None:
    _write(tmp_path / "s.csv", [1, 2, 3], extra_rows=["2024-01-01 00:10:00,9", "bad,1", "2024-01-01 00:20:00,inf"])
    series, skipped = load_series(tmp_path)
    assert skipped == [] and list(series[0].values) == [1, 2, 9]  # 00:10 given twice: the last value stays
