"""``livelens generate-sessions`` -> ``livelens train-fusion`` -> a checkpoint rooms warm-start from."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from livelens.cli import app
from models.fusion import OnlineFusionLearner, load_sessions


def test_generate_then_train_then_warm_start(tmp_path):
    torch.set_num_threads(1)
    runner = CliRunner()
    data, checkpoint = tmp_path / "sessions", tmp_path / "shared.pt"
    result = runner.invoke(app, ["generate-sessions", "--out", str(data), "--count", "2", "--windows", "60"])
    assert result.exit_code == 0, result.output
    assert "generated session" in result.output
    assert len(load_sessions(data)) == 2
    result = runner.invoke(app, ["train-fusion", "--data", str(data), "--out", str(checkpoint), "--epochs", "2"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["sessions"] == 2 and summary["windows"] == 120 and summary["updates"] > 0
    room = OnlineFusionLearner.warm_start(checkpoint, "new-room", min_updates=1)
    assert room.learned and room.updates == summary["updates"]


def test_train_fusion_rejects_an_empty_folder(tmp_path):
    result = CliRunner().invoke(app, ["train-fusion", "--data", str(tmp_path), "--out", str(tmp_path / "x.pt")])
    assert result.exit_code != 0
    assert not (tmp_path / "x.pt").exists()
