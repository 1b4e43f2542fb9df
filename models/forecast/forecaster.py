"""Per-room forecasts of one metric (orders per minute, GMV, viewers) with prediction intervals.

    forecaster = RoomForecaster(MetricConfig(name="viewers", aggregate="mean", kind="level"))
    forecaster.update(ts_ms, value)           # every metrics window (any window length)
    for f in forecaster.forecast((5, 15, 45)):  # minutes ahead
        f.mean, f.lo80, f.hi80, f.lo95, f.hi95, f.enough_data

Values are bucketed into steps of ``step_s`` (a minute by default): horizons are in minutes and a
live room's metrics windows are usually shorter. A step closes when a value for a later step
arrives; only closed steps are forecast from (a half-filled minute would read as a collapse).

The models are statsforecast's (maintained, C++ core, no numba compile): ``AutoETS`` by default,
re-selected and re-fitted every ``refit_every`` closed steps and applied to the newest data with
``forward`` in between (a refit costs ~5 ms on 120 points, a forward ~1 ms), on at most
``max_history`` steps. ``livelens bench forecast`` measures every choice offered here.

Bad input never raises: non-finite values are dropped; duplicate timestamps inside a step keep the
last value; values for an already closed step are dropped (late); gaps are filled with the last
value (a metrics feed that went quiet has no new information), and a gap longer than
``max_gap_steps`` restarts the history (the room was off). Too little history gives a naive
forecast with ``enough_data=False``; no history at all gives NaN means. Interval half-widths never
fall below a noise floor (Poisson for counts, a fraction of the level otherwise), so a constant
series does not get zero-width intervals.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

import numpy as np

#: statsforecast model factories by name (lazy import: statsforecast loads pandas)
MODEL_NAMES = ("auto_ets", "auto_theta", "naive", "drift", "seasonal_naive")
Z80, Z95 = 1.2815515655446004, 1.959963984540054


@dataclass(frozen=True)
class Forecast:
    """One metric, one horizon. ``lo``/``hi`` are the 80 % and 95 % prediction interval bounds."""

    horizon_min: float
    mean: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float
    model: str
    enough_data: bool
    history_steps: int = 0  # closed steps the forecast was made from

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else (round(v, 4) if isinstance(v, float) else v))
                for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class MetricConfig:
    name: str = "value"
    step_s: float = 60.0
    #: how values inside one step combine: orders_per_min / viewers -> mean, GMV per window -> sum
    aggregate: Literal["mean", "sum", "last"] = "mean"
    #: "count": Poisson noise floor sqrt(mean), constant over the horizon; "level": floor grows with sqrt(h)
    kind: Literal["count", "level"] = "level"
    nonnegative: bool = True
    model: str = "auto_ets"
    season_length: int = 1
    min_history: int = 10
    max_history: int = 120
    refit_every: int = 15
    max_gap_steps: int = 30
    min_scale: float = 0.0  # absolute noise floor per step
    min_scale_rel: float = 0.01  # noise floor as a fraction of the forecast level

    def __post_init__(self) -> None:
        if self.model not in MODEL_NAMES:
            raise ValueError(f"model: unknown {self.model!r}; known: {', '.join(MODEL_NAMES)}")
        if self.step_s <= 0 or self.min_history < 2 or self.max_history < self.min_history:
            raise ValueError("step_s must be > 0, min_history >= 2 and max_history >= min_history")


def make_model(name: str, season_length: int = 1) -> Any:
    """A statsforecast model by name (also used by the benchmark)."""
    from statsforecast.models import AutoETS, AutoTheta, Naive, RandomWalkWithDrift, SeasonalNaive

    if name == "auto_ets":
        return AutoETS(season_length=1)  # seasonal ETS needs >= 2 seasons and is slow for long seasons
    if name == "auto_theta":
        return AutoTheta(season_length=max(1, season_length))
    if name == "naive":
        return Naive()
    if name == "drift":
        return RandomWalkWithDrift()
    if name == "seasonal_naive":
        return SeasonalNaive(season_length=max(1, season_length))
    raise ValueError(f"unknown model {name!r}")


def noise_floor(config: MetricConfig, level: float, steps: int) -> float:
    """Smallest standard deviation a forecast ``steps`` ahead may claim."""
    level = abs(level) if math.isfinite(level) else 0.0
    floor = max(config.min_scale, config.min_scale_rel * level)
    if config.kind == "count":
        return max(floor, math.sqrt(max(level, 1.0)))
    return floor * math.sqrt(max(steps, 1))


@dataclass
class RoomForecaster:
    """One room, one metric. Plain values in, :class:`Forecast` out; state is small and bounded."""

    config: MetricConfig = field(default_factory=MetricConfig)
    history: deque = field(default_factory=deque, repr=False)  # closed steps' values (gap-filled)
    observed_steps: int = 0  # closed steps that had data (not gap-filled)
    last_step: int | None = None  # index of the newest closed step
    open_step: int | None = None
    open_values: dict = field(default_factory=dict, repr=False)  # ts -> value inside the open step
    dropped: dict = field(default_factory=lambda: {"non_finite": 0, "late": 0, "restarts": 0})
    _model: Any = field(default=None, repr=False)
    _fitted_at: int = -1  # len of the series when the model was last fitted
    _closed_total: int = 0
    _cache: tuple | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.history = deque(self.history, maxlen=self.config.max_history)

    # ------------------------------------------------------------------ input

    def update(self, ts_ms: int | float, value: float | None) -> None:
        """One observation at stream time ``ts_ms``. Never raises on bad values."""
        try:
            value = float(value)  # type: ignore[arg-type]
            ts = float(ts_ms)
        except (TypeError, ValueError):
            self.dropped["non_finite"] += 1
            return
        if not (math.isfinite(value) and math.isfinite(ts)):
            self.dropped["non_finite"] += 1
            return
        step = int(ts // (self.config.step_s * 1000))
        if self.open_step is None:
            if self.last_step is not None and step <= self.last_step:
                self.dropped["late"] += 1
                return
            self.open_step = step
        elif step < self.open_step:
            self.dropped["late"] += 1
            return
        elif step > self.open_step:
            self._close()
            self.open_step = step
        self.open_values[ts] = value  # a duplicate timestamp keeps the last value

    def close_open_step(self) -> None:
        """Close the open step now (end of stream, or a window known to be the step's last)."""
        if self.open_step is not None:
            self._close()

    def _close(self) -> None:
        values = list(self.open_values.values())
        aggregate = self.config.aggregate
        value = float(np.mean(values)) if aggregate == "mean" else float(np.sum(values)) if aggregate == "sum" else values[-1]
        step = self.open_step
        assert step is not None
        if self.last_step is not None:
            gap = step - self.last_step - 1
            if gap > self.config.max_gap_steps:
                self.history.clear()
                self.observed_steps = 0
                self._model = None
                self.dropped["restarts"] += 1
            elif gap > 0 and self.history:
                fill = self.history[-1]
                self.history.extend([fill] * gap)
                self._closed_total += gap
        self.history.append(value)
        self.observed_steps += 1
        self._closed_total += 1
        self.last_step = step
        self.open_step = None
        self.open_values = {}

    # ------------------------------------------------------------------ output

    def forecast(self, horizons_min: Iterable[float] = (5, 15, 45)) -> list[Forecast]:
        """Forecasts at each horizon (minutes after the newest closed step). Cached until a step closes."""
        horizons = tuple(float(h) for h in horizons_min)
        key = (self._closed_total, horizons)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        result = self._forecast(horizons)
        self._cache = (key, result)
        return result

    def _forecast(self, horizons: tuple[float, ...]) -> list[Forecast]:
        config = self.config
        steps = [max(1, math.ceil(h * 60.0 / config.step_s)) for h in horizons]
        y = np.asarray(self.history, dtype=np.float64)
        n = len(y)
        if n == 0:
            return [Forecast(h, math.nan, math.nan, math.nan, math.nan, math.nan, "none (no history)", False, 0) for h in horizons]
        top = max(steps)
        enough = self.observed_steps >= config.min_history
        if not enough:
            mean, sigma, model_name = self._naive_small(y, top)
        else:
            try:
                mean, sigma, model_name = self._statsforecast(y, top)
            except Exception as exc:  # a library failure must not take the room down: fall back, say so
                mean, sigma, model_name = self._naive_small(y, top)
                model_name = f"naive (fallback: {type(exc).__name__})"
        out = []
        for h, s in zip(horizons, steps):
            m = float(mean[s - 1])
            sd = max(float(sigma[s - 1]), noise_floor(config, m, s))
            bounds = [m - Z80 * sd, m + Z80 * sd, m - Z95 * sd, m + Z95 * sd]
            if config.nonnegative:
                m = max(m, 0.0)
                bounds = [max(b, 0.0) for b in bounds]
            out.append(Forecast(h, m, bounds[0], bounds[1], bounds[2], bounds[3], model_name, enough, n))
        return out

    def _naive_small(self, y: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray, str]:
        """Too little history: the mean of the newest points; the spread of what there is,
        inflated by Student's t for the few points (and at least 10 % of the level), growing like
        a random walk's: deliberately wide."""
        from scipy.stats import t as student_t

        level = float(np.mean(y[-5:]))
        spread = float(np.std(y, ddof=1)) * float(student_t.ppf(0.975, len(y) - 1)) / Z95 if len(y) >= 2 else 0.0
        scale = max(spread, 0.1 * abs(level), noise_floor(self.config, level, 1))
        h = np.arange(1, top + 1)
        return np.full(top, level), scale * np.sqrt(h + 1.0), "naive (too little history)"

    def _statsforecast(self, y: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray, str]:
        config = self.config
        if self._model is None or self._closed_total - self._fitted_at >= config.refit_every:
            self._model = make_model(config.model, config.season_length)
            if hasattr(self._model, "forward"):
                self._model.fit(y)
            self._fitted_at = self._closed_total
        if hasattr(self._model, "forward"):  # apply the fitted parameters to the newest data
            result = self._model.forward(y=y, h=top, level=[95])
        else:  # cheap models without forward: fit and forecast in one call
            result = self._model.forecast(y=y, h=top, level=[95])
        mean = np.asarray(result["mean"], dtype=np.float64)
        sigma = (np.asarray(result["hi-95"], dtype=np.float64) - mean) / Z95
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(sigma))):
            raise FloatingPointError("non-finite forecast")
        return mean, np.maximum(sigma, 0.0), _model_label(self._model, config.model)


