"""Privacy at ingest: viewer ids pseudonymised, names dropped, personal data masked, dead letters too."""

from __future__ import annotations

import json

from models.compliance.privacy import pseudonymise
from models.understanding.chat import ChatAnalyzer
from streams.ingest.privacy import ViewerPrivacy
from streams.schemas import ChatMessage, CommerceEvent, dead_letter
from streams.settings import Settings

SECRET = "test-secret"


def _chat(text: str, user: str = "douyin_user_8812", room: str = "r1") -> ChatMessage:
    return ChatMessage(room_id=room, stream_ms=1000, user_id=user, user_name="小王", text=text)


def test_chat_is_pseudonymised_named_nothing_and_masked():
    privacy = ViewerPrivacy(SECRET)
    msg = privacy.protect(_chat("加我微信 shop_8888 或者打 138 1234 5678"))
    assert msg.user_id == pseudonymise("douyin_user_8812", "r1", SECRET) != "douyin_user_8812"
    assert msg.user_name == ""
    assert "shop_8888" not in msg.text and "5678" not in msg.text
    assert "[微信号]" in msg.text and "[电话]" in msg.text
    english = privacy.protect(_chat("call me at 415-555-0134", room="r2"))
    assert english.text == "call me at [phone]"


def test_pseudonyms_are_stable_in_a_room_and_differ_across_rooms():
    privacy = ViewerPrivacy(SECRET)
    a1, a2 = privacy.protect(_chat("hi")), privacy.protect(_chat("again"))
    b = privacy.protect(_chat("hi", room="other-room"))
    assert a1.user_id == a2.user_id != b.user_id
    order = privacy.protect(CommerceEvent(room_id="r1", stream_ms=5, type="order", user_id="douyin_user_8812"))
    assert order.user_id == a1.user_id  # the same viewer in the same room, across topics
    viewers = privacy.protect(CommerceEvent(room_id="r1", stream_ms=5, type="viewers", count=9))
    assert viewers.user_id == ""


def test_masked_chat_keeps_its_spam_intent():
    analyzer, privacy = ChatAnalyzer(), ViewerPrivacy(SECRET)
    for text in ("加我微信 wxid_abc123 便宜", "电话13812345678联系我", "QQ 12345678 找我"):
        masked = privacy.protect(_chat(text)).text
        assert masked != text and analyzer.analyze(masked).intent.label == "spam_ad", masked


def test_dead_letter_payload_is_pseudonymised_and_masked():
    privacy = ViewerPrivacy(SECRET)
    raw = json.dumps({"kind": "chat", "t": "bad", "user_id": "u-raw-1", "user_name": "张三",
                      "text": "身份证 11010519491231002X 电话 13812345678"}, ensure_ascii=False).encode()
    clean = json.loads(privacy.protect_payload(raw, "r1"))
    assert clean["user_id"] == pseudonymise("u-raw-1", "r1", SECRET) and "user_name" not in clean
    assert "13812345678" not in clean["text"] and "11010519491231002X" not in clean["text"]
    assert clean["t"] == "bad"  # the reason it was rejected is still visible
    not_json = privacy.protect_payload("oops 13812345678 {".encode(), "r1").decode()
    assert "13812345678" not in not_json and not_json.startswith("oops")
    assert privacy.protect_payload(b"\xff\xfe", "r1") == b"\xff\xfe"
    # a replay file's rejected line, published as a dead letter
    letter = privacy.protect(dead_letter(raw, "line 3: t: bad", "replay:chat.jsonl", "r1", processor="ingest"))
    assert "13812345678" not in letter.payload and "u-raw-1" not in letter.payload and "张三" not in letter.payload


def test_the_secret_is_generated_once_into_the_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path, _env_file=None)
    first = ViewerPrivacy.from_settings(settings)
    assert (tmp_path / "privacy-secret").read_text().strip() == first.secret and len(first.secret) >= 32
    assert ViewerPrivacy.from_settings(settings).secret == first.secret
    configured = Settings(data_dir=tmp_path, privacy={"secret": "from-env"}, _env_file=None)
    assert ViewerPrivacy.from_settings(configured).secret == "from-env"
