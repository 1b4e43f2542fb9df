"""Explain-next ranking: uplift, freshness and viewer demand; zh/en recommendations with evidence."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from models.attribution import UpliftAttribution
from models.recommend import Recommendation
from models.recommend.explain_next import (
    ExplainNextConfigError, explain_next_recommendations, load_explain_next_config, parse_explain_next_config, rank_explain_next,
)
from models.taxonomy import load_taxonomy

MINUTE = 60_000
NOW = 120 * MINUTE


def _attribution(uplifts: dict[str, float], last_explained_min: dict[str, float], kinds: dict[str, str] | None = None) -> UpliftAttribution:
    """A state with the given uplift per class (as a category prior) and explanation times."""
    kinds = kinds or {}
    prior = {label: {"kind": kinds.get(label, "selling_point"), "beta": {"orders": math.log1p(u)}} for label, u in uplifts.items()}
    model = UpliftAttribution.warm("room-1", prior)
    for label, minute in last_explained_min.items():
        model.observe_explanation(int(minute * MINUTE) - MINUTE, int(minute * MINUTE), label, kinds.get(label, "selling_point"))
    return model


def test_the_class_that_converts_best_and_was_not_just_explained_comes_first() -> None:
    model = _attribution({"fabric_material": 0.5, "drape": 0.2, "fit_cut": 0.6}, {"fit_cut": 118, "fabric_material": 60, "drape": 60})
    ranking = rank_explain_next(model, NOW)
    labels = [a.label for a in ranking.selling_points]
    assert "fit_cut" not in labels  # explained 2 minutes ago: inside min_gap_min
    assert labels[:2] == ["fabric_material", "drape"]
    top = ranking.selling_points[0]
    assert top.evidence["minutes_since_explained"] == pytest.approx(60)
    assert top.evidence["uplift_lo"] <= top.evidence["uplift"] <= top.evidence["uplift_hi"]


def test_recency_lowers_a_class_explained_a_few_minutes_ago() -> None:
    model = _attribution({"fabric_material": 0.5, "drape": 0.4}, {"fabric_material": 115, "drape": 30})
    assert [a.label for a in rank_explain_next(model, NOW).selling_points][:2] == ["drape", "fabric_material"]


def test_what_viewers_ask_lifts_the_class_that_answers_it_and_is_quoted() -> None:
    model = _attribution({"fabric_material": 0.3, "size_guidance": 0.05}, {"fabric_material": 60, "size_guidance": 60})
    quiet = rank_explain_next(model, NOW)
    asked = rank_explain_next(model, NOW, {"asks_size_fit": 20, "praise": 80}, {"asks_size_fit": "我160斤穿什么码"})
    assert quiet.selling_points[0].label == "fabric_material"
    assert asked.selling_points[0].label == "size_guidance"
    assert asked.selling_points[0].evidence["top_question"] == "我160斤穿什么码"
    assert asked.selling_points[0].evidence["viewer_questions"] == 20


def test_a_class_that_hurts_sales_is_not_recommended_unless_asked() -> None:
    model = _attribution({"drape": -0.6}, {"drape": 30})
    model.prior["drape"]["beta"]["orders"] = -3.0  # interval wholly below zero
    assert rank_explain_next(model, NOW).selling_points == []
    assert [a.label for a in rank_explain_next(model, NOW, {"asks_attribute": 50}).selling_points] == ["drape"]


def test_recommendations_in_chinese_and_english_with_evidence() -> None:
    taxonomy = load_taxonomy("apparel")
    model = _attribution({"fabric_material": 0.35, "coupon": 0.2}, {"fabric_material": 80}, {"coupon": "promotion"})
    ranking = rank_explain_next(model, NOW, {"asks_attribute": 10, "other": 40}, {"asks_attribute": "是纯棉的吗"}, taxonomy=taxonomy)
    recs = explain_next_recommendations("room-1", ranking, NOW, taxonomy=taxonomy)
    assert [r.rec_type for r in recs] == ["explain_next", "run_promotion"]
    first, promo = recs
    assert isinstance(first, Recommendation)
    assert "面料材质" in first.message_zh and "35%" in first.message_zh and "是纯棉的吗" in first.message_zh
    assert "Fabric / material" in first.message_en and "above normal" in first.message_en
    assert "优惠券" in promo.message_zh and "coupon" in promo.message_en and "还没讲过" in promo.message_zh
    assert first.dedup_key == "room-1:explain_next:fabric_material" and first.expires_ms > NOW
    assert first.evidence["minutes_since_explained"] == pytest.approx(40)
    # never-explained taxonomy classes are candidates too, at their prior (0 here)
    assert any(a.label == "before_after" and a.evidence["from_prior_only"] for a in ranking.selling_points)


def test_bad_config_fails_with_one_line_naming_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "explain_next.yaml"
    text = load_explain_next_config().model_dump()
    text["refresh_min"] = -1
    import yaml

    path.write_text(yaml.safe_dump(text, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ExplainNextConfigError) as error:
        load_explain_next_config(path)
    assert str(path) in str(error.value) and "refresh_min" in str(error.value) and "\n" not in str(error.value)
    text["refresh_min"] = 10
    text["message"]["promotion"]["zh"] = "{unknown}"
    with pytest.raises(ExplainNextConfigError, match="message.promotion.zh"):
        parse_explain_next_config(text)
