"""Recommendation policy: every shipped rule on constructed states, cooldown, dedup, expiry,
per-room overrides and clear errors for malformed rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.recommend import (
    FEATURE_NAMES,
    NextBestActionPolicy,
    RecommendationPolicy,
    RoomState,
    RulesError,
    check_policy,
    load_rules,
    merge_documents,
)

ROOM = "room-7"
NOW = 600_000  # 10 minutes into the stream


@pytest.fixture(scope="module")
def policy() -> RecommendationPolicy:
    return RecommendationPolicy()


def neutral_state(now_ms: int = NOW) -> RoomState:
    """A healthy room: steady viewers and chat, mixed harmless chat, normal negativity."""
    state = RoomState(ROOM)
    intents = ["praise", "other", "purchase_signal", "other", "asks_attribute", "praise", "other", "other"]
    for i in range(40):
        ts = now_ms - 40_000 + i * 1000
        sentiment = "negative" if i % 10 == 0 else "positive" if i % 2 else "neutral"
        state.observe_chat_insight(ts, intents[i % len(intents)], sentiment, text=f"消息{i}")
    for k in range(10):
        state.observe_metrics(now_ms - 50_000 + k * 5000, messages_per_s=1.0, viewers=200, orders=0, orders_per_min=1.0)
    state.observe_stock("连衣裙", 500)
    state.observe_fused(now_ms - 2000, 0.3)
    return state


def add_chat(state: RoomState, intent: str, n: int, *, sentiment: str = "neutral", text: str = "", product: str | None = None, end_ms: int = NOW) -> None:
    for i in range(n):
        state.observe_chat_insight(end_ms - n * 100 + i * 100, intent, sentiment, text=text or f"{intent}-{i}", product=product)


def fired(recs, rec_type: str):
    return [r for r in recs if r.rec_type == rec_type]


# ------------------------------------------------------------------ neutral


def test_neutral_room_gets_no_recommendation(policy):
    assert policy.evaluate(neutral_state(), NOW) == []


def test_every_feature_is_computed(policy):
    features = neutral_state().features(NOW)
    assert set(features) == set(FEATURE_NAMES)


# ------------------------------------------------------------------ each rule fires on its state


def test_size_questions_explain_fit(policy):
    state = neutral_state()
    add_chat(state, "asks_size_fit", 12)
    recs = policy.evaluate(state, NOW)
    (rec,) = fired(recs, "explain_size_fit")
    assert rec.evidence["asks_size_fit_count"] == 12
    assert "尺码" in rec.message_zh and "size chart" in rec.message_en
    assert "12" in rec.reason


def test_few_size_questions_in_a_hot_room_do_not_fire(policy):
    state = neutral_state()
    add_chat(state, "other", 400)
    add_chat(state, "asks_size_fit", 6)  # count passes, share (6/446) does not
    assert fired(policy.evaluate(state, NOW), "explain_size_fit") == []


def test_price_questions_announce_price(policy):
    state = neutral_state()
    add_chat(state, "asks_price", 10)
    (rec,) = fired(policy.evaluate(state, NOW), "announce_price")
    assert rec.evidence["asks_price_count"] == 10
    assert "价" in rec.message_zh and "price" in rec.message_en


def test_negative_surge_answers_the_complaint(policy):
    state = neutral_state()
    add_chat(state, "complaint", 25, sentiment="negative", text="质量太差了退货！")
    (rec,) = fired(policy.evaluate(state, NOW), "answer_complaint")
    assert rec.evidence["negative_share"] >= 0.35
    assert rec.evidence["negative_share"] - rec.evidence["negative_baseline"] >= 0.2
    assert rec.evidence["top_complaint"] == "质量太差了退货！"
    assert "质量太差了退货" in rec.message_zh
    assert rec.priority >= 80


def test_a_room_that_is_always_negative_has_a_high_baseline_and_no_surge(policy):
    state = RoomState(ROOM)
    # 20 minutes of 50 % negative chat: that is this room's normal, not a surge
    for ts in range(0, 1_200_000, 2000):
        state.observe_chat_insight(ts, "other", "negative" if (ts // 2000) % 2 else "neutral")
    features = state.features(1_200_000)
    assert features["negative_baseline"] > 0.4
    assert fired(policy.evaluate(state, 1_200_000), "answer_complaint") == []


def test_falling_viewers_launch_coupon_and_a_collapse_switches_product(policy):
    state = neutral_state()
    state.observe_metrics(NOW, viewers=130)  # -35 % from the 200 peak
    recs = policy.evaluate(state, NOW)
    (rec,) = fired(recs, "launch_coupon")
    assert rec.evidence["viewers_peak"] == 200 and rec.evidence["viewers"] == 130
    assert fired(recs, "switch_product") == []

    state = neutral_state()
    state.observe_metrics(NOW, viewers=80)  # -60 %
    recs = policy.evaluate(state, NOW)
    assert fired(recs, "launch_coupon") and fired(recs, "switch_product")


def test_falling_chat_launches_lucky_bag(policy):
    state = neutral_state()
    state.observe_metrics(NOW, messages_per_s=0.2)
    (rec,) = fired(policy.evaluate(state, NOW), "launch_lucky_bag")
    assert rec.evidence["chat_rate_drop"] == pytest.approx(0.8)


def test_selling_point_before_the_last_orders_is_repeated(policy):
    state = neutral_state()
    state.observe_selling_point("fabric", NOW - 200_000, NOW - 180_000, text="100%桑蚕丝，亲肤透气")
    state.observe_selling_point("price", NOW - 170_000, NOW - 160_000, text="今天直播间专享价")
    state.observe_metrics(NOW - 175_000, orders=2)  # after "fabric", before "price"
    state.observe_metrics(NOW - 170_000, orders=3)
    state.observe_metrics(NOW - 100_000, orders=0)
    recs = policy.evaluate(state, NOW)
    (rec,) = fired(recs, "repeat_selling_point")
    assert rec.evidence["selling_point"] == "fabric"
    assert rec.evidence["selling_point_orders"] == 5
    assert "fabric" in rec.message_zh and rec.dedup_key.endswith(":fabric")


def test_orders_long_after_a_selling_point_are_not_credited_to_it(policy):
    state = neutral_state()
    state.observe_selling_point("fabric", NOW - 400_000, NOW - 390_000)
    state.observe_metrics(NOW - 100_000, orders=9)  # 290 s later > attribution window
    assert fired(policy.evaluate(state, NOW), "repeat_selling_point") == []


def test_low_stock_gives_urgency_copy(policy):
    state = neutral_state()
    state.observe_stock("真丝衬衫", 7)
    (rec,) = fired(policy.evaluate(state, NOW), "stock_urgency")
    assert rec.evidence == {"low_stock": 7, "low_stock_product": "真丝衬衫"}
    assert "真丝衬衫" in rec.message_zh and "7" in rec.message_zh


def test_sold_out_is_not_urgency(policy):
    state = neutral_state()
    state.observe_stock("真丝衬衫", 0)
    assert fired(policy.evaluate(state, NOW), "stock_urgency") == []


def test_most_asked_product_is_pinned(policy):
    state = neutral_state()
    add_chat(state, "asks_attribute", 3, product="阔腿裤")
    add_chat(state, "asks_attribute", 8, product="真丝衬衫")
    (rec,) = fired(policy.evaluate(state, NOW), "pin_product")
    assert rec.evidence == {"top_product_asks": 8, "top_product": "真丝衬衫"}
    assert rec.dedup_key == f"{ROOM}:pin_product:真丝衬衫"


def test_repeated_question_is_answered(policy):
    state = neutral_state()
    add_chat(state, "asks_attribute", 5, text="是纯棉的吗？")
    (rec,) = fired(policy.evaluate(state, NOW), "answer_question")
    assert rec.evidence["top_question"] == "是纯棉的吗？"


def test_high_highlight_reminds_editors(policy):
    state = neutral_state()
    state.observe_fused(NOW - 1000, 0.93)
    (rec,) = fired(policy.evaluate(state, NOW), "push_clip")
    assert rec.evidence["highlight_score"] == pytest.approx(0.93)
    # a stale highlight does not
    state = neutral_state()
    state.observe_fused(NOW - 120_000, 0.93)
    assert fired(policy.evaluate(state, NOW), "push_clip") == []


def test_chat_outside_the_window_is_forgotten():
    policy = RecommendationPolicy().with_overrides({"rules": {"size_fit": {"cooldown_s": 0, "ttl_s": 1}}})
    state = RoomState(ROOM)
    add_chat(state, "asks_size_fit", 12, end_ms=10_000)
    assert fired(policy.evaluate(state, 10_000), "explain_size_fit")
    add_chat(state, "other", 20, end_ms=75_000)
    assert state.features(75_000)["asks_size_fit_count"] == 0
    assert fired(policy.evaluate(state, 75_000), "explain_size_fit") == []


def test_chat_arriving_later_than_the_window_is_ignored(policy):
    state = neutral_state()
    add_chat(state, "asks_size_fit", 12, end_ms=NOW - 90_000)  # delivered late, already out of the window
    assert state.features(NOW)["asks_size_fit_count"] == 0
    assert fired(policy.evaluate(state, NOW), "explain_size_fit") == []


# ------------------------------------------------------------------ spam control


def test_cooldown_then_fires_again(policy):
    state = neutral_state()
    add_chat(state, "asks_price", 10)
    assert fired(policy.evaluate(state, NOW), "announce_price")
    cooldown_ms = next(r for r in policy.rules.rules if r.name == "price").cooldown_ms
    later = NOW + cooldown_ms - 1000
    add_chat(state, "asks_price", 10, end_ms=later)
    assert fired(policy.evaluate(state, later), "announce_price") == []
    after = NOW + cooldown_ms + 1000
    add_chat(state, "asks_price", 10, end_ms=after)
    assert fired(policy.evaluate(state, after), "announce_price")


def test_dedup_blocks_same_subject_while_live_but_not_a_new_subject():
    policy = RecommendationPolicy().with_overrides({"rules": {"pin_product": {"cooldown_s": 0, "ttl_s": 60}}})
    state = neutral_state()
    add_chat(state, "asks_attribute", 8, product="真丝衬衫")
    assert fired(policy.evaluate(state, NOW), "pin_product")
    # cooldown is 0 but the same product's recommendation is still live: no repeat
    assert fired(policy.evaluate(state, NOW + 5000), "pin_product") == []
    # a different product now leads: a new dedup key fires
    add_chat(state, "asks_attribute", 20, product="阔腿裤", end_ms=NOW + 10_000)
    (rec,) = fired(policy.evaluate(state, NOW + 10_000), "pin_product")
    assert rec.evidence["top_product"] == "阔腿裤"


def test_expiry_and_refire_after_expiry():
    policy = RecommendationPolicy().with_overrides({"rules": {"low_stock": {"cooldown_s": 0, "ttl_s": 30}}})
    state = neutral_state()
    state.observe_stock("真丝衬衫", 5)
    (rec,) = fired(policy.evaluate(state, NOW), "stock_urgency")
    assert rec.expires_ms == NOW + 30_000
    assert fired(policy.evaluate(state, NOW + 29_000), "stock_urgency") == []
    (again,) = fired(policy.evaluate(state, NOW + 30_000), "stock_urgency")
    assert again.expires_ms == NOW + 60_000


def test_at_most_max_per_evaluate_highest_priority_first(policy):
    state = neutral_state()
    add_chat(state, "complaint", 50, sentiment="negative", text="太差了")
    add_chat(state, "asks_size_fit", 20)
    add_chat(state, "asks_price", 20)
    state.observe_stock("真丝衬衫", 5)
    state.observe_fused(NOW, 0.95)
    recs = policy.evaluate(state, NOW)
    assert len(recs) == policy.rules.max_per_evaluate
    assert [r.rec_type for r in recs] == ["answer_complaint", "explain_size_fit", "announce_price"]
    # the ones left out were not put on cooldown: they come next
    assert {"stock_urgency", "push_clip"} & {r.rec_type for r in policy.evaluate(state, NOW + 1)}


def test_contract(policy):
    def busy() -> RoomState:
        state = neutral_state()
        add_chat(state, "asks_size_fit", 12)
        state.observe_stock("真丝衬衫", 5)
        return state

    assert isinstance(policy, NextBestActionPolicy)
    check_policy(policy, busy)


# ------------------------------------------------------------------ overrides


def test_room_override_changes_threshold_and_message(policy):
    state = neutral_state()
    add_chat(state, "asks_size_fit", 8)
    assert fired(policy.evaluate(state, NOW), "explain_size_fit")

    strict = policy.with_overrides(
        {"rules": {"size_fit": {"when": ["asks_size_fit_count >= 10"], "message": {"zh": "讲尺码！共{asks_size_fit_count:.0f}条"}}}}
    )
    state = neutral_state()
    add_chat(state, "asks_size_fit", 8)
    assert fired(strict.evaluate(state, NOW), "explain_size_fit") == []
    add_chat(state, "asks_size_fit", 6, end_ms=NOW + 1)
    (rec,) = fired(strict.evaluate(state, NOW + 1), "explain_size_fit")
    assert rec.message_zh == "讲尺码！共14条"
    # the en message was not overridden: it keeps the base text
    base_en = policy.rules.document["rules"]["size_fit"]["message"]["en"]
    assert rec.message_en.startswith(base_en.split("(")[0])


def test_brand_then_room_overrides_layer_in_order(tmp_path: Path):
    brand = tmp_path / "brand.yaml"
    brand.write_text("defaults: {cooldown_s: 10}\nrules:\n  push_clip: {enabled: false}\n  pin_product: null\n", encoding="utf-8")
    room = {"rules": {"push_clip": {"enabled": True, "priority": 99}}}
    rules = load_rules(None, brand, room)
    names = {r.name: r for r in rules.rules}
    assert "pin_product" not in names
    assert names["push_clip"].priority == 99
    assert rules.rules[0].name == "push_clip"
    assert names["shipping_returns"].cooldown_ms == 10_000  # default from the brand
    assert names["size_fit"].cooldown_ms == 10_000
    assert names["negative_surge"].cooldown_ms == 120_000  # rule's own value beats defaults


def test_merge_documents_rule():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = merge_documents(base, {"a": {"c": [3]}, "e": 2})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # untouched


def test_new_rule_from_override():
    policy = RecommendationPolicy().with_overrides(
        {"rules": {"praise_wave": {"rec_type": "thank_viewers", "when": ["praise_count >= 3"], "message": {"zh": "谢谢大家", "en": "Thank the viewers"}, "reason": "praise"}}}
    )
    state = RoomState(ROOM)
    add_chat(state, "praise", 3, sentiment="positive", end_ms=10_000)
    assert fired(policy.evaluate(state, 10_000), "thank_viewers")


# ------------------------------------------------------------------ malformed rules


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"rules": {"size_fit": {"when": ["asks_sise_fit_count >= 5"]}}}, r"rules\.size_fit\.when\[0\]: unknown feature 'asks_sise_fit_count' \(did you mean 'asks_size_fit_count'\?\)"),
        ({"rules": {"size_fit": {"when": ["asks_size_fit_count => 5"]}}}, r"rules\.size_fit\.when\[0\]: cannot parse"),
        ({"rules": {"size_fit": {"priority": 150}}}, r"rules\.size_fit\.priority: must be between 0 and 100"),
        ({"rules": {"size_fit": {"cooldown_s": "soon"}}}, r"rules\.size_fit\.cooldown_s: expected a number"),
        ({"rules": {"size_fit": {"message": {"zh": "尺码{sizes}"}}}}, r"rules\.size_fit\.message\.zh: unknown placeholder \{sizes\}"),
        ({"rules": {"size_fit": {"message": {"zh": "{top_product:.0f}"}}}}, r"rules\.size_fit\.message\.zh: template .* does not render"),
        ({"rules": {"size_fit": {"colldown_s": 5}}}, r"rules\.size_fit: unknown key 'colldown_s' \(did you mean 'cooldown_s'\?\)"),
        ({"rules": {"new_rule": {"when": ["praise_count > 1"]}}}, r"rules\.new_rule\.rec_type: required"),
        ({"rules": {"new_rule": {"rec_type": "x", "message": {"zh": "a", "en": "b"}}}}, r"rules\.new_rule: needs at least one condition"),
        ({"rules": {"new_rule": {"rec_type": "x", "when": ["praise_count > 1"], "message": {"zh": "a"}}}}, r"rules\.new_rule\.message: required, with both 'zh' and 'en'"),
        ({"rules": {"size_fit": {"subject": "product"}}}, r"rules\.size_fit\.subject: unknown name 'product'"),
        ({"max_per_evaluate": 0}, r"max_per_evaluate: expected an integer >= 1"),
        ({"version": 2}, r"version: unsupported"),
    ],
)
def test_malformed_rules_give_clear_errors(override, expected):
    with pytest.raises(RulesError, match=expected):
        load_rules(None, override)


def test_bad_yaml_and_missing_file(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"bad\.yaml: not valid YAML"):
        load_rules(bad)
    with pytest.raises(RulesError, match=r"nope\.yaml: cannot read rules file"):
        load_rules(tmp_path / "nope.yaml")
    top_list = tmp_path / "list.yaml"
    top_list.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(RulesError, match="expected a mapping at the top"):
        load_rules(top_list)


# Speed is measured by scripts/bench_policies.py (figures in BENCHMARKS.md), not asserted here.


def test_peaks_older_than_the_history_are_forgotten():
    state = RoomState(ROOM, history_ms=300_000)
    state.observe_metrics(10_000, viewers=1000)
    for k in range(1, 80):
        state.observe_metrics(10_000 + k * 5000, viewers=300)
    assert state.features(10_000 + 50 * 5000)["viewers_peak"] == 1000  # 250 s later: still in history
    features = state.features(10_000 + 79 * 5000)  # 395 s later: the 1000 peak has aged out
    assert features["viewers_peak"] == 300 and features["viewers_drop"] == 0


def test_top_question_by_intent_is_the_most_repeated_question_of_each_intent():
    state = RoomState("q-room")
    for i, (intent, text) in enumerate([("asks_size_fit", "我160穿什么码"), ("asks_size_fit", "我160 穿什么码？"),
                                        ("asks_size_fit", "有大码吗"), ("asks_price", "多少钱"), ("praise", "好看")]):
        state.observe_chat_insight(1_000 + i, intent, "neutral", text=text)
    top = state.top_question_by_intent()
    assert top == {"asks_size_fit": "我160穿什么码", "asks_price": "多少钱"}  # praise is no question
