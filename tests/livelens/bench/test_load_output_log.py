"""``OutputLog`` and ``ResourceSampler``: what the load benchmark counts, times and samples
(unit: events built in memory, this test's own process)."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

from livelens.bench import load as load_module
from livelens.bench.load import OutputLog, ResourceSampler
from streams.schemas import Alert, ChatInsight, ChatInsights, Recommendation

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


def _rec(rec_type: str, latency_s: float, ingested_at: float = T0 + 1) -> Recommendation:
    return Recommendation(room_id="load-r1", event_id=f"load-r1:rec:{rec_type}:{latency_s}", stream_ms=1,
                          ingested_at=ingested_at, emitted_at=ingested_at + latency_s, processor="recommend",
                          rec_type=rec_type, message_zh="看尺码表", message_en="see the size chart", reason="r",
                          priority=50, expires_ms=10, dedup_key=rec_type)


def test_recommendation_latency_is_kept_per_type_too():
    log = OutputLog(room_prefix="load-", settle_at=T0)
    for rec_type, latency_s in [("explain_size_fit", 0.04), ("push_clip", 0.25), ("explain_size_fit", 0.06)]:
        log.add(_rec(rec_type, latency_s))
    log.add(_rec("push_clip", 0.9, ingested_at=T0 - 1))  # before the settle point: counted, not timed
    assert {k: [round(x) for x in v] for k, v in log.rec_latency_by_type.items()} == {
        "explain_size_fit": [40, 60], "push_clip": [250]}
    assert log.rec_types == {"explain_size_fit": 2, "push_clip": 2}
    assert sorted(round(x) for x in log.latencies_ms["recommend/recommendation"]) == [40, 60, 250]


def test_sampler_keeps_a_cpu_timeline_until_stopped(monkeypatch):
    sampler = ResourceSampler({"me": os.getpid()}, timeline_s=0.05)
    sampler.start()
    for _ in range(3):
        end = time.time() + 0.06
        while time.time() < end:  # busy: this process uses CPU in each interval
            pass
        sampler.sample()
    assert len(sampler.cpu_timeline["me"]) == 3 and all(v >= 0 for v in sampler.cpu_timeline["me"])
    assert sampler.peak_rss["me"] > 0
    sampler.stop()
    later = time.time() + 1.0  # a whole second on: twenty timeline intervals, without waiting for them
    monkeypatch.setattr(load_module, "time", SimpleNamespace(time=lambda: later))
    sampler.sample()  # after stop: RSS still sampled, no timeline point
    assert len(sampler.cpu_timeline["me"]) == 3 and sampler.cpu_pct["me"] >= 0
