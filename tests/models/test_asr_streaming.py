"""Streaming VAD and speculative finals of the ASR session (fake decoder: the decode's text is
the exact audio it was given, so a final's text says which samples it was decoded from)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from models.asr import AsrSessionConfig, StreamingAsrSession, load_media
from models.asr.engine import DecodedSegment, DecodedWord, DecodeResult
from models.asr.vad import StreamingVad, segment
from tests.models.test_asr import stream  # the same chunk feeder the recognition tests use

JFK = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "speech" / "en" / "jfk.flac"
SR = 16_000


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    if not JFK.is_file():
        pytest.skip("../shared/data/speech/en/jfk.flac missing (real speech for the VAD)")
    return load_media(str(JFK))


class _AudioEcho:
    """Decoder double: text = length + digest of the audio; counts decodes."""

    multilingual = False

    def __init__(self) -> None:
        self.decodes = 0

    def decode(self, audio, language, options=None) -> DecodeResult:
        self.decodes += 1
        dur = len(audio) / SR
        text = f"n{len(audio)} {hashlib.sha1(np.ascontiguousarray(audio).tobytes()).hexdigest()[:8]}"
        word = DecodedWord(0.0, dur, text, 0.9)
        return DecodeResult([DecodedSegment(0.0, dur, text, [word])], "en", 1.0, 0.0)


def test_streaming_vad_equals_one_pass_over_the_wholestream(jfk):
    from faster_whisper.vad import get_vad_model

    whole = len(jfk) // 512 * 512
    one_pass = np.asarray(get_vad_model()(jfk[:whole])).reshape(-1)
    vad = StreamingVad(0)
    for i in range(0, whole, 4000):  # 250 ms chunks: frames straddle chunk edges
        vad.feed(jfk[i:min(i + 4000, whole)])
    np.testing.assert_allclose(vad.probs, one_pass, atol=1e-6)
    vad.drop_before(3000)  # frames before 3000 go; offsets stay absolute
    offset, probs = vad.probs_from(3000)
    assert offset == 3072 - 3000 and probs[0] == pytest.approx(one_pass[6])


def test_segment_matches_faster_whisper_get_speech_timestamps(jfk):
    from faster_whisper.vad import VadOptions, get_speech_timestamps, get_vad_model

    audio = np.concatenate([jfk, np.zeros(SR * 3 // 2, np.float32)])  # silence after the speech
    whole = len(audio) // 512 * 512
    probs = np.asarray(get_vad_model()(audio[:whole])).reshape(-1)
    for silence_ms in (250, 500):
        ours = segment(probs, 0, whole, threshold=0.5, min_speech_ms=250, max_speech_s=15,
                       min_silence_ms=silence_ms, speech_pad_ms=200)
        theirs = get_speech_timestamps(audio[:whole], VadOptions(
            threshold=0.5, min_speech_duration_ms=250, max_speech_duration_s=15,
            min_silence_duration_ms=silence_ms, speech_pad_ms=200))
        assert ours == [(r["start"], r["end"]) for r in theirs]
        assert len(ours) == 4  # "and so my fellow Americans" / "ask not" / ... / ...


def _finals(updates):
    return [(f.segment_id, f.start_ms, f.end_ms, f.text) for u in updates for f in u.finals]


def test_speculative_final_is_the_final_a_full_decode_gives(jfk):
    audio = np.concatenate([jfk, np.zeros(SR * 3 // 2, np.float32)])
    plain_engine, spec_engine = _AudioEcho(), _AudioEcho()
    plain = StreamingAsrSession(plain_engine, "en", AsrSessionConfig(spec_silence_ms=0, end_silence_ms=500, en_end_silence_ms=None))
    spec = StreamingAsrSession(spec_engine, "en", AsrSessionConfig(spec_silence_ms=250, end_silence_ms=500, en_end_silence_ms=None))
    plain_finals, spec_finals = _finals(stream(plain, audio)), _finals(stream(spec, audio))
    assert len(plain_finals) == 4  # JFK's four sentences at 500 ms
    assert spec_finals == plain_finals  # same ids, times, and decoded from the same samples
    assert spec.stats.spec_hits >= 3  # most finals cost no decode when they close
    assert plain.stats.spec_decodes == plain.stats.spec_hits == 0


def test_speculative_candidate_is_dropped_when_speech_resumes(jfk):
    # "and so my fellow Americans", a 400 ms pause (past spec_silence, short of end_silence),
    # "what your country can do for you", then silence: one utterance, one final
    first, second = jfk[int(0.32 * SR):int(2.24 * SR)], jfk[int(5.44 * SR):int(7.62 * SR)]
    pause, tail = np.zeros(int(0.4 * SR), np.float32), np.zeros(int(1.5 * SR), np.float32)
    audio = np.concatenate([np.zeros(SR // 2, np.float32), first, pause, second, tail])
    spec = StreamingAsrSession(_AudioEcho(), "en", AsrSessionConfig(spec_silence_ms=250, end_silence_ms=500, en_end_silence_ms=None))
    updates = stream(spec, audio)
    plain = StreamingAsrSession(_AudioEcho(), "en", AsrSessionConfig(spec_silence_ms=0, end_silence_ms=500, en_end_silence_ms=None))
    finals = _finals(updates)
    assert finals == _finals(stream(plain, audio))
    assert len(finals) == 1, finals
    assert spec.stats.spec_decodes >= 2  # one in the pause (discarded), one after the second part
    assert spec.stats.spec_hits == 1
    # the final spans both parts: decoded from more audio than the pause's candidate
    assert finals[0][1] < 0.6 * 1000 * 1.0 + 400 and finals[0][2] > (0.5 + 1.92 + 0.4 + 1.5) * 1000
    final_ids = {f[0] for f in finals}
    seen_final = set()
    for u in updates:  # a partial never follows its segment's final
        assert not ({p.segment_id for p in u.partials} & seen_final)
        seen_final |= {f.segment_id for f in u.finals}
    assert seen_final == final_ids


def test_lead_in_never_reaches_into_an_earlier_utterance(jfk):
    audio = np.concatenate([jfk, np.zeros(SR * 3 // 2, np.float32)])
    session = StreamingAsrSession(_AudioEcho(), "en", AsrSessionConfig(lead_in_ms=2_000, end_silence_ms=500, en_end_silence_ms=None))
    finals = [f for u in stream(session, audio) for f in u.finals]
    assert len(finals) == 4
    for a, b in zip(finals, finals[1:]):
        assert a.end_ms <= b.start_ms  # regions never overlap, whatever the lead-in


class _Words:
    """Decoder double: one word per 400 ms of audio, named by its offset; records input sizes."""

    multilingual = False

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def decode(self, audio, language, options=None) -> DecodeResult:
        self.sizes.append(len(audio))
        dur = len(audio) / SR
        words = [DecodedWord(t, min(t + 0.4, dur), f"w{int(t * 10)}", 0.9) for t in np.arange(0, dur - 0.2, 0.4)]
        return DecodeResult([DecodedSegment(0.0, dur, " ".join(w.text for w in words), words)], "en", 1.0, 0.0)


def test_long_utterance_partials_decode_a_bounded_window_finals_decode_it_whole():
    libri = JFK.parent / "librispeech-1995-1837-0001.wav"
    if not libri.is_file():
        pytest.skip("../shared/data/speech/en/librispeech-1995-1837-0001.wav missing")
    audio = np.concatenate([load_media(str(libri)), np.zeros(SR * 3 // 2, np.float32)])  # 8.8 s of speech
    engine = _Words()
    session = StreamingAsrSession(engine, "en", AsrSessionConfig(partial_window_s=3.0, update_interval_ms=500))
    updates = stream(session, audio)
    partials = [p for u in updates for p in u.partials]
    finals = [f for u in updates for f in u.finals]
    assert len(finals) == 1 and finals[0].end_ms > 8_000
    assert max(engine.sizes) >= 8 * SR  # the final (candidate) decodes the whole utterance
    long_partials = [p for p in partials if p.end_ms - p.start_ms > 4_500]
    assert long_partials, "no partial of the long utterance"
    window_decodes = [n for n in engine.sizes if n < 4.6 * SR]
    assert len(window_decodes) >= len(engine.sizes) - 3  # all but the first and final candidates
    for p in long_partials:  # whole utterance shown: kept words + the re-decoded end, in order
        assert p.start_ms < 1_000 and p.words[0][0] == p.start_ms
        ends = [w[1] for w in p.words]
        assert ends == sorted(ends) and all(w[0] <= w[1] for w in p.words)
        assert p.text == " ".join(w[2] for w in p.words)


ZH_MEETING = JFK.parent.parent / "zh" / "TEST_MEETING_T0000000001_S00000.wav"  # 12 s, two utterances


class _Contexts:
    """Decoder double: records each decode's options; the text names the audio (a digest), so a
    final's text says which decodes it came from."""

    def __init__(self, language: str) -> None:
        self.multilingual = language != "en"
        self.language = language
        self.calls: dict[str, list] = {}  # text (the audio's digest) -> options of each decode of it

    def decode(self, audio, language, options=None) -> DecodeResult:
        dur = len(audio) / SR
        text = f"a{hashlib.sha1(np.ascontiguousarray(audio).tobytes()).hexdigest()[:10]}"
        self.calls.setdefault(text, []).append(options)
        return DecodeResult([DecodedSegment(0.0, dur, text, [DecodedWord(0.0, dur, text, 0.9)])],
                            self.language, 1.0, 0.0)