def _model_label(model: Any, name: str) -> str:
    fitted = getattr(model, "model_", None)
    if isinstance(fitted, dict) and fitted.get("method"):
        return f"{name} {fitted['method']}"
    return name


#: the three metrics forecast per room, keyed by the room-metrics window field they read
#: (min_history differs by one step per metric so the three refits of a room land in different
#: minutes: one ~5 ms refit per minute close instead of three at once)
DEFAULT_METRICS: dict[str, MetricConfig] = {
    "orders_per_min": MetricConfig(name="orders_per_min", aggregate="mean", kind="count", min_history=10),
    "gmv": MetricConfig(name="gmv", aggregate="sum", kind="level", min_scale=1.0, min_scale_rel=0.05, min_history=11),
    "viewers": MetricConfig(name="viewers", aggregate="mean", kind="level", min_scale=1.0, min_history=12),
}


@dataclass
class RoomForecastSet:
    """The room's three forecasters, fed from room-metrics windows (models/room_metrics.py
    summaries: ``window_start_ms``, ``window_ms``, ``orders_per_min``, ``gmv``, ``viewers``)."""

    room_id: str
    metrics: dict[str, MetricConfig] = field(default_factory=lambda: dict(DEFAULT_METRICS))
    forecasters: dict[str, RoomForecaster] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, config in self.metrics.items():
            self.forecasters.setdefault(name, RoomForecaster(config))

    def observe_window(self, window: dict[str, Any]) -> None:
        """One closed metrics window. The value is stamped at the window's start, so every window
        of one minute lands in that minute's step."""
        ts = window.get("window_start_ms", 0)
        for name, forecaster in self.forecasters.items():
            value = window.get(name)
            if value is not None:
                forecaster.update(ts, value)

    def forecast(self, horizons_min: Iterable[float] = (5, 15, 45)) -> dict[str, list[Forecast]]:
        horizons = tuple(horizons_min)
        return {name: f.forecast(horizons) for name, f in self.forecasters.items()}
