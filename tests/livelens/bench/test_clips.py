"""``livelens bench clips``' render row: the figures it reports come from a real render."""

from __future__ import annotations

import pytest
import yaml

from livelens.bench.clips import _render_one
from livelens.sample_room import shared_data_dir
from media.platforms import BUILTIN_DIR


def test_render_row_reports_rtf_rss_and_the_loudness_reached(tmp_path, monkeypatch):
    video = shared_data_dir() / "video" / "talking_1.mp4"
    if not video.is_file():
        pytest.skip(f"real footage missing: {video} (../shared/data/video, or set LIVELENS_SHARED_DATA)")
    data = yaml.safe_load((BUILTIN_DIR / "xiaohongshu.yaml").read_text(encoding="utf-8"))
    data.update(name="tiny")
    data["video"].update(width=180, height=320, fps=15, preset="ultrafast")
    data["duration"]["min_s"] = 1
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("LIVELENS_PROFILES_DIR", str(tmp_path))
    row = _render_one({"platform": "tiny", "source": "talking_1.mp4", "video": str(video), "start": 0.5,
                       "end": 2.5, "lang": "en", "words": [], "out": str(tmp_path / "out")})
    assert row["clip_s"] == 2.0 and row["render_s"] > 0 and row["rtf"] == pytest.approx(row["render_s"] / 2, rel=0.01)
    assert row["peak_rss_mb"] >= row["render_rss_mb"] >= 0
    assert abs(row["lufs"] - -16.0) <= 1.0 and row["target_lufs"] == -16.0
    assert row["reframe"] == "subject"
    assert (tmp_path / "out" / "meta.json").is_file()
