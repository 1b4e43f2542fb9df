"""CategoryPriorStore: finished rooms fold into their category's prior on disk (exactly the
exposure-weighted mean ``category_prior`` computes, in any order), a new room warm-starts from it,
and bad files fail in one line."""

from __future__ import annotations

import json

import pytest

from livelens.bench.attribution import replay
from models.attribution import CategoryPriorStore, PriorStoreError, UpliftAttribution, category_prior
from models.attribution.scenario import LiveScenarioConfig, category_uplift, generate_live_session

SCENARIO = LiveScenarioConfig(minutes=90)


@pytest.fixture(scope="module")
def rooms():
    return [replay(generate_live_session(seed, SCENARIO)) for seed in (31, 32, 33)]


def test_rooms_fold_into_the_category_prior_exactly_and_in_any_order(tmp_path, rooms):
    forward, backward = CategoryPriorStore(tmp_path / "a"), CategoryPriorStore(tmp_path / "b")
    for room in rooms:
        assert forward.add_room("apparel", room)
    for room in reversed(rooms):
        backward.add_room("apparel", room)
    expected = category_prior(rooms)
    stored = forward.prior("apparel")
    assert set(stored) == set(expected)
    for label, entry in expected.items():
        assert stored[label]["kind"] == entry["kind"]
        for outcome, beta in entry["beta"].items():
            assert stored[label]["beta"][outcome] == pytest.approx(beta, abs=2e-4)
    assert backward.prior("apparel") == stored
    assert forward.read("apparel")["rooms"] == 3
    # categories are apart; an unknown one is an empty prior, not an error
    assert forward.prior("food") == {}


def test_a_new_room_starts_warm_from_the_stored_prior(tmp_path, rooms):
    store = CategoryPriorStore(tmp_path)
    for room in rooms:
        store.add_room("apparel", room)
    new = UpliftAttribution.warm("new-room", store.prior("apparel"))
    truth = category_uplift(SCENARIO.world_seed)
    learned = [label for label in new.labels if label in truth]
    assert len(learned) >= 6
    for label in learned:
        uplift = new.uplift(label)
        assert uplift.from_prior_only and uplift.explanations == 0
    # before it has seen a window, the new room already ranks the classes the way the category does
    top = new.table("orders")[0].label
    assert truth[top] >= sorted(truth.values())[len(truth) // 2], (top, truth)


def test_a_room_without_evidence_writes_nothing(tmp_path):
    store = CategoryPriorStore(tmp_path)
    assert not store.add_room("apparel", UpliftAttribution("empty"))
    assert not store.path("apparel").exists()


def test_rooms_ending_at_once_in_several_processes_all_count(tmp_path, rooms):
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=3) as pool:
        assert all(pool.map(_add, [tmp_path] * 6, rooms * 2))
    store = CategoryPriorStore(tmp_path)
    assert store.read("apparel")["rooms"] == 6
    expected = category_prior(rooms)  # each room twice: the same weighted mean
    assert store.prior("apparel")["drape"]["beta"]["orders"] == pytest.approx(expected["drape"]["beta"]["orders"], abs=2e-4)


def _add(directory, room) -> bool:
    return CategoryPriorStore(directory).add_room("apparel", room)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"format": "other"}), json.dumps(
    {"format": "livelens.attribution-prior.v1", "classes": {"drape": {"sum": {"orders": 1.0}}}})])
def test_a_damaged_file_is_a_one_line_error_naming_it(tmp_path, content):
    store = CategoryPriorStore(tmp_path)
    store.path("apparel").write_text(content, encoding="utf-8")
    with pytest.raises(PriorStoreError) as error:
        store.prior("apparel")
    assert "apparel.json" in str(error.value) and "\n" not in str(error.value)


def test_category_names_cannot_leave_the_directory(tmp_path):
    store = CategoryPriorStore(tmp_path / "priors")
    assert store.path("../../etc/passwd").parent == tmp_path / "priors"
