"""``livelens clips render``: files in the folder, meta.json contents, one-line errors with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from livelens.cli import app
from livelens.sample_room import shared_data_dir
from media.platforms import BUILTIN_DIR


@pytest.fixture()
def tiny_platform(tmp_path, monkeypatch) -> str:
    """A small profile (a new platform is a YAML file), so the CLI renders fast."""
    data = yaml.safe_load((BUILTIN_DIR / "tiktok.yaml").read_text(encoding="utf-8"))
    data.update(name="tiny", languages=["zh", "en"])
    data["video"].update(width=180, height=320, fps=15, preset="ultrafast")
    data["duration"]["min_s"] = 1
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("LIVELENS_PROFILES_DIR", str(folder))
    return "tiny"


def _talking() -> Path:
    path = shared_data_dir() / "video" / "talking_1.mp4"
    if not path.is_file():
        pytest.skip(f"real footage missing: {path} (../shared/data/video, or set LIVELENS_SHARED_DATA)")
    return path


def test_render_with_a_transcript_file(tmp_path, tiny_platform):
    words = [{"start": 1.2, "end": 1.6, "text": "百分之百"}, {"start": 1.6, "end": 2.2, "text": "桑蚕丝面料"},
             {"start": 2.4, "end": 3.0, "text": "二十二姆米重磅真丝"}]
    transcript = tmp_path / "words.json"
    transcript.write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["clips", "render", str(_talking()), "--start", "1", "--end", "3.5",
                                      "--platform", tiny_platform, "--out", str(out), "--transcript", str(transcript),
                                      "--lang", "zh", "--product", "桑蚕丝连衣裙", "--selling-point", "面料材质"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4", "cover.jpg", "meta.json"]
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["platform"] == "tiny" and (meta["start"], meta["end"]) == (1.0, 3.5)
    assert "桑蚕丝" in meta["title"] and meta["tags"][0] == "面料材质"
    assert "".join(c["text"] for c in meta["subtitles"]) == "百分之百桑蚕丝面料二十二姆米重磅真丝"
    assert meta["subtitles"][0]["start"] == pytest.approx(0.2)
    assert meta["reframe"] == "subject" and abs(meta["loudness_lufs"] - -14) <= 1


def test_render_runs_asr_without_a_transcript(tmp_path, tiny_platform):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["clips", "render", str(_talking()), "--start", "0", "--end", "4",
                                      "--platform", tiny_platform, "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    spoken = " ".join(c["text"] for c in meta["subtitles"]).lower()
    assert "help" in spoken, spoken  # talking_1 says "...asking for help when I need it"
    assert meta["title"]


@pytest.mark.parametrize("args, message", [
    (["--start", "5", "--end", "9"], "ends after the video"),
    (["--start", "20", "--end", "25"], "outside the video"),
    (["--platform", "myspace"], "unknown platform 'myspace'"),
    (["--lang", "fr"], "--lang must be zh or en"),
    (["--transcript", "MISSING"], "cannot read"),
])
def test_bad_input_is_one_line_and_non_zero(tmp_path, tiny_platform, args, message):
    base = {"--start": "1", "--end": "3", "--platform": tiny_platform, "--out": str(tmp_path / "out"),
            "--transcript": str(tmp_path / "words.json")}
    (tmp_path / "words.json").write_text("[]")
    for i in range(0, len(args), 2):
        base[args[i]] = str(tmp_path / "nope.json") if args[i + 1] == "MISSING" else args[i + 1]
    argv = ["clips", "render", str(_talking())] + [x for kv in base.items() for x in kv]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "meta.json").exists()


def test_corrupt_video(tmp_path, tiny_platform):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 100)
    (tmp_path / "w.json").write_text("[]")
    result = CliRunner().invoke(app, ["clips", "render", str(bad), "--start", "0", "--end", "2", "--platform",
                                      tiny_platform, "--out", str(tmp_path / "out"), "--transcript",
                                      str(tmp_path / "w.json")])
    assert result.exit_code == 1
    assert "error:" in result.output and "cannot decode" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("lang, words, banned", [
    ("zh", ["这款面霜百分之百有效，", "全网最低价，", "质地特别清爽。"], ["百分之百", "最低"]),
    ("en", ["This cream is guaranteed to cure acne. ", "The texture is light and fresh."], ["cure"]),
], ids=["zh", "en"])
def test_render_drops_what_the_compliance_rules_flag_from_the_listing(tmp_path, tiny_platform, lang, words, banned):
    from models.compliance import ComplianceChecker

    assert any(ComplianceChecker(language=lang).check(w) for w in words), "the example must break a rule"
    transcript = tmp_path / "words.json"
    transcript.write_text(json.dumps([{"start": 1.0 + 0.7 * i, "end": 1.6 + 0.7 * i, "text": w}
                                      for i, w in enumerate(words)], ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["clips", "render", str(_talking()), "--start", "1", "--end", "3.5",
                                      "--platform", tiny_platform, "--out", str(out), "--transcript", str(transcript),
                                      "--lang", lang])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    listing = " ".join([meta["title"], meta["description"], *meta["tags"]]).lower()
    assert meta["title"] and not any(b in listing for b in banned), listing
    assert any("compliance" in w for w in meta["warnings"])
