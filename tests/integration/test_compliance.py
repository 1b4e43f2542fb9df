"""A final transcript with 全网最低 → a compliance alert in Redis and a rephrase tip, through a real worker."""

from __future__ import annotations

import json
import time

import pytest

from streams.schemas import Transcript
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration
ROOM = "compliance-room"


async def test_final_transcript_with_an_absolute_term_reaches_redis_as_alert_and_tip(
        settings, producer, worker_factory, redis_client):
    await worker_factory(["compliance"])
    topics = TopicNames(settings.topic_prefix)
    # one room is one partition, read in order: by the time s2's alert is in Redis, the partial
    # before it has been handled (and must have raised nothing)
    sentences = [("s1", "大家好，今天这款是新款", True), ("s2", "全网最低", False), ("s2", "全网最低价，只有今天", True)]
    for i, (seg, text, final) in enumerate(sentences):
        tr = Transcript(room_id=ROOM, event_id=f"{seg}:{i}", stream_ms=(i + 1) * 3000, segment_id=seg,
                        is_final=final, start_ms=i * 3000, end_ms=(i + 1) * 3000, text=text,
                        language="zh", processor="asr")
        tr.ingested_at = tr.emitted_at = time.time()
        await producer.send(topics.transcripts, tr.to_bytes(), key=tr.key)
    await producer.flush()

    async def stream(kind: str) -> list[dict]:
        rows = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:{kind}")
        return [json.loads(f["event"]) for _id, f in rows]

    alerts = await wait_for(lambda: stream("compliance"), timeout=60, what="a compliance alert in Redis")
    tips = await wait_for(lambda: stream("recommendation"), timeout=30, what="a rephrase recommendation")
    assert [(a["source_id"], a["text"]) for a in alerts] == [("s2", "全网最低价，只有今天")]  # the final only
    alert = alerts[0]
    assert alert["source"] == "host" and alert["severity"] == "critical"
    v = alert["violations"][0]
    assert v["kind"] == "absolute_term" and "全网最低" in v["term"] and v["suggestion"] and v["law"]
    assert alert["text"][v["start"]:v["end"]] == v["term"]
    assert alert["emitted_at"] >= alert["ingested_at"]
    assert [t["rec_type"] for t in tips] == ["rephrase"] and v["term"] in tips[0]["message_zh"]
    state = await redis_client.hgetall(f"livelens:{{{ROOM}}}:state")
    assert "last:compliance" in state
