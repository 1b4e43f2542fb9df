"""Next-best-action policy: rules (data) over a room's live state → recommendations."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .rules import RuleSet, load_rules
from .state import RoomState


@dataclass(frozen=True)
class Recommendation:
    """One next-best action for the host or operators (maps 1:1 onto the schema's Recommendation)."""

    rec_type: str
    message_zh: str
    message_en: str
    reason: str
    evidence: dict[str, Any]
    priority: int  # 0..100
    expires_ms: int  # stream time after which it no longer applies
    dedup_key: str  # "<room>:<rec_type>[:<subject>]"
    rule: str = ""  # the rule that made it
    created_ms: int = 0


@dataclass
class RecommendationPolicy:
    """Evaluates rules against a :class:`RoomState`.

    The policy object holds no per-room memory: cooldown and dedup bookkeeping live in the room's
    state (``state.last_fired_ms`` / ``state.live_dedup``), so they survive with it (e.g. in a faust
    table) and one policy can serve many rooms. ``evaluate`` therefore updates those two fields.
    """

    rules: RuleSet = field(default_factory=load_rules)

    @classmethod
    def from_file(cls, path: str | Path | None = None, *overrides: Mapping[str, Any] | str | Path) -> "RecommendationPolicy":
        return cls(load_rules(path, *overrides))

    def with_overrides(self, *overrides: Mapping[str, Any] | str | Path) -> "RecommendationPolicy":
        """A policy for one brand or room: these rules with overrides merged on top (see rules.py)."""
        return RecommendationPolicy(self.rules.merged(*overrides))

    def evaluate(self, state: RoomState, now_ms: int) -> list[Recommendation]:
        """Recommendations that apply now, highest priority first, at most ``max_per_evaluate``.

        A rule stays silent for its cooldown after it fired, and a recommendation is not repeated
        while one with the same dedup key is still live (before its ``expires_ms``).
        """
        features = state.features(now_ms)  # also drops expired dedup keys
        out: list[Recommendation] = []
        context: dict[str, Any] | None = None
        for rule in self.rules.rules:
            last = state.last_fired_ms.get(rule.name)
            if last is not None and now_ms - last < rule.cooldown_ms:
                continue
            if not rule.matches(features):
                continue
            if context is None:
                context = state.context(now_ms, features)
                context["window_s"] = state.window_ms / 1000
            subject = str(context[rule.subject]) if rule.subject else ""
            dedup_key = f"{state.room_id}:{rule.rec_type}" + (f":{subject}" if subject else "")
            if dedup_key in state.live_dedup:
                continue
            expires_ms = now_ms + rule.ttl_ms
            out.append(
                Recommendation(
                    rec_type=rule.rec_type,
                    message_zh=rule.message_zh.format_map(context),
                    message_en=rule.message_en.format_map(context),
                    reason=rule.reason.format_map(context),
                    evidence={name: _plain(context[name]) for name in rule.evidence},
                    priority=rule.priority,
                    expires_ms=expires_ms,
                    dedup_key=dedup_key,
                    rule=rule.name,
                    created_ms=now_ms,
                )
            )
            state.last_fired_ms[rule.name] = now_ms
            state.live_dedup[dedup_key] = expires_ms
            if len(out) >= self.rules.max_per_evaluate:
                break
        return out


def _plain(value: Any) -> Any:
    """JSON-friendly evidence: NaN becomes None, floats are rounded."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value
