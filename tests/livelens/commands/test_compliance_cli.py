"""``livelens compliance``: one JSON object per stdin line, bad lines survive, clear errors."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from livelens.commands import compliance


def _app() -> typer.Typer:
    app = typer.Typer()
    compliance.register(app)

    @app.callback()
    def _root() -> None:  # keep "compliance" a sub-command
        pass

    return app


def _run(args: list[str], stdin: bytes):
    return CliRunner().invoke(_app(), ["compliance", *args], input=stdin)


def test_one_json_object_per_line_including_bad_lines():
    lines = [
        "全.网.最.低".encode(),
        b"",  # empty
        "加 薇 信 幺三八幺二三四五六七八".encode(),
        b"\xff\xfe\x00binary\x80 \xe5\x85",  # invalid UTF-8 and a NUL
        ("这件衣服很好看" * 5000).encode(),  # ~100 kB
        "mixed 混合 ١٢٣ Ελληνικά 最好 😀".encode(),
        "这是最新款".encode(),
    ]
    result = _run(["--platform", "douyin", "--json"], b"\n".join(lines) + b"\n")
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    for obj in out:
        assert set(obj) == {"text", "violations"}
        for v in obj["violations"]:
            assert set(v) == {"kind", "rule", "term", "start", "end", "severity", "law", "suggestion"}
            assert obj["text"][v["start"]:v["end"]] == v["term"]
    assert [v["kind"] for v in out[0]["violations"]] == ["absolute_term"]
    assert out[1]["violations"] == []
    assert [v["term"] for v in out[2]["violations"]] == ["加 薇 信", "幺三八幺二三四五六七八"]
    assert "\ufffd" in out[3]["text"]
    assert len(out[4]["text"]) == 35000 and out[4]["violations"] == []
    assert [v["term"] for v in out[5]["violations"]] == ["最好"]
    assert out[6]["violations"] == []


def test_an_oversized_line_gets_an_error_object_and_the_stream_goes_on():
    big = b"x" * (compliance.MAX_LINE_BYTES + 10)
    result = _run(["--json"], big + "\n全网最低\n".encode())
    assert result.exit_code == 0
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert "error" in first and "line 1" in first["error"]
    assert [v["kind"] for v in second["violations"]] == ["absolute_term"]


def test_readable_output_is_one_line_per_violation():
    result = _run(["--lang", "en"], b"DM me on WhatsApp\nnothing to see\n")
    assert result.exit_code == 0
    rows = result.stdout.splitlines()
    assert len(rows) == 2 and all(row.startswith("1\t") for row in rows)
    assert "WhatsApp" in rows[1] and "critical" in rows[1]


def test_unknown_category_or_platform_is_a_one_line_error_with_exit_2():
    result = _run(["--category", "spaceships"], b"x\n")
    assert result.exit_code == 2
    assert "known categories: apparel, beauty, electronics, food, health" in result.output
    result = _run(["--platform", "myspace"], b"x\n")
    assert result.exit_code == 2
    assert "known platforms:" in result.output and "douyin" in result.output
    assert "Traceback" not in result.output
