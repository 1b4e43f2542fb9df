"""Attention fusion: masking, determinism, online learning, checkpoints, warm start, prior.

The sessions are GENERATED (models/fusion/scenario.py, known dynamics), not recorded.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.fusion import (
    MODALITIES,
    FusionConfig,
    FusionDims,
    FusionModel,
    FusionNet,
    OnlineFusionLearner,
    WindowFeatures,
    WindowFeaturizer,
    load_sessions,
    prior_scores,
    save_session,
    session_examples,
    train_offline,
)
from models.fusion.net import collate
from models.fusion.scenario import ScenarioConfig, generate_session, generate_sessions

torch.set_num_threads(1)

SMALL = ScenarioConfig(windows=160, embedding_dim=64)
DIMS = FusionDims(text_embedding=64)


def config(**overrides) -> FusionConfig:
    return FusionConfig(dims=DIMS, **overrides)


@pytest.fixture(scope="module")
def session():
    return generate_session(7, SMALL)


@pytest.fixture(scope="module")
def examples(session):
    return session_examples(session, DIMS)


def full_window(examples) -> WindowFeatures:
    return next(e[0] for e in examples if len(e[0].present) == len(MODALITIES))


def test_featurizer_dims_and_missing_modalities(session):
    featurizer = WindowFeaturizer("room", DIMS)
    for raw in session.windows[:40]:
        window = featurizer.featurize(raw)
        for modality in MODALITIES:
            vector = window.vector(modality)
            if raw.get(modality):
                assert vector is not None and vector.shape == (DIMS.of(modality),) and np.all(np.isfinite(vector))
            else:
                assert vector is None, f"{modality} missing in the raw window must stay missing, not zero-filled"
        assert window.base_orders > 0 and window.base_carts > 0


def test_masked_modality_cannot_influence_the_output(examples):
    net = FusionNet(DIMS, seed=0).eval()
    window = full_window(examples)
    inputs, present, base_orders, base_carts = collate([window, window], DIMS)
    vision = MODALITIES.index("vision")
    present[:, vision] = False
    inputs["vision"][0] = 0.0  # placeholder
    inputs["vision"][1] = torch.randn(DIMS.of("vision")) * 100  # garbage behind the mask
    with torch.no_grad():
        out = net(inputs, present, base_orders, base_carts)
    for key in ("highlight", "orders", "carts"):
        assert torch.allclose(out[key][0], out[key][1]), key
    assert torch.all(out["attention"][:, vision] == 0)
    assert torch.allclose(out["attention"].sum(dim=1), torch.ones(2))
    # and unmasked, the same garbage does change the output (the mask is what protects it)
    present[:, vision] = True
    with torch.no_grad():
        unmasked = net(inputs, present, base_orders, base_carts)
    assert not torch.allclose(unmasked["highlight"][0], unmasked["highlight"][1])


def test_missing_modality_gets_zero_attention_in_learned_and_prior_outputs(examples):
    window = full_window(examples)
    window.chat = None
    learner = OnlineFusionLearner("room", config(min_updates=0))
    for output in (learner.predict(window), OnlineFusionLearner("room", config()).predict(window)):
        assert output.attention["chat"] == 0.0
        assert "chat" not in output.modalities
        assert math.isclose(sum(output.attention.values()), 1.0, rel_tol=1e-5)
        assert 0.0 <= output.highlight <= 1.0 and output.orders_forecast >= 0


def test_no_modality_present_still_answers():
    empty = WindowFeatures("room", 0, 4000, base_orders=2.0, base_carts=5.0)
    learned = OnlineFusionLearner("room", config(min_updates=0)).predict(empty)
    assert all(v == 0.0 for v in learned.attention.values())
    assert math.isfinite(learned.highlight) and learned.orders_forecast >= 0
    prior = OnlineFusionLearner("room", config()).predict(empty)
    assert prior.highlight == 0.5 and prior.orders_forecast == pytest.approx(2.0)


def test_fixed_seed_gives_identical_weights_and_outputs(examples):
    windows = [e[0] for e in examples[:20]]
    batch = collate(windows, DIMS)
    torch.manual_seed(123)  # the global RNG state must not matter
    first = FusionNet(DIMS, seed=5).eval()
    torch.manual_seed(456)
    second = FusionNet(DIMS, seed=5).eval()
    other = FusionNet(DIMS, seed=6).eval()
    with torch.no_grad():
        a, b, c = first(*batch), second(*batch), other(*batch)
    for key in ("highlight", "orders", "attention"):
        assert torch.equal(a[key], b[key])
    assert not torch.equal(a["attention"], c["attention"])
    with torch.no_grad():
        again = first(*batch)
    assert torch.equal(a["highlight"], again["highlight"])


def test_prior_answers_before_learning_then_the_model(examples):
    learner = OnlineFusionLearner("room", config(min_updates=10))
    window = examples[0][0]
    before = learner.predict(window)
    highlight, orders, _, attention = prior_scores(window)
    assert not before.learned
    assert before.highlight == highlight and before.orders_forecast == orders and before.attention == attention
    for window_t, orders_next, carts_next in examples[:10]:
        learner.observe(window_t, orders_next, carts_next)
    after = learner.predict(window)
    assert after.learned and learner.updates == 10


def test_prior_tracks_the_generated_drive(session, examples):
    """The documented prior is a weak but real signal: its highlight correlates with the true drive."""
    truths = {raw["start_ms"]: raw["truth"]["drive"] for raw in session.windows}
    highlights = [prior_scores(w)[0] for w, _, _ in examples]
    drives = [truths[w.start_ms] for w, _, _ in examples]
    assert np.corrcoef(highlights, drives)[0, 1] > 0.5


def test_online_learning_lowers_the_loss_on_a_generated_scenario():
    room = generate_session(11, ScenarioConfig(windows=400, embedding_dim=64))
    held_out = session_examples(generate_session(12, ScenarioConfig(windows=120, embedding_dim=64)), DIMS)
    learner = OnlineFusionLearner(room.room_id, config(min_updates=20, learning_rate=3e-3))
    before = learner.loss(held_out)
    previous = None
    for raw in room.windows:  # the live loop: featurize, predict, learn from the outcome one window later
        window = learner.featurize(raw)
        output = learner.predict(window)
        assert output.orders_forecast >= 0
        if previous is not None:
            learner.observe(previous, raw["outcome"]["orders"], raw["outcome"]["carts"])
        previous = window
    after = learner.loss(held_out)
    assert learner.updates == len(room.windows) - 1
    assert after < before - 0.5, (before, after)


def test_checkpoint_round_trip(tmp_path, examples):
    learner = OnlineFusionLearner("room/1", config(min_updates=5, checkpoint_every=20), checkpoint_dir=tmp_path)
    featurizer_windows = [learner.featurize(raw) for raw in generate_session(3, SMALL).windows[:30]]
    for (window, orders, carts) in examples[:25]:
        learner.observe(window, orders, carts)
    assert (tmp_path / "room_1.pt").exists(), "periodic checkpoint after checkpoint_every updates"
    path = learner.save()
    restored = OnlineFusionLearner.load(path)
    assert restored.updates == learner.updates and restored.room_id == "room/1"
    assert restored.featurizer.state() == learner.featurizer.state()
    for window in [e[0] for e in examples[25:35]] + featurizer_windows[:3]:
        a, b = learner.predict(window), restored.predict(window)
        assert a.highlight == b.highlight and a.orders_forecast == b.orders_forecast and a.attention == b.attention
    # the optimiser state came back too: one identical step on each gives identical weights
    window, orders, carts = examples[40]
    learner._step(*learner._tensors([(window, orders, carts)]))
    restored._step(*restored._tensors([(window, orders, carts)]))
    for p, q in zip(learner.net.parameters(), restored.net.parameters()):
        assert torch.equal(p, q)


def test_warm_start_from_a_shared_model(tmp_path):
    shared, history = train_offline(generate_sessions(3, 100, SMALL), config(min_updates=30), epochs=4)
    assert history[-1] < history[0]
    shared_path = shared.save(tmp_path / "shared.pt")
    new_room = generate_session(200, SMALL)
    room_examples = session_examples(new_room, DIMS)
    warm = OnlineFusionLearner.warm_start(shared_path, "new-room", checkpoint_dir=tmp_path / "rooms")
    cold = OnlineFusionLearner("new-room", config(min_updates=30))
    assert warm.learned and not cold.learned
    assert warm.featurizer.stats["orders"].count == 0, "baselines are the room's own, not the shared model's"
    assert warm.loss(room_examples) < cold.loss(room_examples)
    window = room_examples[0][0]
    assert warm.predict(window).orders_forecast == pytest.approx(shared.predict(window).orders_forecast)


def test_sessions_round_trip_through_jsonl(tmp_path, session):
    save_session(session, tmp_path / "a.jsonl")
    (loaded,) = load_sessions(tmp_path)
    assert loaded.room_id == session.room_id and len(loaded.windows) == len(session.windows)
    assert len(session_examples(loaded, DIMS)) == len(session_examples(session, DIMS))


def test_single_modality_and_mean_pooling_models(examples):
    for cfg in (config(modalities=("chat",), min_updates=0), config(pooling="mean", min_updates=0)):
        learner = OnlineFusionLearner("room", cfg)
        for window, _, _ in examples[:30]:
            output = learner.predict(window)
            assert 0.0 <= output.highlight <= 1.0 and output.orders_forecast >= 0
            assert set(output.modalities) <= set(cfg.modalities)
            if cfg.pooling == "mean" and output.modalities:
                weights = [output.attention[m] for m in output.modalities]
                assert np.allclose(weights, 1 / len(weights))


def check_fusion_model(model: FusionModel, session) -> None:
    """The contract every FusionModel meets."""
    previous = None
    for raw in session.windows[:12]:
        window = model.featurize(raw)
        output = model.predict(window)
        assert 0.0 <= output.highlight <= 1.0
        assert output.orders_forecast >= 0 and output.carts_forecast >= 0
        assert set(output.attention) == set(MODALITIES)
        assert all(output.attention[m] == 0.0 for m in MODALITIES if m not in output.modalities)
        assert output.cost_ms >= 0
        if previous is not None:
            model.observe(previous, raw["outcome"]["orders"], raw["outcome"]["carts"])
        previous = window


@pytest.mark.parametrize("cfg", [config(), config(pooling="attention", min_updates=0), config(pooling="mean", min_updates=0)], ids=["prior", "attention", "mean"])
def test_contract(cfg, session):
    check_fusion_model(OnlineFusionLearner("room", cfg), session)


# ---------------------------------------------------------------- previous window, influence, why

def test_each_modality_carries_the_previous_windows_values_and_a_present_flag(session):
    featurizer = WindowFeaturizer("room", DIMS)
    first, second = (featurizer.featurize(raw) for raw in ({**session.windows[0], "commerce": {"orders": 2, "carts": 5}},
                                                           {**session.windows[1], "commerce": {"orders": 0, "carts": 1}}))
    size = DIMS.current("commerce")
    assert first.commerce.shape == second.commerce.shape == (DIMS.of("commerce"),)
    assert first.commerce[-1] == 0.0 and np.all(first.commerce[size:-1] == 0.0)  # no previous window yet
    assert second.commerce[-1] == 1.0 and np.array_equal(second.commerce[size:-1], first.commerce[:size])
    # the transcript's previous part is its compact tail, not the 64-d embedding again
    assert DIMS.previous("transcript") == DIMS.current("transcript") - DIMS.text_embedding + 1
    # a missing previous window: flag 0, zeros
    third = featurizer.featurize({"start_ms": 8_000, "end_ms": 12_000, "chat": {"messages": 3}})
    assert third.chat is not None and third.chat[-1] == (1.0 if session.windows[1].get("chat") else 0.0)
    assert FusionDims(text_embedding=64, history=False).of("commerce") == size


def test_the_featurizer_state_keeps_the_previous_window(session):
    a = WindowFeaturizer("room", DIMS)
    for raw in session.windows[:5]:
        a.featurize(raw)
    b = WindowFeaturizer("room", DIMS)
    b.load_state(a.state())
    for modality in MODALITIES:
        wa, wb = a.featurize(session.windows[5]).vector(modality), b.featurize(session.windows[5]).vector(modality)
        assert (wa is None and wb is None) or np.array_equal(wa, wb)


@pytest.mark.parametrize("pooling", ["attention", "mean"])
def test_influence_is_the_forecast_change_when_a_modality_is_hidden(examples, pooling):
    from dataclasses import replace

    learner = OnlineFusionLearner("room", config(min_updates=0, pooling=pooling))
    learner.fit(examples[:80], epochs=2)
    window = full_window(examples)
    output = learner.predict(window, influence=True)
    assert set(output.influence) == set(window.present) == set(MODALITIES)
    for modality in MODALITIES:
        hidden = learner.predict(replace(window, **{modality: None}))
        assert output.influence[modality] == pytest.approx(math.log(output.orders_forecast / hidden.orders_forecast), abs=1e-3)
    assert any(abs(v) > 1e-4 for v in output.influence.values())
    # a missing modality has no influence entry; without the flag nothing is computed
    partial = replace(window, vision=None)
    assert "vision" not in learner.predict(partial, influence=True).influence
    assert learner.predict(window).influence == {}
    # the prior answers too (before learning)
    prior = OnlineFusionLearner("room", config()).predict(window, influence=True)
    assert not prior.learned and set(prior.influence) == set(MODALITIES)


def test_why_text_names_what_moves_the_forecast_in_zh_and_en():
    from models.fusion.why import why_text

    influence = {"transcript": 0.17, "chat": 0.07, "vision": -0.005, "commerce": -0.3}
    assert why_text(influence, "zh") == "成交 -26%，讲解 +19%"
    assert why_text(influence, "en") == "sales -26%, pitch +19%"
    assert why_text(influence, "zh", top=3) == "成交 -26%，讲解 +19%，弹幕 +7%"
    assert why_text({"vision": 0.001}, "en") == "" and why_text({}, "zh") == ""
