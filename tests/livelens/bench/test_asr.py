"""``livelens bench asr`` plumbing: it measures the session the worker runs (all of
``LIVELENS_ASR__*``), and reads a generated sample room as an extra English set."""

from __future__ import annotations

import json

from livelens.bench.asr import _sample_room_files, _session_config
from processors.asr import session_config
from streams.settings import Settings


def test_bench_uses_the_workers_session_config(monkeypatch):
    monkeypatch.setenv("LIVELENS_ASR__SPEC_SILENCE_MS", "0")
    monkeypatch.setenv("LIVELENS_ASR__PARTIAL_WINDOW_S", "2.5")
    monkeypatch.setenv("LIVELENS_ASR__UPDATE_INTERVAL_S", "0.75")
    config = _session_config("vad")
    assert config == session_config(Settings().asr)
    assert (config.spec_silence_ms, config.partial_window_s, config.update_interval_ms) == (0, 2.5, 750)
    assert _session_config("local_agreement").policy == "local_agreement"


def test_sample_room_reference_is_its_script(tmp_path):
    (tmp_path / "script.json").write_text(json.dumps(
        {"lang": "en", "sentences": [{"text": "Hi everyone!"}, {"text": "This dress is silk."}]}))
    [(name, path, reference)] = _sample_room_files(tmp_path)
    assert name == "sample-room-en" and path == tmp_path / "room.mp4"
    assert reference == "Hi everyone! This dress is silk."
