"""Anomaly alerts in Chinese: the text a Chinese room's operators read beside the detector's own
English message. Templates are data (messages.yaml, one per alert type), filled from the alert's
evidence; a template that names a value the alert does not have shows "?" instead of failing.
"""

from __future__ import annotations

import math
import string
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from models.data_files import load_yaml_model

MESSAGES_PATH = Path(__file__).resolve().parent / "messages.yaml"
#: the names a template may use (see messages.yaml)
FIELDS = frozenset({"value", "baseline", "threshold", "seconds", "percent", "subject", "events"})


class MessagesError(ValueError):
    """A messages file that cannot be used (one line: file, field, problem)."""


class _AlertTexts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    open: str
    resolved: str

    @field_validator("open", "resolved")
    @classmethod
    def _known_fields(cls, template: str) -> str:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        unknown = names - FIELDS
        if unknown:
            raise ValueError(f"unknown placeholder {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(FIELDS))}")
        return template


class _MessagesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    messages: dict[str, _AlertTexts]


@lru_cache(maxsize=4)
def load_messages(path: Path | str = MESSAGES_PATH) -> dict[str, _AlertTexts]:
    return dict(load_yaml_model(path, _MessagesFile, MessagesError).messages)


def alert_name_zh(alert_type: str, path: Path | str = MESSAGES_PATH) -> str:
    texts = load_messages(path).get(alert_type)
    return texts.name if texts else alert_type


def alert_message_zh(alert_type: str, state: str, dedup_key: str, evidence: dict[str, Any],
                     path: Path | str = MESSAGES_PATH) -> str:
    """``名称：message`` for one alert change ("" for an alert type the file does not know)."""
    texts = load_messages(path).get(alert_type)
    if texts is None:
        return ""
    template = texts.resolved if state == "resolved" else texts.open
    # the stage / consumer group of a per-stage alert is what follows the type in its dedup key
    _, _, subject = dedup_key.partition(f":{alert_type}:")
    window_ms = evidence.get("window_ms")
    change = evidence.get("relative_change")
    values = {
        "value": _number(evidence.get("value")), "baseline": _number(evidence.get("baseline")),
        "threshold": _number(evidence.get("threshold")), "events": _number(evidence.get("events")),
        "seconds": _number(window_ms / 1000 if isinstance(window_ms, (int, float)) else None),
        "percent": _number(abs(change) * 100 if isinstance(change, (int, float)) else None),
        "subject": subject or "?",
    }
    return f"{texts.name}：{template.format(**values)}"


def _number(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return "?"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
