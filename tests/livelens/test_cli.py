"""The CLI's error contract: a user error is one line on stderr and a non-zero exit; a traceback
only with ``livelens --debug``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from livelens import cli

REPO = Path(__file__).resolve().parents[2]


def run(monkeypatch, capsys, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """``livelens ARGS`` in this process: (exit code, non-empty stderr lines that are not log records)."""
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "argv", ["livelens", *args])
    monkeypatch.setattr(cli, "_debug", False)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line[:4].isdigit()]  # log lines start with the date
    return exited.value.code, lines


def one_error(lines: list[str]) -> str:
    assert len(lines) == 1, lines
    assert lines[0].startswith("livelens: error: "), lines
    return lines[0]


def test_media_that_is_not_media_is_one_line(monkeypatch, capsys):
    code, lines = run(monkeypatch, capsys, "transcribe", "/etc/passwd")
    assert code == 1
    assert "cannot read media /etc/passwd" in one_error(lines)


def test_a_truncated_video_with_a_chinese_name_is_one_line(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "直播间.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40)  # an MP4 header and nothing else
    code, lines = run(monkeypatch, capsys, "transcribe", str(bad), "--language", "zh")
    assert code == 1
    assert "直播间.mp4" in one_error(lines)


def test_missing_media_and_bad_flags_are_usage_errors(monkeypatch, capsys, tmp_path):
    code, lines = run(monkeypatch, capsys, "transcribe", str(tmp_path / "没有.mp4"))
    assert code == 2 and "没有.mp4" in one_error(lines) and "does not exist" in lines[0]
    code, lines = run(monkeypatch, capsys, "transcribe", "--bogus", "x.mp4")
    assert code == 2 and "--bogus" in one_error(lines) and "livelens transcribe --help" in lines[0]
    code, lines = run(monkeypatch, capsys, "no-such-command")
    assert code == 2 and "no-such-command" in one_error(lines)


def test_invalid_settings_are_one_line_naming_the_field(monkeypatch, capsys):
    code, lines = run(monkeypatch, capsys, "config", env={"LIVELENS_PARTITIONS": "eight"})
    assert code == 1 and "partitions" in one_error(lines)
    monkeypatch.delenv("LIVELENS_PARTITIONS")
    code, lines = run(monkeypatch, capsys, "config", env={"LIVELENS_ASR__ROOM_LANGUAGES": "room-zh"})
    assert code == 1 and "key=value" in one_error(lines)


def test_an_unreachable_broker_is_one_line(monkeypatch, capsys, tmp_path):
    media = tmp_path / "room.mp4"
    media.write_bytes(b"")
    code, lines = run(monkeypatch, capsys, "ingest", str(media), "--room", "r1",
                      env={"LIVELENS_KAFKA_BOOTSTRAP": "127.0.0.1:9", "LIVELENS_CONNECT_WAIT_S": "0.5"})
    assert code == 1
    assert "127.0.0.1:9 not reachable" in one_error(lines) and "LIVELENS_KAFKA_BOOTSTRAP" in lines[0]


def test_missing_configuration_is_one_line(monkeypatch, capsys):
    monkeypatch.delenv("LIVELENS_KAFKA_BOOTSTRAP", raising=False)
    code, lines = run(monkeypatch, capsys, "topics")
    assert code == 1 and "LIVELENS_KAFKA_BOOTSTRAP" in one_error(lines)


def test_an_unexpected_error_is_one_line_that_points_at_debug(monkeypatch, capsys):
    def broken():
        raise KeyError("surprise")

    monkeypatch.setattr(cli, "app", lambda **_: broken())
    code, lines = run(monkeypatch, capsys, "config")
    assert code == 1 and "KeyError" in one_error(lines) and "--debug" in lines[0]


def test_debug_shows_the_traceback_and_the_plain_entry_point_does_not():
    """The issue's own case, through the real entry point in a fresh process."""
    base = [sys.executable, "-m", "livelens.cli"]
    plain = subprocess.run([*base, "transcribe", "/etc/passwd"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 1
    assert plain.stderr.strip().splitlines() == [plain.stderr.strip()]  # exactly one line
    assert "Traceback" not in plain.stderr and "cannot read media" in plain.stderr
    debug = subprocess.run([*base, "--debug", "transcribe", "/etc/passwd"], cwd=REPO, capture_output=True,
                           text=True, timeout=120)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "InvalidDataError" in debug.stderr
