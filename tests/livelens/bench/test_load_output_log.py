"""``OutputLog``: what the load benchmark counts and times (unit: events built in memory)."""

from __future__ import annotations

from livelens.bench.load import OutputLog
from streams.schemas import Alert, ChatInsight, ChatInsights

T0 = 1_000_000.0


def _insight(i: int, ingested_at: float) -> ChatInsight:
    return ChatInsight(room_id="load-r1", event_id=f"load-r1:m{i}:insight", stream_ms=i, ingested_at=ingested_at,
                       emitted_at=ingested_at + 0.05, processor="chat", message_id=f"load-r1:m{i}", user_id="u",
                       text="多少钱", sentiment="neutral", emotion="neutral", intent="asks_price", confidence=0.9)


def _alert(raised_by_clock: bool) -> Alert:
    evidence = {"gap_ms": 2100.0, **({"raised_by": "clock"} if raised_by_clock else {})}
    return Alert(room_id="load-r1", event_id=f"load-r1:alert:{raised_by_clock}", stream_ms=1, ingested_at=T0 + 1,
                 emitted_at=T0 + 1.2, processor="anomaly", alert_type="audio_ingest_gap", state="open",
                 severity="warning", dedup_key="gap", message="audio stopped", evidence=evidence)


def test_a_batch_of_insights_counts_and_times_each_message():
    log = OutputLog(room_prefix="load-", settle_at=T0)
    items = [_insight(i, T0 + 1 + i * 0.01) for i in range(3)]
    log.add(ChatInsights(room_id="load-r1", event_id="load-r1:m0:insights", stream_ms=2, ingested_at=T0 + 1,
                         emitted_at=T0 + 1.1, processor="chat", items=items))
    assert log.counts["chat_insight"] == 3
    assert len(log.latencies_ms["chat/chat_insight"]) == 3


def test_a_clock_raised_alert_is_counted_but_not_timed():
    log = OutputLog(room_prefix="load-", settle_at=T0)
    log.add(_alert(raised_by_clock=True))
    assert log.alert_types["audio_ingest_gap:open"] == 1
    assert "anomaly/alert" not in log.latencies_ms  # no input triggered it: no hop to time
    log.add(_alert(raised_by_clock=False))
    assert [round(x) for x in log.latencies_ms["anomaly/alert"]] == [200]
