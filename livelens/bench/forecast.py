"""``livelens bench forecast``: rolling-origin evaluation of the room forecaster and statsforecast
baselines on any folder of ``timestamp,value`` CSV series (searched recursively: the NAB layout),
or on generated live-room sessions (``--generated N``, models/attribution/scenario.py).

Protocol, per series: the sampling step is the median timestamp difference; horizons are given in
minutes and become ceil(minutes / step) steps (at least 1). ``--origins`` forecast origins are
spread evenly over the part of the series that has ``--min-train`` points before it and the
longest horizon after it. At each origin every model is fitted on the last ``--max-history``
points (at least two seasons for the seasonal models) and forecasts all horizons.

- MASE: |error| ÷ the in-sample mean absolute one-step naive difference of that training window
  (origins whose training window is constant are left out of MASE and counted); averaged per
  series, then over series (a long series does not weigh more).
- coverage_80 / coverage_95: share of (series, origin, horizon) points inside the interval.
- Season length: steps per day when the series spans >= 3 days, else steps per hour when it spans
  >= 3 hours, else 1 (``--season`` overrides).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shlex
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import typer
from livelens.bench import table_console

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "anomaly" / "nab"
BENCH_MODELS = ("naive", "seasonal_naive", "auto_ets", "auto_theta", "room_forecaster")


@dataclass
class Series:
    name: str
    times_s: np.ndarray
    values: np.ndarray

    @property
    def step_s(self) -> float:
        return float(np.median(np.diff(self.times_s))) if len(self.times_s) > 1 else 60.0


def _seconds(text: str) -> float:
    text = text.strip()
    try:
        return float(text)  # epoch seconds
    except ValueError:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def load_series(root: Path) -> tuple[list[Series], list[str]]:
    """Every ``*.csv`` under ``root`` with ``timestamp`` and ``value`` columns. Rows that do not
    parse or are not finite are dropped; duplicate timestamps keep the last value. Returns the
    series and the files skipped (with why)."""
    series, skipped = [], []
    for path in sorted(root.rglob("*.csv")):
        name = str(path.relative_to(root))
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                if not reader.fieldnames or not {"timestamp", "value"} <= set(reader.fieldnames):
                    skipped.append(f"{name} (no timestamp,value columns)")
                    continue
                points: dict[float, float] = {}
                for row in reader:
                    try:
                        t, v = _seconds(row["timestamp"]), float(row["value"])
                    except (TypeError, ValueError):
                        continue
                    if math.isfinite(t) and math.isfinite(v):
                        points[t] = v
        except (OSError, UnicodeDecodeError) as exc:
            skipped.append(f"{name} ({exc.__class__.__name__})")
            continue
        if len(points) < 3:
            skipped.append(f"{name} (fewer than 3 valid rows)")
            continue
        times = np.array(sorted(points))
        series.append(Series(name, times, np.array([points[t] for t in times])))
    return series, skipped


def season_length(s: Series) -> int:
    step = s.step_s
    span = float(s.times_s[-1] - s.times_s[0])
    if span >= 3 * 86_400 and 86_400 / step >= 2:
        return int(round(86_400 / step))
    if span >= 3 * 3_600 and 3_600 / step >= 2:
        return int(round(3_600 / step))
    return 1


Forecaster = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, np.ndarray]]


def _statsforecast(name: str, season: int) -> Forecaster:
    from models.forecast import make_model

    def run(y: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        model = make_model(name, season)
        result = model.forecast(y=y, h=h, level=[80])
        return np.asarray(result["mean"]), np.asarray(result["lo-80"]), np.asarray(result["hi-80"])

    return run


def _room_forecaster(step_s: float, nonnegative: bool) -> Forecaster:
    """What ships: RoomForecaster (auto_ets on its last max_history steps, noise floor), fed point by point."""
    from models.forecast import MetricConfig, RoomForecaster

    config = MetricConfig(name="value", step_s=step_s, kind="level", nonnegative=nonnegative)

    def run(y: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        forecaster = RoomForecaster(config)
        for i, value in enumerate(y[-config.max_history:]):
            forecaster.update(i * step_s * 1000, value)
        forecaster.close_open_step()
        out = forecaster.forecast([k * step_s / 60 for k in range(1, h + 1)])
        return np.array([f.mean for f in out]), np.array([f.lo80 for f in out]), np.array([f.hi80 for f in out])

    return run


def evaluate(
    series: list[Series], horizons_min: list[float], origins: int = 8, max_history: int = 500, min_train: int = 60,
    models: tuple[str, ...] = BENCH_MODELS, season_override: int | None = None, progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Rolling-origin evaluation (protocol in the module docstring)."""
    per_model: dict[str, dict[str, Any]] = {m: {"series_mase": [], "inside80": [], "inside95": [], "ms": [], "h": {}} for m in models}
    used, skipped, constant_origins, total_origins = [], [], 0, 0
    for s in series:
        if progress:
            progress(s.name)
        step = s.step_s
        steps = [max(1, math.ceil(h * 60 / step)) for h in horizons_min]
        top = max(steps)
        season = season_override or season_length(s)
        history = max(max_history, 2 * season + 1)
        first, last = max(min_train, 2 * season + 1 if "seasonal_naive" in models else min_train), len(s.values) - top
        if last <= first:
            skipped.append(f"{s.name} (too short: {len(s.values)} points)")
            continue
        used.append({"name": s.name, "points": len(s.values), "step_s": step, "season": season, "horizon_steps": steps})
        runners: dict[str, Forecaster] = {}
        for m in models:
            runners[m] = _room_forecaster(step, bool(np.min(s.values) >= 0)) if m == "room_forecaster" else _statsforecast(m, season)
        points = np.unique(np.linspace(first, last, origins).astype(int))
        errors: dict[str, list[float]] = {m: [] for m in models}
        for origin in points:
            total_origins += 1
            train = s.values[max(0, origin - history):origin]
            scale = float(np.mean(np.abs(np.diff(train[-max_history:]))))
            constant = scale <= 1e-12 * max(1.0, float(np.max(np.abs(train))))
            constant_origins += constant
            for m, run in runners.items():
                started = time.perf_counter()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        mean, lo, hi = run(train if m != "room_forecaster" else train[-max_history:], top)
                except Exception:  # a model that cannot fit this window: score it as its naive fallback
                    mean = np.full(top, train[-1])
                    lo = hi = mean
                per_model[m]["ms"].append((time.perf_counter() - started) * 1000)
                for label, k in zip(horizons_min, steps):
                    truth = s.values[origin + k - 1]
                    inside = bool(lo[k - 1] <= truth <= hi[k - 1])
                    per_model[m]["inside80"].append(inside)
                    bucket = per_model[m]["h"].setdefault(label, {"scaled": [], "inside80": []})
                    bucket["inside80"].append(inside)
                    if not constant:
                        scaled = abs(float(mean[k - 1]) - truth) / scale
                        errors[m].append(scaled)
                        bucket["scaled"].append(scaled)
        for m in models:
            if errors[m]:
                per_model[m]["series_mase"].append(float(np.mean(errors[m])))
    out: dict[str, Any] = {"models": {}}
    for m, acc in per_model.items():
        out["models"][m] = {
            "mase": _round(np.mean(acc["series_mase"])) if acc["series_mase"] else None,
            "coverage_80": _round(np.mean(acc["inside80"])) if acc["inside80"] else None,
            "fit_forecast_ms_p50": _round(np.percentile(acc["ms"], 50)) if acc["ms"] else None,
            "per_horizon": {
                f"{label:g}min": {
                    "mase_pooled": _round(np.mean(b["scaled"])) if b["scaled"] else None,
                    "coverage_80": _round(np.mean(b["inside80"])) if b["inside80"] else None,
                }
                for label, b in acc["h"].items()
            },
        }
    out.update(
        series=len(used), origins_per_series=origins, origins_total=total_origins,
        origins_constant_training_window=constant_origins, horizons_min=horizons_min, max_history=max_history,
        skipped=skipped, series_detail=used,
    )
    return out


