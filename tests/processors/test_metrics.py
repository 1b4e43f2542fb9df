"""The metrics processor: tumbling windows over chat + commerce, through ``run_processor``."""

from __future__ import annotations

import pytest

from processors.metrics import MetricsProcessor
from processors.testing import ProcessorRun, run_processor
from streams.schemas import ChatMessage, CommerceEvent, StreamMarker
from streams.settings import Settings

ROOM = "m-room"


def _settings() -> Settings:
    return Settings(metrics_window_ms=5_000, _env_file=None)


def _session() -> list:
    """Two windows of chat and orders, watermarks on both topics, then the end."""
    events: list = []
    for i in range(6):
        events.append(ChatMessage(room_id=ROOM, event_id=f"c{i}", stream_ms=500 + 1_500 * i, user_id=f"u{i % 4}",
                                  text="多少钱"))
    events.append(CommerceEvent(room_id=ROOM, event_id="o1", stream_ms=1_000, type="order", count=2, amount=258.0))
    events.append(CommerceEvent(room_id=ROOM, event_id="o2", stream_ms=6_000, type="order", count=1, amount=129.0))
    for topic in ("chat", "commerce"):
        events.append((topic, StreamMarker(room_id=ROOM, stream_ms=10_000, marker="end")))
    return events


def test_windows_count_what_the_inputs_say():
    outputs = run_processor(MetricsProcessor(_settings()), _session())
    windows = [o.event for o in outputs]
    assert {o.topic for o in outputs} == {"room_metrics"}
    assert [w.window_start_ms for w in windows] == [0, 5_000]
    assert [w.messages for w in windows] == [3, 3]  # chat at 0.5, 2, 3.5 | 5, 6.5, 8 s
    assert [w.orders for w in windows] == [1, 1] and windows[-1].total_gmv == pytest.approx(387.0)
    assert windows[-1].final and windows[-1].total_messages == 6
    assert len({w.event_id for w in windows}) == 2  # deterministic ids: a re-emission deduplicates


def test_a_redelivered_input_is_not_counted_twice():
    run = ProcessorRun(MetricsProcessor(_settings()))
    chat = ChatMessage(room_id=ROOM, event_id="c0", stream_ms=500, user_id="u1", text="666")
    run.feed([("chat", chat, 0), ("chat", chat, 0)])  # at-least-once: the same record again
    outputs = run.feed([("chat", StreamMarker(room_id=ROOM, stream_ms=6_000, marker="end"), 1),
                        ("commerce", StreamMarker(room_id=ROOM, stream_ms=6_000, marker="end"), 0)])
    assert [o.event.messages for o in outputs][0] == 1


def test_the_table_state_is_enough_to_carry_on_after_a_crash():
    # restoring from the table value after every input gives exactly the uninterrupted outputs
    session = _session()
    plain = run_processor(MetricsProcessor(_settings()), session)
    restored = run_processor(MetricsProcessor(_settings()), session, restore_every=1)
    assert plain
    assert [o.event.model_dump(exclude={"emitted_at"}) for o in restored] == \
        [o.event.model_dump(exclude={"emitted_at"}) for o in plain]


def test_promotion_events_pass_on_at_once_as_the_rooms_promotion_state():
    run = ProcessorRun(MetricsProcessor(_settings()))
    room = "promo-unit"
    outputs = run.feed([
        ("commerce", CommerceEvent(room_id=room, stream_ms=1_200, type="promotion_start", promotion_id="flash-1",
                                   title="限时秒杀", product_id="sku-1", ends_ms=301_200)),
        ("commerce", CommerceEvent(room_id=room, stream_ms=2_000, type="order", amount=59.0)),
        ("commerce", CommerceEvent(room_id=room, stream_ms=3_000, type="promotion_start", promotion_id="late",
                                   ends_ms=1_000)),  # its end already passed: over now, never negative
        ("commerce", CommerceEvent(room_id=room, stream_ms=90_000, type="promotion_end", promotion_id="flash-1")),
        ("chat", StreamMarker(room_id=room, stream_ms=95_000, marker="watermark")),
        ("commerce", StreamMarker(room_id=room, stream_ms=95_000, marker="watermark")),
    ])
    promotions = [o.event for o in outputs if o.event.kind == "promotion"]
    assert [(p.promotion_id, p.state, p.start_ms, p.ends_ms) for p in promotions] == [
        ("flash-1", "running", 1_200, 301_200), ("late", "running", 3_000, 3_000), ("flash-1", "ended", 90_000, 90_000)]
    assert promotions[0].title == "限时秒杀" and promotions[0].product_id == "sku-1"
    assert len({p.event_id for p in promotions}) == 3
    # promotions are not orders: the window still counts the one order
    windows = [o.event for o in outputs if o.event.kind == "room_metrics"]
    assert windows and windows[0].orders == 1


def test_retention_around_a_selling_point_from_the_viewer_counts():
    run = ProcessorRun(MetricsProcessor(_settings()))
    room = "retention-unit"
    from streams.schemas import SellingPoint

    counts = {0: 1000, 10: 1100, 20: 1050, 30: 1200, 40: 1180, 60: 1300, 90: 1250, 100: 1240}
    events = [("commerce", CommerceEvent(room_id=room, stream_ms=s * 1000, type="viewers", count=c)) for s, c in counts.items() if s <= 30]
    events.append(("selling_points", SellingPoint(room_id=room, stream_ms=31_000, segment_id="sp-1", category="apparel",
                                                  label="fabric_material", start_ms=5_000, end_ms=30_000, text="讲解", confidence=0.9)))
    events += [("commerce", CommerceEvent(room_id=room, stream_ms=s * 1000, type="viewers", count=c)) for s, c in counts.items() if s > 30]
    outputs = run.feed(events)
    rows = [o.event for o in outputs if o.event.kind == "retention"]
    assert all(o.topic == "room_activity" for o in outputs if o.event.kind == "retention")
    assert [(r.final, r.viewers_start, r.viewers_end, r.viewers_after, r.joined, r.left) for r in rows] == [
        (False, 1000, 1200, None, 250, 50),       # 1000 -> 1100 -> 1050 -> 1200 while explained
        (True, 1000, 1200, 1250, 370, 120)]      # and the minute after: -> 1180 -> 1300 -> 1250
    assert rows[1].stream_ms == 90_000 and rows[0].event_id != rows[1].event_id
    # a restart: the state is in the table entry, the same rows come from a restored room
    restored = ProcessorRun(MetricsProcessor(_settings()), restore_every=1).feed(events)
    assert [r.event.model_dump(exclude={"emitted_at"}) for r in restored if r.event.kind == "retention"] == \
        [r.model_dump(exclude={"emitted_at"}) for r in rows]