def _speech_file(language: str) -> np.ndarray:
    path = JFK if language == "en" else ZH_MEETING
    if not path.is_file():
        pytest.skip(f"{path} missing (real speech)")
    return np.concatenate([load_media(str(path)), np.zeros(SR * 3 // 2, np.float32)])


@pytest.mark.parametrize("language", ["en", "zh"])
def test_finals_decode_with_the_full_encoder_context_partials_with_the_fitted_one(language):
    from models.asr.engine import DecodeOptions

    audio = _speech_file(language)
    room = DecodeOptions(hotwords="silk dress" if language == "en" else "桑蚕丝 连衣裙")
    engine = _Contexts(language)
    session = StreamingAsrSession(engine, language, AsrSessionConfig(
        update_interval_ms=500, end_silence_ms=500, en_end_silence_ms=None, final_encoder_context="full"), options=room)
    updates = stream(session, audio)
    finals = [f for u in updates for f in u.finals]
    assert len(finals) >= 2 and sum(len(u.partials) for u in updates) >= 2
    calls = [o for options in engine.calls.values() for o in options]
    assert all(o.hotwords == room.hotwords for o in calls)  # the room's biasing is kept either way
    for f in finals:  # a final's own decode (or its speculative candidate's)
        assert engine.calls[f.text][-1].encoder_context == "full"
    # full: every speculative candidate and every final decoded when it closed; fit: the partials
    full = sum(o.encoder_context == "full" for o in calls)
    assert full == session.stats.spec_decodes + len(finals) - session.stats.spec_hits
    assert len(calls) - full >= 2
    assert session.stats.spec_hits >= 1  # the candidate is still reused: same audio, same options


@pytest.mark.parametrize("language", ["en", "zh"])
def test_fit_final_context_decodes_finals_like_partials(language):
    audio = _speech_file(language)
    engine = _Contexts(language)
    session = StreamingAsrSession(engine, language, AsrSessionConfig(final_encoder_context="fit"))
    finals = [f for u in stream(session, audio) for f in u.finals]
    assert finals
    assert all(o is None for options in engine.calls.values() for o in options)  # the engine's own


def test_a_degraded_session_decodes_its_finals_with_the_fitted_context():
    audio = np.concatenate([_speech_file("en"), _speech_file("en")])
    engine = _Contexts("en")
    session = StreamingAsrSession(engine, "en", AsrSessionConfig(end_silence_ms=500, en_end_silence_ms=None))
    level_before, checked = 0, 0
    # 3 s chunks: every update starts 3 s behind, past the 1 s lag budget, so the session
    # steps down a level per update
    for u in stream(session, audio, chunk_ms=3_000):
        for f in u.finals:
            options = engine.calls[f.text][-1]
            context = options.encoder_context if options else "fit"  # None: the engine's, fit
            assert context == ("fit" if level_before >= 2 else "full")
            checked += level_before >= 2
        level_before = u.degraded_level
    assert checked >= 1


def test_end_silence_closes_an_utterance_only_after_a_pause_longer_than_a_sentence_gap():
    # JFK has pauses of ~0.5 s between its sentences: 500 ms of silence closes 4 utterances,
    # an English room's default (700 ms) fewer, longer ones
    audio = _speech_file("en")
    counts = {}
    for en_end_silence in (None, AsrSessionConfig().en_end_silence_ms):
        session = StreamingAsrSession(_AudioEcho(), "en", AsrSessionConfig(en_end_silence_ms=en_end_silence))
        counts[en_end_silence] = len(_finals(stream(session, audio)))
    assert AsrSessionConfig().en_end_silence_ms == 700 and AsrSessionConfig().end_silence_ms == 500
    assert counts[None] == 4 and counts[700] < 4


@pytest.mark.parametrize("language", ["en", "zh"])
def test_by_default_english_finals_get_the_full_context_and_chinese_ones_the_fitted(language):
    """"auto": Whisper base's full-context decode put the zh room's finals over the stage budget
    on 2 CPU cores (BENCHMARKS.md, session 11); English finals (tiny.en) stay within it."""
    audio = _speech_file(language)
    engine = _Contexts(language)
    session = StreamingAsrSession(engine, language, AsrSessionConfig())
    finals = [f for u in stream(session, audio) for f in u.finals]
    assert finals
    for f in finals:
        options = engine.calls[f.text][-1]
        assert (options.encoder_context if options else "fit") == ("full" if language == "en" else "fit")
    assert session._end_silence_ms() == (700 if language == "en" else 500)