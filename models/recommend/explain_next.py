"""Explain next: rank the next selling point to explain and the next promotion to run, from the
room's attribution (models/attribution), how long ago each class was explained and what viewers
are asking. Pure; the weights are data (``explain_next.yaml`` beside this module, pydantic-checked).

    config = load_explain_next_config()
    ranking = rank_explain_next(attribution, now_ms, intent_counts, top_questions, config, taxonomy)
    ranking.selling_points[0].score, ranking.selling_points[0].evidence
    recommendations = explain_next_recommendations("room-1", ranking, now_ms, config)

The recommendations are :class:`~models.recommend.policy.Recommendation` objects (zh and en
messages, evidence, priority, dedup key), so they rank beside the rule-based ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field

from models.data_files import read_yaml, validate

from .policy import Recommendation

DEFAULT_EXPLAIN_NEXT_PATH = Path(__file__).with_name("explain_next.yaml")


class ExplainNextConfigError(ValueError):
    """The explain-next file is malformed; the message names the file and field."""


class _Texts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str
    en: str


class _Messages(BaseModel):
    model_config = ConfigDict(extra="forbid")
    selling_point: _Texts
    promotion: _Texts


class _Priority(BaseModel):
    model_config = ConfigDict(extra="forbid")
    selling_point: int = Field(ge=0, le=100)
    promotion: int = Field(ge=0, le=100)


class ExplainNextConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    outcome: Literal["orders", "carts", "positive_chat"] = "orders"
    refresh_min: float = Field(default=10.0, gt=0)
    min_gap_min: float = Field(default=3.0, ge=0)
    demand_weight: float = Field(default=1.0, ge=0)
    ttl_s: float = Field(default=120.0, gt=0)
    priority: _Priority
    intent_classes: dict[str, list[str]] = Field(default_factory=dict)
    names: dict[str, _Texts] = Field(default_factory=dict)
    message: _Messages


def load_explain_next_config(path: str | Path | None = None) -> ExplainNextConfig:
    path = Path(path) if path is not None else DEFAULT_EXPLAIN_NEXT_PATH
    return parse_explain_next_config(read_yaml(path, ExplainNextConfigError), str(path))


def parse_explain_next_config(document: Any, where: str = "explain-next config") -> ExplainNextConfig:
    config = validate(ExplainNextConfig, document, where, ExplainNextConfigError)
    sample = {"name_zh": "x", "name_en": "x", "uplift": 0.1, "lo": 0.0, "hi": 0.2, "minutes_since": 1.0, "question": "x",
              "since_zh": "x", "since_en": "x", "ask_zh": "", "ask_en": "", "effect_zh": "x", "effect_en": "x"}
    for kind in ("selling_point", "promotion"):
        for lang in ("zh", "en"):
            try:
                getattr(getattr(config.message, kind), lang).format(**sample)
            except (KeyError, ValueError, IndexError) as exc:
                raise ExplainNextConfigError(f"{where}: message.{kind}.{lang}: template does not render ({exc!r})") from None
    return config


@dataclass(frozen=True)
class RankedAction:
    label: str
    kind: str  # "selling_point" | "promotion"
    score: float
    evidence: dict[str, Any]


@dataclass(frozen=True)
class ExplainNextRanking:
    selling_points: list[RankedAction]
    promotions: list[RankedAction]


def rank_explain_next(
    attribution: Any,
    now_ms: int,
    intent_counts: Mapping[str, int] | None = None,
    top_questions: Mapping[str, str] | None = None,
    config: ExplainNextConfig | None = None,
    taxonomy: Any | None = None,
) -> ExplainNextRanking:
    """Rank every class the attribution knows (plus the taxonomy's classes, at their prior).

    ``intent_counts``: chat intents in the current chat window (RoomState.intent_counts);
    ``top_questions``: intent -> the most asked question text for it (for the evidence)."""
    config = config or load_explain_next_config()
    intent_counts = dict(intent_counts or {})
    top_questions = dict(top_questions or {})
    total_chat = sum(intent_counts.values())
    labels = list(attribution.labels)
    if taxonomy is not None:
        labels += [name for name in taxonomy.class_names if name not in labels and name not in ("chit_chat", "call_to_action")]
    ranked: dict[str, list[RankedAction]] = {"selling_point": [], "promotion": []}
    for label in labels:
        estimate = attribution.uplift(label, config.outcome)
        last = estimate.last_explained_ms
        minutes_since = None if last is None else max(0.0, (now_ms - last) / 60_000)
        if minutes_since is not None and minutes_since < config.min_gap_min:
            continue
        freshness = 1.0 if minutes_since is None else 1.0 - math.exp(-minutes_since / config.refresh_min)
        asking = {intent: intent_counts.get(intent, 0) for intent, classes in config.intent_classes.items() if label in classes}
        asked = sum(asking.values())
        share = asked / total_chat if total_chat else 0.0
        if estimate.hi < 0 and asked == 0:
            continue  # it has hurt sales here and nobody asks for it
        score = freshness * (estimate.uplift + config.demand_weight * share)
        top_intent = max(asking, key=lambda i: asking[i]) if asked else None
        evidence = {
            "uplift": round(estimate.uplift, 4), "uplift_lo": round(estimate.lo, 4), "uplift_hi": round(estimate.hi, 4),
            "outcome": config.outcome, "from_prior_only": estimate.from_prior_only, "explanations": estimate.explanations,
            "minutes_since_explained": None if minutes_since is None else round(minutes_since, 1),
            "viewer_questions": asked, "viewer_question_share": round(share, 4),
            "top_question": top_questions.get(top_intent, "") if top_intent else "",
            "freshness": round(freshness, 3),
        }
        ranked.setdefault(estimate.kind, []).append(RankedAction(label, estimate.kind, round(score, 6), evidence))
    for actions in ranked.values():
        actions.sort(key=lambda a: (-a.score, a.label))
    return ExplainNextRanking(ranked.get("selling_point", []), ranked.get("promotion", []))


def explain_next_recommendations(
    room_id: str, ranking: ExplainNextRanking, now_ms: int, config: ExplainNextConfig | None = None, taxonomy: Any | None = None,
) -> list[Recommendation]:
    """The top selling point and the top promotion (when their score is positive) as recommendations."""
    config = config or load_explain_next_config()
    out = []
    for kind, actions, rec_type in (("selling_point", ranking.selling_points, "explain_next"), ("promotion", ranking.promotions, "run_promotion")):
        if not actions or actions[0].score <= 0:
            continue
        top = actions[0]
        name_zh, name_en = _names(top.label, config, taxonomy)
        e = top.evidence
        minutes = e["minutes_since_explained"]
        values = {
            "name_zh": name_zh, "name_en": name_en, "uplift": e["uplift"], "lo": e["uplift_lo"], "hi": e["uplift_hi"],
            "minutes_since": minutes if minutes is not None else math.nan, "question": e["top_question"],
            "since_zh": "本场还没讲过" if minutes is None else f"上次讲是{minutes:.0f}分钟前",
            "since_en": "not explained yet in this stream" if minutes is None else f"last explained {minutes:.0f} min ago",
            "ask_zh": f"；观众在问：{e['top_question']}" if e["top_question"] else "",
            "ask_en": f"; viewers ask: {e['top_question']}" if e["top_question"] else "",
            "effect_zh": _effect_zh(config.outcome, e["uplift"]), "effect_en": _effect_en(config.outcome, e["uplift"]),
        }
        texts = getattr(config.message, kind)
        reason = (f"{top.label}: uplift {e['uplift']:+.0%} [{e['uplift_lo']:+.0%}, {e['uplift_hi']:+.0%}] in {e['outcome']}, "
                  + ("never explained" if minutes is None else f"{minutes:.0f} min since explained")
                  + f", {e['viewer_questions']} viewer questions")
        out.append(Recommendation(
            rec_type=rec_type, message_zh=texts.zh.format(**values), message_en=texts.en.format(**values), reason=reason,
            evidence={"label": top.label, "score": top.score, **e}, priority=getattr(config.priority, kind),
            expires_ms=now_ms + int(config.ttl_s * 1000), dedup_key=f"{room_id}:{rec_type}:{top.label}", rule=f"explain_next.{kind}",
            created_ms=now_ms,
        ))
    return out


_OUTCOME_ZH = {"orders": "成交", "carts": "加购", "positive_chat": "好评弹幕"}
_OUTCOME_EN = {"orders": "orders", "carts": "carts", "positive_chat": "positive chat"}


def _effect_zh(outcome: str, uplift: float) -> str:
    what = _OUTCOME_ZH[outcome]
    if abs(uplift) < 0.005:
        return f"{what}和平时持平"
    return f"{what}比平时{'高' if uplift > 0 else '低'}{abs(uplift):.0%}"


def _effect_en(outcome: str, uplift: float) -> str:
    what = _OUTCOME_EN[outcome]
    if abs(uplift) < 0.005:
        return f"{what} ran at the usual rate"
    return f"{what} ran {abs(uplift):.0%} {'above' if uplift > 0 else 'below'} normal"


def _names(label: str, config: ExplainNextConfig, taxonomy: Any | None) -> tuple[str, str]:
    if label in config.names:
        return config.names[label].zh, config.names[label].en
    if taxonomy is not None and label in taxonomy.class_names:
        entry = taxonomy.get(label)
        return entry.name_zh, entry.name_en
    return label, label.replace("_", " ")
