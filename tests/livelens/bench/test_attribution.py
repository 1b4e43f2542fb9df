"""``livelens bench attribution`` on a tiny configuration: the report holds every model at every
session length, says the sessions are generated, and prints the command."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from livelens.bench.attribution import raw_post_rate
from livelens.cli import app
from models.attribution.scenario import LiveScenarioConfig, generate_live_session


def test_bench_attribution_json_small() -> None:
    result = CliRunner().invoke(app, ["bench", "attribution", "--test-sessions", "2", "--train-sessions", "2", "--minutes", "60", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["sessions"].startswith("GENERATED")
    assert set(report["models"]) == {"decay_regression", "decay_regression_warm", "raw_post_rate"}
    for row in report["models"].values():
        assert set(row["by_session_minutes"]) == {"30", "60"}
        assert row["spearman_mean"] is None or -1 <= row["spearman_mean"] <= 1
    assert report["command"] == "livelens bench attribution --test-sessions 2 --train-sessions 2 --minutes 60 --json"


def test_bad_arguments_are_one_line() -> None:
    result = CliRunner().invoke(app, ["bench", "attribution", "--minutes", "3"])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_raw_post_rate_only_counts_windows_after_explanations() -> None:
    session = generate_live_session(3, LiveScenarioConfig(minutes=60))
    rates = raw_post_rate(session, decay_min=3.0)
    assert set(rates) == {e["label"] for e in session.explanations}
    assert all(rate >= 0 for rate in rates.values())
