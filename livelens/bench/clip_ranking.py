"""How well the desk's ranking predicts editors' approvals (part of ``livelens bench clips``).

There is no public set of clip editors' decisions, so one is generated: rooms of both languages
(zh and en), each with clips whose features follow what the clipper emits (selling-point class
from the apparel taxonomy, clipper score, duration, compliance flags, chat and order rates while
the clip ran), and a simulated editor per brand whose approvals follow a stated hidden rule with
noise (price and product-fit clips liked, clips flagged by compliance refused, a duration sweet
spot, busy chat helps; the clipper score only weakly related). The split is by room: the model is
fitted on the decisions of some rooms and scored on rooms it has never seen, as a new room on the
desk would be. Baseline: ordering by the clipper score (what the desk does before any decision).

The figures say how well the model recovers a rule of this shape from this many decisions; they
are not a measurement of real editors.
"""

from __future__ import annotations

import math
import random
import statistics
import time

from models.clips.ranking import ApprovalModel, ClipFeatures, auc

LABELS = ["price_promotion", "fabric_material", "size_fit", "color_pattern", "style_design", "usage_scene",
          "after_sales", "stock_urgency"]
# the simulated editors' taste per selling-point class (log-odds)
LABEL_TASTE = {"price_promotion": 1.2, "fabric_material": 0.6, "size_fit": 0.4, "color_pattern": 0.0,
               "style_design": 0.2, "usage_scene": -0.3, "after_sales": -0.9, "stock_urgency": -0.2}


def generate_decisions(rooms: int = 24, clips_per_room: int = 40, seed: int = 7,
                       noise: float = 1.0) -> list[dict]:
    """``[{"room_id", "language", "features": ClipFeatures, "approved": bool}]``."""
    rng = random.Random(seed)
    rows = []
    for r in range(rooms):
        language = "zh" if r % 2 == 0 else "en"
        room_id = f"bench-{language}-{r:02d}"
        room_bias = rng.gauss(0.0, 0.5)  # some brands approve more than others
        room_chat = rng.lognormvariate(0.0, 0.6)
        for _ in range(clips_per_room):
            label = rng.choice(LABELS)
            duration = min(60.0, max(3.0, rng.gauss(25.0, 12.0)))
            compliance = 1 if rng.random() < 0.12 else 0
            hold = compliance > 0 and rng.random() < 0.7
            messages = room_chat * rng.lognormvariate(0.0, 0.5)
            orders = max(0.0, rng.gauss(2.0 * room_chat, 1.0))
            quality = rng.gauss(0.0, 1.0)  # what editors see in the video and the clipper barely does
            score = min(1.0, max(0.0, 0.55 + 0.08 * quality + rng.gauss(0.0, 0.15)))
            logit = (room_bias + LABEL_TASTE[label] + 0.9 * quality
                     - ((duration - 22.0) / 12.0) ** 2 - 2.5 * compliance - 1.0 * hold
                     + 0.7 * math.log1p(messages) + 0.15 * orders - 0.3 + rng.gauss(0.0, noise))
            p_true = 1.0 / (1.0 + math.exp(-logit))
            approved = rng.random() < p_true
            rows.append({"room_id": room_id, "language": language, "approved": approved, "p_true": p_true,
                         "features": ClipFeatures(label=label, score=round(score, 3), duration_s=round(duration, 1),
                                                  compliance_flags=compliance, hold=hold,
                                                  messages_per_s=round(messages, 2), orders_per_min=round(orders, 2))})
    return rows


def evaluate(rows: list[dict], folds: int = 4, min_decisions: int = 20) -> dict:
    """Room-grouped cross-validation: AUC of the model and of the clipper score on held-out rooms,
    per fold and overall, per language, and the fit time."""
    rooms = sorted({r["room_id"] for r in rows})
    fold_of = {room: i % folds for i, room in enumerate(rooms)}
    model_aucs, score_aucs, oracle_aucs, fit_ms = [], [], [], []
    by_language: dict[str, dict[str, list[float]]] = {}
    for k in range(folds):
        train = [r for r in rows if fold_of[r["room_id"]] != k]
        test = [r for r in rows if fold_of[r["room_id"]] == k]
        started = time.perf_counter()
        model = ApprovalModel.fit([r["features"] for r in train], [r["approved"] for r in train],
                                  min_decisions=min_decisions)
        fit_ms.append((time.perf_counter() - started) * 1000)
        assert model is not None
        predicted = model.predict([r["features"] for r in test])
        model_aucs.append(auc(predicted, [r["approved"] for r in test]))
        score_aucs.append(auc([r["features"].score for r in test], [r["approved"] for r in test]))
        oracle_aucs.append(auc([r["p_true"] for r in test], [r["approved"] for r in test]))
        for language in ("zh", "en"):
            idx = [i for i, r in enumerate(test) if r["language"] == language]
            if idx:
                slot = by_language.setdefault(language, {"model": [], "score": []})
                slot["model"].append(auc([predicted[i] for i in idx], [test[i]["approved"] for i in idx]))
                slot["score"].append(auc([test[i]["features"].score for i in idx], [test[i]["approved"] for i in idx]))
    full = ApprovalModel.fit([r["features"] for r in rows], [r["approved"] for r in rows], min_decisions=min_decisions)
    mean = lambda xs: round(statistics.fmean(x for x in xs if x is not None), 3)  # noqa: E731
    return {
        "decisions": len(rows), "rooms": len(rooms), "approved_share": round(sum(r["approved"] for r in rows) / len(rows), 3),
        "folds": folds, "split": "by room (held-out rooms never seen in training)",
        "auc_model": mean(model_aucs), "auc_clip_score": mean(score_aucs),
        # the simulated editor's own probabilities (noise included): the most any ranking can reach
        "auc_ceiling": mean(oracle_aucs),
        "auc_model_per_fold": [round(a, 3) for a in model_aucs], "auc_clip_score_per_fold": [round(a, 3) for a in score_aucs],
        "per_language": {lang: {"auc_model": mean(v["model"]), "auc_clip_score": mean(v["score"])}
                         for lang, v in by_language.items()},
        "fit_ms_p50": round(statistics.median(fit_ms), 1),
        "weights": {k: round(v, 3) for k, v in sorted(full.weights().items(), key=lambda kv: -abs(kv[1]))} if full else {},
    }


def learning_curve(rows: list[dict], sizes: tuple[int, ...] = (20, 50, 100, 200, 400), seed: int = 3) -> list[dict]:
    """AUC on held-out rooms after the first N decisions of the training rooms (how soon the desk learns)."""
    rooms = sorted({r["room_id"] for r in rows})
    test_rooms = set(rooms[::4])
    train = [r for r in rows if r["room_id"] not in test_rooms]
    test = [r for r in rows if r["room_id"] in test_rooms]
    random.Random(seed).shuffle(train)
    out = []
    for n in sizes:
        if n > len(train):
            break
        model = ApprovalModel.fit([r["features"] for r in train[:n]], [r["approved"] for r in train[:n]], min_decisions=2)
        value = auc(model.predict([r["features"] for r in test]), [r["approved"] for r in test]) if model else None
        out.append({"decisions": n, "auc_model": None if value is None else round(value, 3)})
    return out
