"""UpliftAttribution: recovers known uplift, corrects for audience size, round-trips its state,
starts warm from a category prior, and survives bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from models.attribution import AttributionConfig, UpliftAttribution, category_prior
from models.attribution.scenario import LiveScenarioConfig, generate_live_session

MINUTE = 60_000


def _room(true_uplift: dict[str, float], minutes: int = 240, seed: int = 0, busy_label: str | None = None) -> UpliftAttribution:
    """A hand-built room: one explanation every 6 minutes, classes in turn. The audience doubles
    whenever ``busy_label`` is explained (a confounder: more viewers, same conversion)."""
    rng = np.random.default_rng(seed)
    labels = list(true_uplift)
    model = UpliftAttribution("room")
    decay = AttributionConfig().decay_min
    explained: list[tuple[int, int, str]] = []
    for minute in range(minutes):
        if minute % 6 == 0 and minute:
            label = labels[(minute // 6) % len(labels)]
            explained.append((minute * MINUTE, minute * MINUTE + MINUTE, label))
        mid = minute * MINUTE + MINUTE / 2
        effect, busy = 0.0, False
        for start, end, label in explained[-4:]:
            if start <= mid:
                exposure = 1.0 if mid <= end else math.exp(-(mid - end) / MINUTE / decay)
                effect += true_uplift[label] * exposure
                busy |= label == busy_label and exposure > 0.3
        viewers = 2000 if busy else 1000
        orders = rng.poisson(0.005 * viewers * math.exp(effect))
        for start, end, label in explained:
            if end == minute * MINUTE:  # the segment closed at this window's start
                model.observe_explanation(start, end, label)
        model.observe_window(minute * MINUTE, MINUTE, viewers, orders, 2 * orders, orders)
    return model


def test_recovers_the_order_of_known_uplifts() -> None:
    truth = {"fabric_material": 0.6, "fit_cut": 0.3, "color_pattern": 0.0, "size_guidance": -0.3}
    model = _room(truth)
    estimates = [model.uplift(label).uplift for label in truth]
    assert estimates == sorted(estimates, reverse=True)
    strongest = model.uplift("fabric_material")
    assert strongest.lo < math.expm1(0.6) < strongest.hi
    assert strongest.explanations > 5 and not strongest.from_prior_only


def test_audience_size_is_not_credited_to_the_selling_point() -> None:
    truth = {"fabric_material": 0.0, "fit_cut": 0.0}
    model = _room(truth, busy_label="fabric_material", seed=1)
    # twice the viewers while fabric is explained, same conversion: no real uplift
    assert abs(model.uplift("fabric_material").uplift) < 0.25
    assert model.uplift("fabric_material").lo < 0 < model.uplift("fabric_material").hi


def test_state_round_trips_through_json() -> None:
    model = _room({"a": 0.4, "b": 0.0}, minutes=120)
    copy = UpliftAttribution.from_dict(json.loads(json.dumps(model.to_dict())))
    for label in ("a", "b"):
        assert copy.uplift(label) == model.uplift(label)
    # and both keep learning identically
    for m in (model, copy):
        m.observe_explanation(120 * MINUTE, 121 * MINUTE, "a")
        m.observe_window(121 * MINUTE, MINUTE, 1000, 9, 18, 9)
    assert copy.uplift("a") == model.uplift("a")
    with pytest.raises(ValueError):
        UpliftAttribution.from_dict({"format": "something else"})


def test_a_new_room_starts_from_the_category_prior_and_moves_with_evidence() -> None:
    rooms = [_room({"a": 0.5, "b": -0.2}, minutes=180, seed=s) for s in range(3)]
    prior = category_prior(rooms)
    assert prior["a"]["beta"]["orders"] > prior["b"]["beta"]["orders"]
    fresh = UpliftAttribution.warm("new-room", prior)
    first = fresh.uplift("a")
    assert first.from_prior_only and first.uplift == pytest.approx(math.expm1(prior["a"]["beta"]["orders"]))
    cold = UpliftAttribution("new-room")
    assert cold.uplift("a").uplift == 0.0  # no prior: no claim


def test_bad_input_is_ignored_without_raising() -> None:
    model = UpliftAttribution("room")
    model.observe_window(0, MINUTE, None, 3)  # no viewers: rates per minute
    model.observe_window(MINUTE, MINUTE, float("nan"), 2)
    model.observe_window(2 * MINUTE, MINUTE, 1000, float("nan"))  # dropped
    model.observe_window(3 * MINUTE, MINUTE, 1000, -1)  # dropped
    model.observe_explanation(4 * MINUTE, 3 * MINUTE, "a")  # end before start: a point in time
    model.observe_explanation(5 * MINUTE, 6 * MINUTE, "")  # no label: ignored
    model.observe_window(4 * MINUTE, MINUTE, 1000, 4)
    assert model.labels == ["a"]
    assert math.isfinite(model.uplift("a").uplift)


def test_generated_session_has_known_truth_and_attribution_beats_chance() -> None:
    session = generate_live_session(7, LiveScenarioConfig(minutes=180))
    assert set(session.true_log_uplift) >= {e["label"] for e in session.explanations}
    from livelens.bench.attribution import replay
    from scipy.stats import spearmanr

    rhos = []
    for seed in range(3):
        s = generate_live_session(seed, LiveScenarioConfig(minutes=180))
        model = replay(s)
        labels = [label for label in model.labels if model.uplift(label).exposed_windows]
        rhos.append(spearmanr([model.uplift(label).uplift for label in labels], [s.true_log_uplift[label] for label in labels])[0])
    assert np.mean(rhos) > 0.2
