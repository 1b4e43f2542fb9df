from __future__ import annotations

from pathlib import Path

from livelens.docs import render

REPO = Path(__file__).resolve().parents[2]


def test_events_reference_is_up_to_date_with_the_schema():
    current = (REPO / "docs" / "EVENTS.md").read_text(encoding="utf-8")
    assert current == render(), "docs/EVENTS.md is stale: run `livelens docs`"


def test_reference_lists_every_topic_and_kind():
    from streams.schemas import EVENT_TYPES
    from streams.topics import TOPICS

    text = render()
    assert all(f"`livelens.{t}`" in text for t in TOPICS)
    assert all(f"## `{k}`" in text for k in EVENT_TYPES)
