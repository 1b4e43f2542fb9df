"""The Chinese alert texts: one for every alert type a room monitor raises, filled from the
evidence, "?" for what an alert does not carry, and a broken file fails with one line."""

from __future__ import annotations

import re

import pytest

from models.anomaly import AnomalyConfig, RoomAnomalyMonitor
from models.anomaly.messages import MessagesError, alert_message_zh, load_messages

#: every metric of the monitor's table (models/anomaly/monitor.py), qualified where it needs one
METRICS = ["audio_rms_db", "video_frame_diff", "video_luma", "audio_arrival", "video_arrival", "ingest_lag_ms",
           "viewers", "chat_messages", "chat_negative_share", "orders", "payment_failures",
           "stage_latency_ms:asr", "consumer_lag:livelens-light", "dead_letters"]


def _alert_types() -> set[str]:
    monitor = RoomAnomalyMonitor("r", AnomalyConfig())
    return {alert_type for metric in METRICS for alert_type, _key, _make in monitor._factories(metric)}


def test_every_alert_type_the_monitor_raises_has_a_chinese_text():
    types = _alert_types()
    assert len(types) >= 15
    assert types <= set(load_messages()), sorted(types - set(load_messages()))


def test_texts_are_filled_from_the_evidence():
    drop = alert_message_zh("viewer_drop", "open", "r:viewer_drop",
                            {"value": 120, "baseline": 400, "relative_change": -0.7, "window_ms": 60_000})
    assert drop == "观众骤降：在线观众 120，比近期基线 400 下降 70%"
    stage = alert_message_zh("stage_latency", "updated", "r:stage_latency:asr", {"value": 812.3, "threshold": 300})
    assert stage.startswith("处理延迟超标：asr 处理延迟 812 毫秒")
    assert alert_message_zh("audio_silence", "resolved", "r:audio_silence", {"value": -12.5}) == "直播无声：声音已恢复（音量 -12.5 dB）"


def test_missing_or_odd_evidence_shows_a_question_mark_and_unknown_types_nothing():
    text = alert_message_zh("viewer_drop", "open", "r:viewer_drop", {"value": float("nan"), "baseline": None})
    assert "在线观众 ?" in text and "基线 ?" in text
    assert alert_message_zh("not_an_alert", "open", "r:not_an_alert", {}) == ""


@pytest.mark.parametrize("body, field", [
    ("version: 1\nmessages:\n  x: {name: a, open: '{nope}', resolved: b}\n", "messages.x.open"),
    ("version: 1\nmessages:\n  x: {name: a, open: b}\n", "messages.x.resolved"),
    ("messages: [\n", "not valid YAML"),
])
def test_a_broken_messages_file_fails_with_one_line(tmp_path, body, field):
    path = tmp_path / "messages.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(MessagesError, match=re.escape(field)) as err:
        load_messages(path)
    assert "\n" not in str(err.value)
