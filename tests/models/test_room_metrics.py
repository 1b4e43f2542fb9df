"""Tumbling room metrics: exact counts, watermarks across sources, redelivery, late events."""

from __future__ import annotations

import json

import pytest

from models.room_metrics import TumblingRoomMetrics

SOURCES = ("chat", "commerce")


def test_window_closes_only_when_every_source_passed_its_end():
    m = TumblingRoomMetrics(1000, SOURCES)
    assert m.observe_chat("chat", 1, 100, "u1") == []
    assert m.observe_chat("chat", 2, 1500, "u2") == []  # commerce has not passed 1000 yet
    closed = m.observe_watermark("commerce", 1200)
    assert [w["window_start_ms"] for w in closed] == [0]
    assert closed[0]["messages"] == 1


def test_events_arriving_out_of_order_across_sources_are_all_counted():
    m = TumblingRoomMetrics(1000, SOURCES)
    out = []
    for i in range(10):  # chat runs ahead ...
        out += m.observe_chat("chat", i, i * 300, f"u{i % 3}")
    for i in range(3):   # ... commerce catches up later
        out += m.observe_commerce("commerce", i, i * 900, "order", 1, 10.0)
    out += m.end_of_input("chat") + m.end_of_input("commerce")
    assert sum(w["messages"] for w in out) == 10
    assert sum(w["orders"] for w in out) == 3
    assert out[-1]["final"] and out[-1]["total_gmv"] == pytest.approx(30.0)
    assert all(w["late_events"] == 0 for w in out)


def test_redelivered_events_are_not_counted_twice_even_after_a_state_round_trip():
    m = TumblingRoomMetrics(1000, SOURCES)
    m.observe_chat("chat", 1, 100, "u1")
    restored = TumblingRoomMetrics(1000, SOURCES, state=json.loads(json.dumps(m.state)))
    assert restored.is_duplicate("chat", 1) and not restored.is_duplicate("chat", 2)
    assert not restored.is_duplicate("commerce", 1)  # positions are per source
    assert restored.observe_chat("chat", 1, 100, "u1") == []
    out = restored.end_of_input("chat") + restored.end_of_input("commerce")
    assert out[0]["messages"] == 1


def test_late_event_for_a_closed_window_is_counted_as_late_not_as_a_message():
    m = TumblingRoomMetrics(1000, SOURCES)
    m.observe_chat("chat", 1, 100, "u1")
    m.observe_watermark("chat", 2500)
    assert m.observe_watermark("commerce", 2500)  # window 0 and 1 closed
    m.observe_chat("chat", 2, 200, "u9")
    assert m.late_events == 1
    out = m.end_of_input("chat") + m.end_of_input("commerce")
    assert sum(w["messages"] for w in out) == 0


def test_gap_emits_empty_windows_up_to_the_cap_and_rates_use_window_length():
    m = TumblingRoomMetrics(1000, SOURCES, max_empty_windows=3)
    m.observe_chat("chat", 1, 0, "u")
    m.observe_chat("chat", 2, 500, "u")
    out = m.observe_chat("chat", 3, 10_500, "u") + m.observe_watermark("commerce", 20_000)
    out += m.observe_watermark("chat", 11_000)
    starts = [w["window_start_ms"] for w in out]
    assert starts[0] == 0 and out[0]["messages_per_s"] == pytest.approx(2.0)
    assert out[0]["unique_chatters"] == 1
    assert starts[1:4] == [7000, 8000, 9000]  # the 3 empty windows before the next one
    assert starts[4] == 10_000 and len(starts) == 5


def test_viewers_and_stock_carry_the_latest_value():
    m = TumblingRoomMetrics(1000, SOURCES)
    m.observe_commerce("commerce", 1, 100, "viewers", 120)
    m.observe_commerce("commerce", 2, 900, "viewers", 150)
    m.observe_commerce("commerce", 3, 950, "stock", 7)
    out = m.end_of_input("commerce") + m.end_of_input("chat")
    assert out[0]["viewers"] == 150 and out[0]["stock"] == 7


def test_window_length_must_be_positive():
    with pytest.raises(ValueError):
        TumblingRoomMetrics(0, SOURCES)
