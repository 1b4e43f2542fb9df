"""Next-best-action recommendations for the host and operators (pure: plain values in and out).

    state = RoomState("room-1")
    state.observe_chat_insight(ts_ms, intent="asks_size_fit", sentiment="neutral", text="我160穿什么码")
    policy = RecommendationPolicy()                     # shipped rules.yaml
    room_policy = policy.with_overrides({"rules": {"size_fit": {"when": ["asks_size_fit_count >= 8"]}}})
    for rec in room_policy.evaluate(state, now_ms): ...
"""

from .base import NextBestActionPolicy, check_policy
from .policy import Recommendation, RecommendationPolicy
from .rules import DEFAULT_RULES_PATH, Condition, Rule, RuleSet, RulesError, load_rules, merge_documents, parse_rules
from .state import FEATURE_NAMES, INTENTS, TEXT_NAMES, RoomState

__all__ = [
    "DEFAULT_RULES_PATH", "FEATURE_NAMES", "INTENTS", "TEXT_NAMES", "Condition", "NextBestActionPolicy",
    "Recommendation", "RecommendationPolicy", "RoomState", "Rule", "RuleSet", "RulesError", "check_policy",
    "load_rules", "merge_documents", "parse_rules",
]
