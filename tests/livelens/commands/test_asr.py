"""``livelens transcribe`` (any length offline, auto language) and ``livelens ingest --lang``."""

from __future__ import annotations

import json
import subprocess

import pytest
import typer
from typer.testing import CliRunner

from livelens.commands import asr, ingest
from models.asr.metrics import cer, read_kaldi_text


def _app(module) -> typer.Typer:
    app = typer.Typer()
    module.register(app)
    app.command("noop")(lambda: None)  # typer flattens a one-command app; keep the command name
    return app


@pytest.fixture(scope="module")
def long_chinese(shared_data, tmp_path_factory):
    """~100 s of real Mandarin: the five shared utterances, four times (one 'chunk' refused before)."""
    zh = shared_data / "speech" / "zh"
    if not zh.is_dir():
        pytest.skip(f"{zh} missing (real Chinese speech)")
    out = tmp_path_factory.mktemp("long") / "long_zh.wav"
    subprocess.run(["sox", *[str(p) for p in sorted(zh.glob("*.wav"))] * 4, str(out)], check=True)
    return out, read_kaldi_text(zh / "text")


@pytest.mark.slow
def test_transcribe_offline_handles_a_long_file_in_the_language_it_identifies(long_chinese):
    path, reference = long_chinese
    result = CliRunner().invoke(_app(asr), ["transcribe", str(path), "--language", "auto", "--json"])
    assert result.exit_code == 0, result.output
    segments = [json.loads(line) for line in result.stdout.splitlines()]
    assert segments[-1]["end"] > 90  # the whole file, not a refused "too_long" chunk
    assert all(s["display"] for s in segments)  # beside "text": numbers as digits for people
    text = "".join(s["text"] for s in segments)
    assert all("\u4e00" <= ch <= "\u9fff" for ch in text if ch.isalpha())
    said = "".join(reference[k] for k in sorted(reference)).replace(" ", "")
    assert "换一首歌" in text and cer(said * 4, text) < 0.5


def test_ingest_refuses_an_unknown_language_in_one_line():
    result = CliRunner().invoke(_app(ingest), ["ingest", "room.mp4", "--lang", "fr"])
    assert result.exit_code == 2
    assert "unknown language 'fr': use one of zh, en, auto" in result.output