def _round(value: float) -> float:
    return round(float(value), 4)


def measure_room_cost(rooms: int = 10, minutes: int = 120, window_s: int = 10, seed: int = 0) -> dict[str, Any]:
    """Wall-clock cost of ``RoomForecastSet.observe_window`` + ``forecast((5, 15, 45))`` for the
    three metrics of a room, once per metrics window, on generated rooms. The first call (imports,
    first fit) is reported apart; the cost lands when a minute closes (a refit every
    ``refit_every`` minutes, a forward otherwise), so it is reported per window and per minute close."""
    import math as _math

    from models.forecast import RoomForecastSet

    first = RoomForecastSet("first")
    for w in range(12):  # enough closed minutes for the statsforecast model
        first.observe_window({"window_start_ms": w * 60_000, "orders_per_min": float(w % 3), "gmv": 10.0 * w, "viewers": 100 + w})
    started = time.perf_counter()
    first.forecast()  # the process's first statsforecast call: imports (pandas, statsforecast) + first fits
    first_call_ms = (time.perf_counter() - started) * 1000
    rng = np.random.default_rng(seed)
    per_window, per_minute_close, per_minute_close_cpu = [], [], []
    per_minute = int(60 / window_s)
    for r in range(rooms):
        room = RoomForecastSet(f"room-{r}")
        viewers = float(np.exp(rng.uniform(_math.log(300), _math.log(20_000))))
        rate = viewers * 1e-3
        for w in range(int(minutes * 60 / window_s)):
            viewers *= _math.exp(rng.normal(0, 0.01))
            orders = int(rng.poisson(rate * window_s / 60))
            window = {"window_start_ms": w * window_s * 1000, "orders_per_min": orders * 60 / window_s, "gmv": orders * 129.0, "viewers": int(viewers)}
            t0, c0 = time.perf_counter(), time.thread_time()
            room.observe_window(window)
            room.forecast((5, 15, 45))
            cost = (time.perf_counter() - t0) * 1000
            per_window.append(cost)
            if w % per_minute == 0 and w > 0:
                per_minute_close.append(cost)
                per_minute_close_cpu.append((time.thread_time() - c0) * 1000)
    return {
        "rooms": rooms, "minutes": minutes, "window_s": window_s, "metrics_per_room": 3,
        "first_call_ms": round(first_call_ms, 1),
        "per_window_ms": {"mean": _round(np.mean(per_window)), "p50": _round(np.percentile(per_window, 50)), "p95": _round(np.percentile(per_window, 95)), "max": _round(np.max(per_window))},
        "per_minute_close_ms": _summary(per_minute_close),
        # CPU time of this thread: what the work costs without the other tenants of a shared machine
        "per_minute_close_cpu_ms": _summary(per_minute_close_cpu),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def measure_processor_cost(rooms: int = 10, minutes: int = 120, window_s: int = 5, seed: int = 0) -> dict[str, Any]:
    """Thread CPU time of one room's update in the forecast processor's path
    (``ForecastProcessor.handle`` on a ``room_metrics`` window: the forecasts, the early warnings
    and the output events), read from each forecast event's ``update_cpu_ms``, on generated rooms
    with the metrics processor's default 5-s windows. Budget: 20 ms per room per window."""
    import math as _math

    from processors.forecast import ForecastProcessor
    from processors.testing import ProcessorRun
    from streams.schemas import RoomMetrics
    from streams.settings import Settings

    processor = ForecastProcessor(Settings(_env_file=None))
    started = time.perf_counter()
    processor.load_models()
    load_ms = (time.perf_counter() - started) * 1000
    run = ProcessorRun(processor)
    rng = np.random.default_rng(seed)
    per_window, per_minute_close, handle_wall = [], [], []
    per_minute = int(60 / window_s)
    for r in range(rooms):
        viewers = float(np.exp(rng.uniform(_math.log(300), _math.log(20_000))))
        rate = viewers * 1e-3
        for w in range(int(minutes * 60 / window_s)):
            viewers *= _math.exp(rng.normal(0, 0.01))
            orders = int(rng.poisson(rate * window_s / 60))
            event = RoomMetrics(room_id=f"room-{r}", event_id=f"room-{r}:metrics:{w}", stream_ms=(w + 1) * window_s * 1000,
                                ingested_at=time.time(), window_start_ms=w * window_s * 1000, window_ms=window_s * 1000,
                                orders=orders, orders_per_min=orders * 60 / window_s, gmv=orders * 129.0, viewers=int(viewers))
            t0 = time.perf_counter()
            outputs = run.feed([event])
            handle_wall.append((time.perf_counter() - t0) * 1000)
            cost = next(o.event.update_cpu_ms for o in outputs if o.topic == "forecasts")
            per_window.append(cost)
            if w % per_minute == 0 and w > 0:
                per_minute_close.append(cost)
    return {
        "rooms": rooms, "minutes": minutes, "window_s": window_s, "load_models_ms": round(load_ms, 1),
        "update_cpu_ms": _summary(per_window), "update_cpu_ms_at_minute_close": _summary(per_minute_close),
        "over_20ms": int(np.sum(np.asarray(per_window) > 20)), "handle_wall_ms": _summary(handle_wall),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def _summary(values: list[float]) -> dict[str, float]:
    return {"mean": _round(np.mean(values)), "p50": _round(np.percentile(values, 50)), "p95": _round(np.percentile(values, 95)),
            "p99": _round(np.percentile(values, 99)), "max": _round(np.max(values))}


def write_generated(directory: Path, sessions: int, minutes: int, seed: int) -> None:
    """Generated live-room sessions as NAB-style CSVs: one folder per metric, one file per room."""
    from models.attribution.scenario import LiveScenarioConfig, generate_live_session

    for i in range(sessions):
        session = generate_live_session(seed + i, LiveScenarioConfig(minutes=minutes))
        for metric in ("orders_per_min", "gmv", "viewers"):
            path = directory / metric / f"{session.room_id}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["timestamp", "value"])
                for w in session.windows:
                    writer.writerow([datetime.fromtimestamp(w["window_start_ms"] / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S"), w[metric]])


def register(app: typer.Typer) -> None:
    @app.command("forecast")
    def forecast(
        data: Path = typer.Option(DEFAULT_DATA, "--data", help="folder of timestamp,value CSVs, searched recursively"),
        generated: int = typer.Option(0, "--generated", help="instead of --data: this many generated live-room sessions (models/attribution/scenario.py)"),
        minutes: int = typer.Option(180, help="minutes per generated session"),
        horizons: str = typer.Option("5,15,45", help="horizons in minutes, comma separated"),
        origins: int = typer.Option(8, help="forecast origins per series (evenly spread)"),
        max_history: int = typer.Option(500, help="points each model is fitted on (at most)"),
        min_train: int = typer.Option(60, help="points before the first origin (at least)"),
        season: int = typer.Option(0, help="season length in steps (0: inferred per series)"),
        models: str = typer.Option(",".join(BENCH_MODELS), help="models to evaluate"),
        seed: int = typer.Option(100, help="first seed of the generated sessions"),
        cost_rooms: int = typer.Option(10, "--cost-rooms", help="rooms for the per-room update+forecast cost (0: skip)"),
        json_out: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    ) -> None:
        """Rolling-origin MASE and 80 % interval coverage of the forecasters on CSV series."""
        from rich.console import Console
        from rich.progress import Progress
        from rich.table import Table

        try:
            horizon_list = [float(h) for h in horizons.split(",") if h.strip()]
        except ValueError:
            raise typer.BadParameter(f"--horizons: expected numbers like 5,15,45, got {horizons!r}") from None
        model_list = tuple(m.strip() for m in models.split(",") if m.strip())
        unknown = [m for m in model_list if m not in BENCH_MODELS]
        if unknown or not model_list or not horizon_list or min(horizon_list) <= 0 or origins < 1:
            raise typer.BadParameter(f"--models must be among {', '.join(BENCH_MODELS)}; horizons > 0; origins >= 1")
        parts = ["livelens bench forecast"]
        parts += [f"--generated {generated} --minutes {minutes} --seed {seed}"] if generated else [f"--data {shlex.quote(str(data))}"]
        for flag, value, default in (("--horizons", horizons, "5,15,45"), ("--origins", origins, 8), ("--max-history", max_history, 500),
                                     ("--min-train", min_train, 60), ("--season", season, 0), ("--models", models, ",".join(BENCH_MODELS)),
                                     ("--cost-rooms", cost_rooms, 10)):
            if value != default:
                parts.append(f"{flag} {value}")
        command = " ".join(parts + (["--json"] if json_out else []))
        console = Console(stderr=True)
        with tempfile.TemporaryDirectory() as tmp:
            if generated:
                data = Path(tmp)
                write_generated(data, generated, minutes, seed)
            if not data.is_dir():
                raise typer.BadParameter(f"--data {data}: not a folder")
            if cost_rooms > 0:  # first, so the first call includes the imports
                console.print(f"cost: {cost_rooms} rooms x 120 min of 10-s windows, 3 metrics each")
                room_cost = measure_room_cost(cost_rooms)
                console.print(f"cost in the forecast processor: {cost_rooms} rooms x 120 min of 5-s room_metrics windows")
                processor_cost = measure_processor_cost(cost_rooms)
            series, skipped = load_series(data)
            if not series:
                raise typer.BadParameter(f"--data {data}: no CSV with timestamp,value columns found")
            console.print(f"{len(series)} series, {origins} origins each, horizons {horizon_list} min, models {', '.join(model_list)}")
            started = time.perf_counter()
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task("series", total=len(series))

                def step(name: str) -> None:
                    bar.update(task, advance=1, description=name[-40:])

                result = evaluate(series, horizon_list, origins, max_history, min_train, model_list, season or None, step)
        if cost_rooms > 0:
            result["room_cost"] = room_cost
            result["processor_cost"] = processor_cost
        result["skipped"] = skipped + result["skipped"]
        result["data"] = f"generated: {generated} sessions x {minutes} min (seeds {seed}..{seed + generated - 1})" if generated else str(data)
        result["wall_s"] = round(time.perf_counter() - started, 1)
        result["command"] = command
        if json_out:
            typer.echo(json.dumps(result, indent=1, ensure_ascii=False))
            return
        out = table_console(140)
        table = Table(title=f"Rolling origin: {result['series']} series, {result['origins_total']} origins ({result['data']})")
        table.add_column("model")
        for column in ["MASE", "coverage 80 %", "fit+forecast p50 ms"] + [f"MASE {k}" for k in next(iter(result["models"].values()))["per_horizon"]]:
            table.add_column(column, justify="right")
        for name, row in result["models"].items():
            table.add_row(name, str(row["mase"]), str(row["coverage_80"]), str(row["fit_forecast_ms_p50"]),
                          *[str(h["mase_pooled"]) for h in row["per_horizon"].values()])
        out.print(table)
        if result["skipped"]:
            out.print(f"skipped: {'; '.join(result['skipped'])}")
        if "room_cost" in result:
            c = result["room_cost"]
            out.print(f"RoomForecastSet update+forecast (3 metrics), {c['rooms']} rooms x {c['minutes']} min of {c['window_s']}-s windows: "
                      f"first call {c['first_call_ms']} ms; per window p50 {c['per_window_ms']['p50']} / p95 {c['per_window_ms']['p95']} ms; "
                      f"at a minute close p50 {c['per_minute_close_ms']['p50']} / p99 {c['per_minute_close_ms']['p99']} / max {c['per_minute_close_ms']['max']} ms "
                      f"(CPU p50 {c['per_minute_close_cpu_ms']['p50']} / p99 {c['per_minute_close_cpu_ms']['p99']} / max {c['per_minute_close_cpu_ms']['max']} ms; load average {c['load_average_1m']})")
        if "processor_cost" in result:
            c = result["processor_cost"]
            out.print(f"ForecastProcessor update (forecasts + early warnings + events), {c['rooms']} rooms x {c['minutes']} min of "
                      f"{c['window_s']}-s windows, thread CPU: per window p50 {c['update_cpu_ms']['p50']} / p99 {c['update_cpu_ms']['p99']} ms; "
                      f"at a minute close p50 {c['update_cpu_ms_at_minute_close']['p50']} / p99 {c['update_cpu_ms_at_minute_close']['p99']} / "
                      f"max {c['update_cpu_ms_at_minute_close']['max']} ms; over the 20 ms budget: {c['over_20ms']} windows "
                      f"(load_models {c['load_models_ms']} ms; load average {c['load_average_1m']})")
        out.print(f"origins with a constant training window (left out of MASE): {result['origins_constant_training_window']}; wall {result['wall_s']} s")
        out.print(f"$ {command}")
