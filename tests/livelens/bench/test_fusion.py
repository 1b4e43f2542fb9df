"""``livelens bench fusion`` on a tiny configuration: the figures exist, are honest about the
sessions being generated, and hold the same-run ratios (timings are never asserted)."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from livelens.cli import app


def test_bench_fusion_json_small():
    torch.set_num_threads(1)
    result = CliRunner().invoke(
        app, ["bench", "fusion", "--json", "--train-sessions", "2", "--test-sessions", "1", "--windows", "60", "--epochs", "1", "--no-vision"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["sessions"].startswith("GENERATED")
    assert report["command"] == "livelens bench fusion --train-sessions 2 --test-sessions 1 --windows 60 --epochs 1 --no-vision --json"
    models = report["models"]
    assert models["fusion (attention)"]["deviance_ratio_vs_fusion"] == 1.0
    for name in ("no-attention (mean of projections)", "transcript only", "prosody only", "vision only", "chat only", "commerce only"):
        row = models[name]
        assert row["deviance"] > 0
        assert abs(row["deviance_ratio_vs_fusion"] - row["deviance"] / models["fusion (attention)"]["deviance"]) < 0.01
    # the oracle knows the generating rate: nothing trained on 2 rooms can beat it by much
    assert models["oracle (true generating rate)"]["deviance"] < models["room base rate (running mean)"]["deviance"]
    assert set(report["online"]) == {"cold start (prior first)", "warm start (shared model)"}
    assert report["online"]["cold start (prior first)"]["featurize_predict_latency"]["n"] == 60
    assert report["vision"] == {"skipped": "--no-vision"}
