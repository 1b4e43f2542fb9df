"""Platform profiles: every shipped file loads; a broken one fails with one line naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from media.platforms import BUILTIN_DIR, ProfileError, available_profiles, load_profile, load_profile_file, with_overrides

SHIPPED = ["douyin", "kuaishou", "taobao", "xiaohongshu", "wechat_channels", "tiktok", "youtube_shorts"]


def test_every_shipped_platform_loads_as_a_vertical_profile():
    assert set(SHIPPED) <= set(available_profiles())
    for name in SHIPPED:
        p = load_profile(name)
        assert (p.video.width, p.video.height) == (1080, 1920)
        assert p.duration.min_s < p.duration.max_s
        assert -24 <= p.loudness.integrated_lufs <= -9 and p.loudness.true_peak_db <= 0
        assert p.safe_area.top + p.safe_area.bottom < 0.6 and p.safe_area.left + p.safe_area.right < 0.4
        assert p.title.max_chars > 0 and p.tags.max_count > 0
    assert load_profile("douyin").languages == ["zh"] and load_profile("tiktok").languages == ["en"]


def _write(tmp_path: Path, name: str, mutate) -> Path:
    data = yaml.safe_load((BUILTIN_DIR / "douyin.yaml").read_text(encoding="utf-8"))
    data["name"] = name
    mutate(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["video"].update(width=1081), "video.width"),
    (lambda d: d["loudness"].update(integrated_lufs="loud"), "loudness.integrated_lufs"),
    (lambda d: d["subtitles"].update(color="white"), "subtitles.color"),
    (lambda d: d["duration"].update(min_s=90), "duration"),
    (lambda d: d["safe_area"].pop("bottom"), "safe_area.bottom"),
    (lambda d: d.update(colour_grading="warm"), "colour_grading"),
    (lambda d: d["video"].update(preset="placebo"), "video.preset"),
])
def test_a_broken_profile_names_its_file_and_field(tmp_path, mutate, field):
    path = _write(tmp_path, "myplatform", mutate)
    with pytest.raises(ProfileError) as err:
        load_profile_file(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {field}")


def test_the_name_must_match_the_file_and_yaml_must_parse(tmp_path):
    path = _write(tmp_path, "other", lambda d: None)
    renamed = path.rename(tmp_path / "mismatch.yaml")
    with pytest.raises(ProfileError, match="mismatch.yaml: name: 'other' must match"):
        load_profile_file(renamed)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ProfileError, match="bad.yaml: not valid YAML"):
        load_profile_file(bad)


def test_a_new_platform_is_a_yaml_file(tmp_path, monkeypatch):
    _write(tmp_path, "bilibili", lambda d: d.update(display_name="哔哩哔哩", title={"max_chars": 80}))
    monkeypatch.setenv("LIVELENS_PROFILES_DIR", str(tmp_path))
    assert "bilibili" in available_profiles()
    p = load_profile("bilibili")
    assert p.title.max_chars == 80 and p.display_name == "哔哩哔哩"
    with pytest.raises(ProfileError, match="unknown platform 'weibo'"):
        load_profile("weibo")
    with pytest.raises(ProfileError, match="unknown platform"):
        load_profile("../douyin")


def test_overrides_are_validated_again():
    p = with_overrides(load_profile("douyin"), {"video": {"width": 180, "height": 320}})
    assert (p.video.width, p.video.height, p.video.fps) == (180, 320, 30)
    with pytest.raises(ProfileError, match="video.height"):
        with_overrides(load_profile("douyin"), {"video": {"height": -2}})
