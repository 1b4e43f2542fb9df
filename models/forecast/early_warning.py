"""Early warnings with lead time, from a room's forecasts and configured thresholds. Pure.

    rules = load_warning_rules()                         # shipped early_warning.yaml
    warnings = early_warnings("room-1", forecasts, rules, stock=120, segment_left_min=20)

``forecasts`` maps a metric name to its :class:`~models.forecast.forecaster.Forecast` list (as
``RoomForecastSet.forecast()`` returns). Forecasts without enough data never warn: a room that
just started has no basis for a warning 45 minutes ahead. The rules are YAML data checked with
pydantic at load; a bad file fails with one line naming the file and the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.data_files import read_yaml

from .forecaster import Forecast

DEFAULT_WARNINGS_PATH = Path(__file__).with_name("early_warning.yaml")


class WarningRulesError(ValueError):
    """The early-warning file is malformed; the message names the file and field."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str
    en: str


class ThresholdRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["threshold"]
    metric: str
    direction: Literal["below", "above"]
    threshold: float
    bound: Literal["lo95", "lo80", "mean", "hi80", "hi95"] = "hi80"
    severity: Literal["info", "warning", "critical"] = "warning"
    max_lead_min: float = Field(default=math.inf, gt=0)
    message: _Message


class StockOutRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["stock_out"]
    metric: str = "orders_per_min"
    rate_bound: Literal["lo80", "mean", "hi80"] = "mean"
    severity: Literal["info", "warning", "critical"] = "critical"
    message: _Message


@dataclass(frozen=True)
class WarningRules:
    warnings: dict[str, ThresholdRule | StockOutRule]


_RULE_TYPES: dict[str, type[BaseModel]] = {"threshold": ThresholdRule, "stock_out": StockOutRule}


@dataclass(frozen=True)
class EarlyWarning:
    warning_type: str  # the rule name
    metric: str
    lead_time_min: float  # minutes until the forecast crossing (or the stock-out)
    severity: str
    message_zh: str
    message_en: str
    dedup_key: str  # "<room>:forecast:<warning_type>": one open alert per room and rule
    evidence: dict[str, Any] = field(default_factory=dict)


