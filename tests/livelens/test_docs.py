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


def test_the_architecture_doc_cites_only_files_that_ship():
    """Every path docs/ARCHITECTURE.md names exists (it goes stale when files move), and nothing
    cites a design file that does not ship with the project."""
    import re

    text = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:streams|models|processors|sinks|livelens|tests|scripts|docs)/[\w./-]+)`", text))
    assert len(paths) >= 15
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"docs/ARCHITECTURE.md names files that do not exist: {missing}"
    unshipped = "DESIGN" + ".md"  # spelled in two parts so this file does not cite it
    for folder in ("streams", "models", "processors", "sinks", "livelens", "scripts", "tests"):
        for path in [*(REPO / folder).rglob("*.py"), *(REPO / folder).rglob("*.sh")]:
            assert unshipped not in path.read_text(encoding="utf-8", errors="replace"), path
    for name in ("README.md", "BENCHMARKS.md", "pyproject.toml"):
        assert unshipped not in (REPO / name).read_text(encoding="utf-8"), name
