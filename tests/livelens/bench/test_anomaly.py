"""The NAB scorer of ``livelens bench anomaly`` on hand-made cases, and the command on a tiny
NAB-style folder (the real corpus is measured by the benchmark, not here)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from livelens.bench.anomaly import FileScore, scaled_sigmoid, score_file

N = 1000
TIMES = np.arange(N, dtype=np.int64) * 60_000
WINDOW_ROWS = (500, 599)
WINDOWS = [(int(TIMES[WINDOW_ROWS[0]]), int(TIMES[WINDOW_ROWS[1]]))]


def _detect(*rows: int) -> np.ndarray:
    d = np.zeros(N, dtype=bool)
    d[list(rows)] = True
    return d


def test_scaled_sigmoid_shape() -> None:
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(-1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert scaled_sigmoid(3.5) == -1.0
    assert scaled_sigmoid(-0.9) > scaled_sigmoid(-0.1) > 0 > scaled_sigmoid(0.5)


def test_null_and_perfect_detectors_normalise_to_0_and_100() -> None:
    null = score_file(TIMES, _detect(), WINDOWS)
    perfect = score_file(TIMES, _detect(WINDOW_ROWS[0]), WINDOWS)
    assert null.raw == pytest.approx(-1.0) and null.fn == 1
    assert perfect.raw == pytest.approx(1.0) and perfect.tp == 1
    assert null.normalized == pytest.approx(0.0) and perfect.normalized == pytest.approx(100.0)


def test_earlier_detection_in_window_scores_more_and_only_the_first_counts() -> None:
    early = score_file(TIMES, _detect(510), WINDOWS).raw
    late = score_file(TIMES, _detect(590), WINDOWS).raw
    both = score_file(TIMES, _detect(510, 590), WINDOWS)
    assert early > late > 0
    assert both.raw == pytest.approx(early) and both.tp == 1


def test_false_positive_weights() -> None:
    before = score_file(TIMES, _detect(300), WINDOWS)  # before any window: full A_FP
    assert before.raw == pytest.approx(-1.0 - 0.11) and before.fp == 1
    just_after = score_file(TIMES, _detect(600), WINDOWS).raw + 1.0  # right after the window: ~0
    far_after = score_file(TIMES, _detect(990), WINDOWS).raw + 1.0
    assert -0.11 < just_after <= 0 and far_after < just_after


def test_probationary_rows_are_ignored() -> None:
    in_probation = score_file(TIMES, _detect(10, 100), WINDOWS)  # 15 % of 1000 rows = 150
    assert in_probation.raw == pytest.approx(-1.0) and in_probation.detections == 0
    after = score_file(TIMES, _detect(200), WINDOWS)
    assert after.detections == 1 and after.raw < -1.0


def test_file_scores_add_up() -> None:
    total = FileScore()
    total.add(score_file(TIMES, _detect(WINDOW_ROWS[0]), WINDOWS))
    total.add(score_file(TIMES, _detect(), WINDOWS))
    assert total.normalized == pytest.approx(50.0)


def _write_tiny_nab(root: Path) -> None:
    rng = np.random.default_rng(0)
    (root / "cat").mkdir(parents=True)
    labels = {}
    for name, shift in (("cat/jump.csv", 30.0), ("cat/flat.csv", 0.0)):
        values = 10 + rng.normal(0, 1, 1200)
        values[800:] += shift
        start = np.datetime64("2020-01-01T00:00")
        stamps = [str(start + np.timedelta64(5 * i, "m")).replace("T", " ") for i in range(1200)]
        (root / name).write_text("timestamp,value\n" + "".join(f"{s}:00,{v:.4f}\n" for s, v in zip(stamps, values)))
        labels[name] = [[f"{stamps[760]}:00.000000", f"{stamps[860]}:00.000000"]] if shift else []
    (root / "windows.json").write_text(json.dumps(labels))


def test_bench_command_runs_on_a_tiny_nab_folder(tmp_path: Path) -> None:
    import typer

    from livelens.bench import anomaly

    _write_tiny_nab(tmp_path / "nab")
    app = typer.Typer()
    anomaly.register(app)
    app.command("noop")(lambda: None)  # a second command keeps typer in multi-command mode
    result = CliRunner().invoke(app, ["anomaly", "--data", str(tmp_path / "nab"), "--json", "--trials", "2"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["files"] == 2
    room = out["scores"]["room_detector"]["overall"]
    assert room["tp"] == 1 and room["windows"] == 1  # the level shift is found
    assert out["room_faults"]["audio_silence"]["max_s"] <= 2.0
    assert out["command"].startswith("livelens bench anomaly --data ")
