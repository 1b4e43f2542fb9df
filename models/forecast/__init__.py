"""Per-room forecasts (orders per minute, GMV, viewers) with prediction intervals, and early
warnings with lead time. Pure: plain values in, plain values out.

    room = RoomForecastSet("room-1")
    room.observe_window(metrics_window)          # a models/room_metrics.py window summary
    forecasts = room.forecast((5, 15, 45))       # {"viewers": [Forecast, ...], ...}
    for w in early_warnings("room-1", forecasts, load_warning_rules(), stock=80, segment_left_min=20): ...
"""

from .early_warning import (
    DEFAULT_WARNINGS_PATH, EarlyWarning, StockOutRule, ThresholdRule, WarningRules, WarningRulesError,
    early_warnings, load_warning_rules, parse_warning_rules, stock_out_minutes,
)
from .forecaster import DEFAULT_METRICS, MODEL_NAMES, Forecast, MetricConfig, RoomForecaster, RoomForecastSet, make_model

__all__ = [
    "DEFAULT_METRICS", "DEFAULT_WARNINGS_PATH", "MODEL_NAMES", "EarlyWarning", "Forecast", "MetricConfig", "RoomForecastSet",
    "RoomForecaster", "StockOutRule", "ThresholdRule", "WarningRules", "WarningRulesError", "early_warnings",
    "load_warning_rules", "make_model", "parse_warning_rules", "stock_out_minutes",
]
