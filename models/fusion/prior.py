"""The documented PRIOR: what fusion outputs before it has learned from outcomes.

A room's learner answers with this hand-weighted score until it has made
``FusionConfig.min_updates`` updates (or was warm-started from a shared model that had). Each
present modality gives one piece of evidence in [0, 1]:

==========  ===========================================================  ============
modality    evidence                                                     prior weight
==========  ===========================================================  ============
transcript  max selling-point confidence in the window                   0.30
prosody     sigmoid(0.7 × energy z + 0.3 × speaking-rate z)               0.15
vision      0.6 × mean closeup cue + 0.4 × share of frames with a face   0.15
chat        sigmoid(rate z) × (0.5 + 0.5 × (positive − negative share))  0.20
            (+0.2 × purchase-intent share, capped at 1)
commerce    sigmoid(orders z + 0.5 × carts z)                            0.20
==========  ===========================================================  ============

``highlight = Σ w_m e_m`` over the present modalities with the weights renormalised to sum to 1
(missing modalities get weight 0; these renormalised weights are also the reported "attention").
``orders forecast = base_orders × (0.5 + highlight)``: the room's running mean per window, scaled
between 0.5× (nothing happening) and 1.5× (everything lines up); carts likewise. With no modality
present: highlight 0.5 and the base rates.
"""

from __future__ import annotations

from models.fusion.features import MODALITIES, WindowFeatures, sigmoid

PRIOR_WEIGHTS: dict[str, float] = {"transcript": 0.30, "prosody": 0.15, "vision": 0.15, "chat": 0.20, "commerce": 0.20}


def prior_evidence(window: WindowFeatures) -> dict[str, float]:
    """Per present modality, the evidence value in [0, 1] (see the table above)."""
    e = window.evidence
    out: dict[str, float] = {}
    present = set(window.present)
    if "transcript" in present:
        out["transcript"] = float(min(max(e.get("selling_point", 0.0), 0.0), 1.0))
    if "prosody" in present:
        out["prosody"] = sigmoid(0.7 * e.get("energy_z", 0.0) + 0.3 * e.get("rate_z", 0.0))
    if "vision" in present:
        out["vision"] = min(1.0, 0.6 * e.get("closeup", 0.0) + 0.4 * e.get("face_share", 0.0))
    if "chat" in present:
        chat = sigmoid(e.get("chat_rate_z", 0.0)) * (0.5 + 0.5 * e.get("chat_positive", 0.0))
        out["chat"] = min(1.0, max(0.0, chat + 0.2 * e.get("purchase_intent", 0.0)))
    if "commerce" in present:
        out["commerce"] = sigmoid(e.get("orders_z", 0.0) + 0.5 * e.get("carts_z", 0.0))
    return out


def prior_scores(window: WindowFeatures) -> tuple[float, float, float, dict[str, float]]:
    """(highlight, orders forecast, carts forecast, attention per modality) of the prior."""
    evidence = prior_evidence(window)
    total = sum(PRIOR_WEIGHTS[m] for m in evidence)
    attention = {m: (PRIOR_WEIGHTS[m] / total if m in evidence else 0.0) for m in MODALITIES}
    highlight = sum(attention[m] * evidence[m] for m in evidence) if evidence else 0.5
    scale = 0.5 + highlight
    return highlight, window.base_orders * scale, window.base_carts * scale, attention
