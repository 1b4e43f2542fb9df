"""``livelens classify`` / ``livelens chat``: one JSON object per stdin line, bad bytes survive."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from livelens.commands import understanding


def _app() -> typer.Typer:
    app = typer.Typer()
    understanding.register(app)
    return app


def test_chat_prints_one_json_per_line():
    stdin = "多少钱\n已拍\n绝绝子😍\n".encode() + b"\xff\xfe<script>x</script>\n\n"
    result = CliRunner().invoke(_app(), ["chat", "--json"], input=stdin)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5
    assert [line["intent"] for line in lines[:3]] == ["asks_price", "purchase_signal", "praise"]
    for line in lines:
        assert {"sentiment", "emotion", "intent", "confidence"} <= set(line)
    assert "\ufffd" in lines[3]["text"]  # invalid UTF-8 replaced, not fatal


def test_classify_json_with_scores_for_every_class(monkeypatch):
    monkeypatch.setenv("LIVELENS_UNDERSTANDING__ENCODER", "use-multilingual")
    from streams.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(_app(), ["classify", "--category", "apparel", "--json"], input="面料是纯棉的\n今天只要99元\n")
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["label"] for line in lines] == ["fabric_material", "price_promotion"]
    assert all(len(line["scores"]) == len(lines[0]["scores"]) >= 12 for line in lines)


def test_classify_unknown_category_is_a_clear_error():
    result = CliRunner().invoke(_app(), ["classify", "--category", "spaceships"], input="x\n")
    assert result.exit_code == 2
    assert "known categories" in result.output
