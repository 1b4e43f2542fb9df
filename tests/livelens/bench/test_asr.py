"""``livelens bench asr`` plumbing: it measures the session the worker runs (all of
``LIVELENS_ASR__*``), and reads a generated sample room as an extra set, scored against its script."""

from __future__ import annotations

import json

from livelens.bench.asr import _sample_room_files, _session_config, sample_room_error
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


def _room(tmp_path, lang: str, sentences: list[str]):
    (tmp_path / "script.json").write_text(json.dumps(
        {"lang": lang, "sentences": [{"text": t} for t in sentences]}, ensure_ascii=False), encoding="utf-8")
    return tmp_path


def test_sample_room_error_is_cer_for_a_chinese_room_with_numbers_either_way(tmp_path):
    room = _room(tmp_path, "zh", ["来，说价格！", "今天只要一百二十九元。"])
    assert sample_room_error(room, "来说价格今天只要129元") == 0.0
    assert sample_room_error(room, "來，說價格。今天只要一百二十九元") == 0.0  # Traditional, punctuation
    # one wrong character out of the reference's characters (numbers as digits: 来说价格今天只要129元)
    assert sample_room_error(room, "来说价钱今天只要129元") == 1 / len("来说价格今天只要129元")
    assert sample_room_error(room, "") == 1.0


def test_sample_room_error_is_wer_for_an_english_room(tmp_path):
    room = _room(tmp_path, "en", ["Now the price.", "Only one hundred twenty nine!"])
    assert sample_room_error(room, "now the price only 129") == 0.0
    assert sample_room_error(room, "now the rice only 129") == 1 / 5


def test_bench_refuses_a_folder_that_is_not_a_sample_room(tmp_path):
    from typer.testing import CliRunner

    from livelens.cli import app

    result = CliRunner().invoke(app, ["bench", "asr", "--sample-room", str(tmp_path), "--sample-room-only"])
    assert result.exit_code != 0 and "script.json" in result.output and "Traceback" not in result.output


def test_bench_refuses_an_unknown_bias_mode_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from livelens.cli import app

    room = _room(tmp_path, "zh", ["今天只要一百二十九元。"])
    result = CliRunner().invoke(app, ["bench", "asr", "--sample-room", str(room), "--sample-room-only",
                                      "--bias", "none,loud"])
    assert result.exit_code != 0 and "--bias" in result.output and "Traceback" not in result.output