def load_warning_rules(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> WarningRules:
    """Read and check the rules file (None: the shipped one); ``overrides`` replace whole rules."""
    path = Path(path) if path is not None else DEFAULT_WARNINGS_PATH
    document = read_yaml(path, WarningRulesError, default={})
    if overrides:
        document = {**document, "warnings": {**(document.get("warnings") or {}), **overrides}}
    return parse_warning_rules(document, str(path))


def parse_warning_rules(document: Any, where: str = "early-warning rules") -> WarningRules:
    if not isinstance(document, Mapping):
        raise WarningRulesError(f"{where}: expected a mapping at the top")
    unknown = set(document) - {"version", "warnings"}
    if unknown:
        raise WarningRulesError(f"{where}: {sorted(unknown)[0]}: unknown key (allowed: version, warnings)")
    if document.get("version", 1) != 1:
        raise WarningRulesError(f"{where}: version: unsupported {document.get('version')!r} (expected 1)")
    raw_rules = document.get("warnings")
    if not isinstance(raw_rules, Mapping):
        raise WarningRulesError(f"{where}: warnings: expected a mapping of warning name -> rule")
    rules: dict[str, ThresholdRule | StockOutRule] = {}
    for name, raw in raw_rules.items():
        kind = raw.get("type") if isinstance(raw, Mapping) else None
        if kind not in _RULE_TYPES:
            raise WarningRulesError(f"{where}: warnings.{name}.type: expected one of {', '.join(_RULE_TYPES)}, got {kind!r}")
        try:
            rule = _RULE_TYPES[kind].model_validate(raw)
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = ".".join(str(p) for p in error["loc"])
            raise WarningRulesError(f"{where}: warnings.{name}.{loc}: {error['msg']}") from None
        for lang in ("zh", "en"):
            try:
                getattr(rule.message, lang).format(**_SAMPLE)
            except (KeyError, ValueError, IndexError) as exc:
                raise WarningRulesError(f"{where}: warnings.{name}.message.{lang}: template does not render ({exc!r})") from None
        rules[str(name)] = rule  # type: ignore[assignment]
    return WarningRules(rules)


_SAMPLE = {"lead_min": 5.0, "threshold": 1.0, "value": 1.0, "metric": "x", "stock": 1.0, "segment_left_min": 1.0}


def early_warnings(
    room_id: str,
    forecasts: Mapping[str, list[Forecast]],
    rules: WarningRules | None = None,
    stock: float | None = None,
    segment_left_min: float | None = None,
) -> list[EarlyWarning]:
    """Warnings that the forecasts support now, most urgent (shortest lead time) first."""
    rules = rules or load_warning_rules()
    out: list[EarlyWarning] = []
    for name, rule in rules.warnings.items():
        usable = sorted((f for f in forecasts.get(rule.metric, []) if f.enough_data and math.isfinite(f.mean)), key=lambda f: f.horizon_min)
        if not usable:
            continue
        if isinstance(rule, ThresholdRule):
            warning = _threshold(room_id, name, rule, usable)
        else:
            warning = _stock_out(room_id, name, rule, usable, stock, segment_left_min)
        if warning is not None:
            out.append(warning)
    return sorted(out, key=lambda w: w.lead_time_min)


def _threshold(room_id: str, name: str, rule: ThresholdRule, forecasts: list[Forecast]) -> EarlyWarning | None:
    for f in forecasts:
        if f.horizon_min > rule.max_lead_min:
            break
        value = getattr(f, rule.bound)
        crossed = value < rule.threshold if rule.direction == "below" else value > rule.threshold
        if crossed:
            values = {"lead_min": f.horizon_min, "threshold": rule.threshold, "value": value, "metric": rule.metric, "stock": math.nan, "segment_left_min": math.nan}
            return EarlyWarning(
                name, rule.metric, f.horizon_min, rule.severity, rule.message.zh.format(**values), rule.message.en.format(**values),
                f"{room_id}:forecast:{name}",
                {"threshold": rule.threshold, "direction": rule.direction, "bound": rule.bound, "forecast": f.to_dict()},
            )
    return None


def stock_out_minutes(forecasts: list[Forecast], stock: float, bound: str = "mean", limit_min: float = 24 * 60) -> float:
    """Minutes until ``stock`` units are sold at the forecast order rate (per minute), the rate
    held piecewise constant: the 5-min forecast up to 5 min, the 15-min one up to 15, ..., the
    last one beyond. ``inf`` if the rate is zero or the stock lasts past ``limit_min``."""
    if stock <= 0:
        return 0.0
    sold, start = 0.0, 0.0
    for i, f in enumerate(forecasts):
        rate = max(getattr(f, bound), 0.0)
        end = f.horizon_min if i < len(forecasts) - 1 else limit_min
        span = end - start
        if rate > 0 and sold + rate * span >= stock:
            return start + (stock - sold) / rate
        sold += rate * span
        start = end
    return math.inf


def _stock_out(room_id: str, name: str, rule: StockOutRule, forecasts: list[Forecast], stock: float | None, segment_left_min: float | None) -> EarlyWarning | None:
    if stock is None or segment_left_min is None or not math.isfinite(stock) or segment_left_min <= 0:
        return None
    minutes = stock_out_minutes(forecasts, stock, rule.rate_bound)
    if not minutes < segment_left_min:
        return None
    values = {"lead_min": minutes, "threshold": stock, "value": minutes, "metric": rule.metric, "stock": stock, "segment_left_min": segment_left_min}
    return EarlyWarning(
        name, rule.metric, round(minutes, 2), rule.severity, rule.message.zh.format(**values), rule.message.en.format(**values),
        f"{room_id}:forecast:{name}",
        {"stock": stock, "segment_left_min": segment_left_min, "rate_bound": rule.rate_bound, "forecasts": [f.to_dict() for f in forecasts]},
    )
