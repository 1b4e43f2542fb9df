"""The desk's clip ranking (models/clips/ranking.py): features from clip meta, a fitted model that
learns what editors approve, the clipper score until there are enough decisions, and the bench's
room-split evaluation on generated decisions."""

from __future__ import annotations

import random

import pytest

from livelens.bench.clip_ranking import evaluate, generate_decisions
from models.clips.ranking import ApprovalModel, ClipFeatures, auc, rank


def test_features_from_a_clip_meta_and_back():
    meta = {"label": "price_promotion", "score": 0.7, "start_ms": 10_000, "end_ms": 34_000, "hold": True,
            "compliance": [{"term": "全网最低价"}]}
    f = ClipFeatures.from_meta(meta, {"messages_per_s": 3.0, "orders_per_min": 1.5})
    assert (f.label, f.score, f.duration_s, f.compliance_flags, f.hold, f.messages_per_s) == \
        ("price_promotion", 0.7, 24.0, 1, True, 3.0)
    assert ClipFeatures.from_dict(f.to_dict()) == f
    assert ClipFeatures.from_meta({}).duration_s == 0.0 and ClipFeatures.from_meta({}).vector()["label=none"] == 1.0


def test_no_model_until_enough_decisions_of_both_kinds_then_the_score_ranks():
    f = [ClipFeatures("price_promotion", s, 20, 0, False) for s in (0.2, 0.9, 0.5)]
    assert ApprovalModel.fit(f, [True, True, True], min_decisions=2) is None  # one kind only
    assert ApprovalModel.fit(f[:2], [True, False], min_decisions=20) is None  # too few
    assert rank(f, None) == [0.2, 0.9, 0.5]


def test_the_model_learns_what_editors_approve_against_the_clipper_score():
    rng = random.Random(1)
    features, approved = [], []
    for _ in range(200):  # editors here refuse every compliance-flagged clip and love price clips
        label = rng.choice(["price_promotion", "after_sales"])
        flags = int(rng.random() < 0.3)
        features.append(ClipFeatures(label, rng.random(), rng.uniform(5, 50), flags, bool(flags)))
        approved.append(flags == 0 and (label == "price_promotion" or rng.random() < 0.2))
    model = ApprovalModel.fit(features, approved)
    good, flagged = ClipFeatures("price_promotion", 0.1, 20, 0, False), ClipFeatures("price_promotion", 0.99, 20, 2, True)
    p_good, p_flagged = model.predict([good, flagged])
    assert p_good > 0.7 > 0.2 > p_flagged, (p_good, p_flagged)  # a high clipper score does not save a flagged clip
    weights = model.weights()
    assert weights["compliance_flags"] < 0 and weights["label=price_promotion"] > weights["label=after_sales"]
    assert auc(model.predict(features), approved) > 0.9 > auc([f.score for f in features], approved)
    assert auc([0.1, 0.2], [True, True]) is None


def test_bench_evaluation_splits_by_room_and_beats_the_clip_score_on_unseen_rooms():
    rows = generate_decisions(rooms=8, clips_per_room=40, seed=2)
    assert {r["language"] for r in rows} == {"zh", "en"}
    result = evaluate(rows, folds=4)
    assert result["decisions"] == 320 and result["rooms"] == 8 and set(result["per_language"]) == {"zh", "en"}
    assert result["auc_model"] > result["auc_clip_score"] + 0.1
    assert result["auc_model"] <= result["auc_ceiling"] + 0.05
    assert 0.0 < result["approved_share"] < 1.0


@pytest.mark.parametrize("bad", [[], [ClipFeatures("x", 0.5, 10, 0, False)]])
def test_predicting_nothing_or_an_unseen_label(bad):
    rows = generate_decisions(rooms=2, clips_per_room=30, seed=5)
    model = ApprovalModel.fit([r["features"] for r in rows], [r["approved"] for r in rows])
    out = model.predict(bad)
    assert len(out) == len(bad) and all(0.0 <= p <= 1.0 for p in out)
