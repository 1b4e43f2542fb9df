"""SellingPointRetention: viewers at a selling point's start / end / a minute later, joined and
left, whatever order the selling point and the viewer counts arrive in."""

from __future__ import annotations

from models.retention import SellingPointRetention

COUNTS = {0: 1000, 10: 1100, 20: 1050, 30: 1200, 40: 1180, 60: 1300, 90: 1250}
EXPECTED = [(False, 1000, 1200, None, 250, 50), (True, 1000, 1200, 1250, 370, 120)]


def _summary(rows):
    return [(r["final"], r["viewers_start"], r["viewers_end"], r["viewers_after"], r["joined"], r["left"]) for r in rows]


def test_selling_point_after_its_counts():
    tracker = SellingPointRetention()
    rows = []
    for s in (0, 10, 20, 30):
        rows += tracker.observe_viewers(s * 1000, COUNTS[s])
    rows += tracker.observe_selling_point("sp", "fabric_material", 5_000, 30_000)
    assert _summary(rows) == EXPECTED[:1]
    for s in (40, 60, 90):
        rows += tracker.observe_viewers(s * 1000, COUNTS[s])
    assert _summary(rows) == EXPECTED
    assert tracker.state["waiting"] == []


def test_selling_point_before_its_counts_waits_for_them():
    tracker = SellingPointRetention()
    rows = tracker.observe_selling_point("sp", "fabric_material", 5_000, 30_000)
    assert rows == []  # nothing known yet: no row with made-up counts
    for s, count in COUNTS.items():
        rows += tracker.observe_viewers(s * 1000, count)
    assert _summary(rows) == EXPECTED


def test_a_watermark_completes_the_final_row_without_new_counts():
    tracker = SellingPointRetention(after_ms=60_000)
    for s in (0, 10, 20, 30, 40):
        tracker.observe_viewers(s * 1000, COUNTS[s])
    assert _summary(tracker.observe_selling_point("sp", "x", 5_000, 30_000))[0][0] is False
    rows = tracker.advance(89_999)
    assert rows == []
    rows = tracker.advance(90_000)
    assert _summary(rows) == [(True, 1000, 1200, 1180, 250, 70)]


def test_state_round_trips_as_json():
    import json

    tracker = SellingPointRetention()
    tracker.observe_viewers(0, 10)
    tracker.observe_selling_point("sp", "x", 0, 1_000)
    again = SellingPointRetention(json.loads(json.dumps(tracker.state)))
    assert _summary(again.observe_viewers(61_000, 12)) == _summary(tracker.observe_viewers(61_000, 12))


def test_unchanged_counts_are_not_kept_and_old_ones_go():
    tracker = SellingPointRetention(keep_ms=60_000)
    for s in range(0, 300):
        tracker.observe_viewers(s * 1000, 1000 + (s // 100))  # a new count every 100 s, reported every second
    assert len(tracker.state["samples"]) <= 3
    assert tracker._count_at(299_000) == 1002 and tracker.state["clock"] == 299_000
