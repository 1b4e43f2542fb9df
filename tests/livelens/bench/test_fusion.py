"""``livelens bench fusion`` on a tiny configuration: the figures exist, are honest about the
sessions being generated, the model is chosen on validation rooms (never the test rooms), and the
same-run ratios hold (timings are never asserted)."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from livelens.cli import app

SMALL = ["--train-sessions", "2", "--validation-sessions", "1", "--test-sessions", "1", "--windows", "60", "--epochs", "1", "--no-vision"]


def test_bench_fusion_json_small_over_two_seeds():
    torch.set_num_threads(1)
    result = CliRunner().invoke(app, ["bench", "fusion", "--json", "--seeds", "0,1", *SMALL])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["command"] == ("livelens bench fusion --train-sessions 2 --validation-sessions 1 --test-sessions 1 --windows 60 "
                                 "--epochs 1 --seeds 0,1 --no-vision --json")
    assert report["seeds"] == [0, 1] and len(report["runs"]) == 2
    run = report["runs"][0]
    assert run["sessions"].startswith("GENERATED")
    models = report["models"]
    # the chosen candidate is the one with the lowest mean VALIDATION deviance
    candidates = run["candidates"]
    assert set(candidates) == {"attention", "mean (no attention)", "attention, no previous window", "mean, no previous window"}
    assert report["chosen_on_validation"] == min(candidates, key=lambda n: models[n]["validation_deviance_mean"])
    for name in ("shipped default", "transcript only", "prosody only", "vision only", "chat only", "commerce only", *candidates):
        per_seed = [r["models"][name] for r in report["runs"]]
        assert all(row["deviance"] > 0 and row["validation_deviance"] > 0 for row in per_seed)
        assert abs(models[name]["test_deviance_mean"] - sum(r["deviance"] for r in per_seed) / 2) < 1e-3
        assert abs(per_seed[0]["deviance_ratio_vs_attention"] - per_seed[0]["deviance"] / run["models"]["attention"]["deviance"]) < 0.01
    assert report["best_single_modality_on_test"].endswith(" only")
    # the oracle knows the generating rate: nothing trained on 2 rooms can beat it by much
    assert models["oracle (true generating rate)"]["test_deviance_mean"] < models["room base rate (running mean)"]["test_deviance_mean"]
    assert set(run["online"]) == {"cold start (prior first)", "warm start (shared model)"}
    assert run["online"]["cold start (prior first)"]["featurize_predict_latency"]["n"] == 60
    # the shipped model's per-modality influence is reported
    assert any(v for v in run["shipped_mean_abs_influence"].values())
    assert report["vision"] == {"skipped": "--no-vision"}


def test_bench_fusion_rejects_bad_seeds_in_one_line():
    result = CliRunner().invoke(app, ["bench", "fusion", "--seeds", "0,x", *SMALL])
    assert result.exit_code != 0
    assert "--seeds" in result.output and "Traceback" not in result.output
