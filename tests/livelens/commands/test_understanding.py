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


def test_chat_json_has_emotion_and_sentiment_scores():
    result = CliRunner().invoke(_app(), ["chat", "--json", "--batch", "4"],
                                input="这衣服质量太差了，退货！\nhow much is it\n\n😍😍\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 4
    for line in lines:
        assert len(line["emotion_scores"]) == 7 and abs(sum(line["emotion_scores"].values()) - 1) < 0.01
        assert 0 <= line["sentiment_score"] <= 1
    assert lines[0]["sentiment_score"] < 0.2 and lines[0]["emotion"] != "none"
    assert lines[1]["intent"] == "asks_price" and lines[1]["emotion"] == "none"


def test_classify_json_lists_every_selling_point_and_the_product(tmp_path):
    catalog = tmp_path / "room.yaml"
    catalog.write_text("products:\n  - id: dress-01\n    name: {zh: 桑蚕丝连衣裙, en: Silk Dress}\n", encoding="utf-8")
    result = CliRunner().invoke(_app(), ["classify", "--json", "--catalog", str(catalog)],
                                input="这条桑蚕丝连衣裙，垂感好，今天到手价99\n欢迎宝宝们\n")
    assert result.exit_code == 0, result.output
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    classes = [label["class"] for label in first["labels"]]
    assert {"drape", "price_promotion"} <= set(classes) and first["label"] == classes[0]
    for label in first["labels"]:
        assert set(label) == {"class", "score", "start", "end"}
        assert first["text"][label["start"]:label["end"]]
    assert first["product"]["product_id"] == "dress-01"
    assert first["text"][first["product"]["start"]:first["product"]["end"]] == "桑蚕丝连衣裙"
    assert second["labels"] == [] and second["product"] is None


def test_classify_bad_catalog_is_a_one_line_error(tmp_path):
    catalog = tmp_path / "room.yaml"
    catalog.write_text("products:\n  - name: {zh: 裙}\n", encoding="utf-8")
    result = CliRunner().invoke(_app(), ["classify", "--catalog", str(catalog)], input="x\n")
    assert result.exit_code == 2
    assert "room.yaml: products.0.id" in result.output and "Traceback" not in result.output
