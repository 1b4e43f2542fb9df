"""A room's language: precedence of the ways to set it, and ``auto`` identification."""

from __future__ import annotations

import numpy as np
import pytest

from models.asr import StreamingAsrSession, load_media
from models.asr.engine import DecodedSegment, DecodedWord, DecodeResult
from models.asr.language import RoomLanguageId, choose_room_language
from models.asr.offline import transcribe_offline

SR = 16_000


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"override": "en", "declared": "zh", "room_config": "auto", "default": "en"}, ("en", "override")),
    ({"override": None, "declared": "zh", "room_config": "en", "default": "en"}, ("zh", "declared")),
    ({"override": "", "declared": "", "room_config": "auto", "default": "en"}, ("auto", "room_config")),
    ({"override": None, "declared": "", "room_config": None, "default": "zh"}, ("zh", "default")),
])
def test_room_language_precedence_override_declared_config_default(kwargs, expected):
    assert choose_room_language(**kwargs) == expected


def test_one_very_sure_utterance_decides_at_once():
    lid = RoomLanguageId(min_speech_ms=3000)
    decision = lid.observe({"zh": 0.97, "en": 0.02}, speech_ms=800)
    assert decision is not None and decision.language == "zh"
    # held: later utterances do not change it
    assert lid.observe({"en": 0.99}, speech_ms=5000).language == "zh"


def test_unsure_utterances_vote_until_enough_speech():
    lid = RoomLanguageId(min_speech_ms=3000)
    assert lid.observe({"zh": 0.6, "en": 0.3, "ja": 0.1}, speech_ms=1000) is None
    assert lid.observe({"zh": 0.5, "en": 0.4, "ja": 0.1}, speech_ms=1000) is None
    decision = lid.observe({"zh": 0.55, "en": 0.35, "ko": 0.1}, speech_ms=1500)
    assert decision.language == "zh" and decision.speech_ms == 3500


def test_code_switching_chinese_with_english_words_goes_to_the_chinese_path():
    # "这款 oversize T恤 只要 99" : Whisper leans English on the brand words, Chinese still holds a fair share
    lid = RoomLanguageId(min_speech_ms=2000)
    decision = lid.observe({"en": 0.62, "zh": 0.35, "ja": 0.03}, speech_ms=2500)
    assert decision.language == "zh"


def test_english_room_stays_english():
    lid = RoomLanguageId(min_speech_ms=2000)
    assert lid.observe({"en": 0.85, "zh": 0.1, "de": 0.05}, speech_ms=2500).language == "en"


def test_speech_in_neither_language_is_unsupported():
    lid = RoomLanguageId(min_speech_ms=2000)
    decision = lid.observe({"es": 0.8, "pt": 0.1, "en": 0.06, "zh": 0.04}, speech_ms=2500)
    assert decision.language == "" and decision.unsupported == "es"


class _LanguageEcho:
    """Decoder double: detects ``detected`` (with ``probs``) unless a language is forced."""

    multilingual = True

    def __init__(self, detected: str, probs: dict[str, float]):
        self.detected, self.probs, self.languages = detected, probs, []

    def decode(self, audio, language, options=None) -> DecodeResult:
        self.languages.append(language)
        dur = len(audio) / SR
        lang = language or self.detected
        text = {"zh": "这条裙子是真丝的", "en": "this dress is silk", "es": "este vestido es de seda"}[lang]
        word = DecodedWord(0.0, dur, text, 0.9)
        return DecodeResult([DecodedSegment(0.0, dur, text, [word])], lang, self.probs.get(lang, 0.0), 0.0,
                            {} if language else dict(self.probs))


@pytest.fixture(scope="module")
def speech(shared_data) -> np.ndarray:
    """Real speech with pauses (the decoder double ignores what is said; the VAD needs speech)."""
    path = shared_data / "speech" / "zh" / "TEST_MEETING_T0000000001_S00000.wav"
    if not path.is_file():
        pytest.skip(f"{path} missing (real speech for the VAD)")
    return load_media(str(path))


def test_auto_session_decides_and_then_decodes_in_the_decided_language(speech):
    engine = _LanguageEcho("zh", {"zh": 0.95, "en": 0.03})
    finals, session = transcribe_offline(engine, speech, "auto")
    assert finals, "the VAD found no utterance in the test signal"
    assert all(f.language == "zh" and "真丝" in f.text for f in finals)
    assert engine.languages[0] is None and set(engine.languages[1:]) <= {"zh"}
    assert session.unsupported_language == ""


def test_auto_session_in_neither_language_emits_nothing_and_says_what_it_heard(speech):
    engine = _LanguageEcho("es", {"es": 0.9, "en": 0.05, "zh": 0.05})
    session = StreamingAsrSession(engine, "auto")
    audio = speech
    updates = []
    for i in range(0, len(audio), 4000):
        session.insert_audio_chunk(audio[i:i + 4000], i // 16)
        updates.append(session.process_iter())
    updates.append(session.finish())
    assert not [s.text for u in updates for s in u.finals + u.partials if s.text]
    assert updates[-1].unsupported_language == "es"
    assert session.stats.dropped_segments.get("unsupported_language", 0) >= 1
    # once decided, no more decoding: the CPU is not spent on speech nobody can read
    session = StreamingAsrSession(engine, "auto")
    for i in range(0, len(audio), 4000):
        session.insert_audio_chunk(audio[i:i + 4000], i // 16)
        session.process_iter()
    assert session.unsupported_language == "es"
    decodes = len(engine.languages)
    offset = len(audio) // 16 + 1000
    for i in range(0, len(audio), 4000):
        session.insert_audio_chunk(audio[i:i + 4000], offset + i // 16)
        session.process_iter()
    session.finish()
    assert len(engine.languages) == decodes


def test_declared_language_is_never_second_guessed(speech):
    engine = _LanguageEcho("es", {"es": 0.9})
    finals, _ = transcribe_offline(engine, speech, "zh")
    assert finals and all(f.language == "zh" for f in finals)
    assert set(engine.languages) == {"zh"}
