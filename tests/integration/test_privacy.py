"""After a room streams through the real pipeline, Redis holds no raw viewer id and no unmasked
personal data (phone numbers, WeChat / QQ ids), every per-room key expires, and what the masking
leaves still works: diversion is flagged by the compliance processor, contact spam by the chat model."""

from __future__ import annotations

import json
import re

import pytest

from streams.ingest.edge import parse_edge_object
from streams.ingest.privacy import ViewerPrivacy
from streams.ingest.publisher import Publisher
from streams.schemas import CommerceEvent
from streams.topics import TopicNames
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration
ROOM = "privacy-room"
CHAT = [  # (raw viewer id, name, text)
    ("dy_viewer_0001", "小王", "这件有M码吗"),
    ("dy_viewer_0002", "李姐", "加我微信 shop_8888 私聊有优惠"),
    ("dy_viewer_0003", "阿强", "我的电话是13812345678，发货前打给我"),
    ("dy_viewer_0004", "Amy", "call me at 415-555-0134 for the wholesale price"),
    ("dy_viewer_0002", "李姐", "QQ 987654321 也可以"),
    ("dy_viewer_0005", "老张", "幺三八 幺二三四 五六七八 记一下"),
    ("dy_viewer_0001", "小王", "好的下单了"),
]
SECRETS = ["13812345678", "shop_8888", "4155550134", "415-555-0134", "987654321", "幺三八"]


async def _everything_stored(redis_client, room: str) -> tuple[str, dict[str, int]]:
    """All values of the room's keys as one text, and each key's TTL."""
    parts, ttls = [], {}
    async for key in redis_client.scan_iter(match=f"livelens:{{{room}}}:*"):
        ttls[key] = await redis_client.ttl(key)
        kind = await redis_client.type(key)
        if kind == "stream":
            parts += [json.dumps(f, ensure_ascii=False) for _id, f in await redis_client.xrange(key)]
        elif kind == "hash":
            parts.append(json.dumps(await redis_client.hgetall(key), ensure_ascii=False))
        elif kind == "string":
            parts.append(await redis_client.get(key) or "")
        elif kind == "zset":
            parts += await redis_client.zrange(key, 0, -1)
    return "\n".join(parts), ttls


async def test_redis_holds_no_raw_viewer_id_and_no_unmasked_contact_details(
        settings, producer, worker_factory, redis_client):
    await worker_factory(["metrics", "chat", "compliance"])
    privacy = ViewerPrivacy.from_settings(settings)
    publisher = Publisher(producer, TopicNames(settings.topic_prefix), input_topics=("chat", "commerce"),
                          privacy=privacy)
    await publisher.marker(ROOM, "start", 0)
    for i, (user, name, text) in enumerate(CHAT):
        line = {"kind": "chat", "t": 0.5 + i, "user_id": user, "user_name": name, "text": text}
        await publisher.publish("chat", parse_edge_object(line, ROOM))
    await publisher.publish("commerce", CommerceEvent(room_id=ROOM, stream_ms=7_600, type="order",
                                                      user_id="dy_viewer_0001", amount=99.0))
    # a line rejected at the edge keeps its payload as a dead letter: masked too
    await publisher.reject(json.dumps({"kind": "chat", "t": "soon", "user_id": "dy_viewer_0009",
                                       "text": "电话 13812345678"}, ensure_ascii=False).encode(), "t: bad", "replay", ROOM)
    await publisher.marker(ROOM, "end", 8_000)
    await publisher.flush()

    async def insights():
        rows = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:chat_insight")
        return [json.loads(f["event"]) for _id, f in rows] if len(rows) >= len(CHAT) else None

    stored_insights = await wait_for(insights, timeout=60, what="an insight per chat message in Redis")
    await wait_for(lambda: redis_client.exists(f"livelens:{{{ROOM}}}:stream:dead_letter"), timeout=30,
                   what="the dead letter in Redis")
    await wait_for(lambda: redis_client.hget(f"livelens:{{{ROOM}}}:state", "ended"), timeout=30,
                   what="the room's final metrics window")
    wechat_line = next(i["message_id"] for i in stored_insights if i["text"] == "加我微信 [微信号] 私聊有优惠")

    async def alert_on_the_wechat_line():
        rows = await redis_client.xrange(f"livelens:{{{ROOM}}}:stream:compliance")
        return [json.loads(f["event"]) for _id, f in rows if json.loads(f["event"])["source_id"] == wechat_line]

    alert = (await wait_for(alert_on_the_wechat_line, timeout=30, what="a compliance alert on the masked WeChat line"))[0]

    stored, ttls = await _everything_stored(redis_client, ROOM)
    raw_ids = {user for user, _n, _t in CHAT} | {"dy_viewer_0009"}
    assert not [u for u in raw_ids if u in stored], "a raw viewer id reached Redis"
    assert not [n for _u, n, _t in CHAT if n in stored.replace("\\u", "")], "a viewer name reached Redis"
    assert not [s for s in SECRETS if s in stored], "unmasked contact details reached Redis"
    # a mobile number on its own, not 11 digits inside a longer token: a viewer's pseudonym is 16
    # hex characters from a per-run secret, and a CI run once matched "14334844142" in one
    phone = re.search(r"(?<![0-9A-Za-z.])1[3-9]\d{9}(?![0-9A-Za-z])", stored)
    assert not phone, stored[max(0, phone.start() - 120):phone.end() + 40]
    assert all(t > 0 for t in ttls.values()), {k: t for k, t in ttls.items() if t <= 0}

    # pseudonyms: one per viewer (unique chatters still counted), the one the secret gives
    by_message = {i["text"]: i for i in stored_insights}
    assert by_message["这件有M码吗"]["user_id"] == privacy.viewer_id("dy_viewer_0001", ROOM)
    assert len({i["user_id"] for i in stored_insights}) == len({u for u, _n, _t in CHAT})
    metrics = await redis_client.hgetall(f"livelens:{{{ROOM}}}:state")
    assert int(metrics["unique_chatters"]) >= 1
    # masked text still means what it meant
    assert by_message["加我微信 [微信号] 私聊有优惠"]["intent"] == "spam_ad"
    assert by_message["我的电话是[电话]，发货前打给我"]["intent"] == "spam_ad"
    assert alert["source"] == "chat" and "diversion" in {v["kind"] for v in alert["violations"]}
    assert alert["user_id"] == privacy.viewer_id("dy_viewer_0002", ROOM)
