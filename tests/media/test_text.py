"""CJK font lookup and line breaking by rendered width."""

from __future__ import annotations

import numpy as np
import pytest

from media import text as text_module
from media.text import FontMissing, cjk_font, wrap_text


def test_the_font_draws_distinct_chinese_glyphs():
    font = cjk_font(48)
    masks = [np.array(font.getmask(ch)) for ch in "桑蚕丝"]
    assert all(m.size and m.max() > 0 for m in masks)
    # a font without Chinese draws the same empty box (tofu) for each
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])


@pytest.mark.parametrize("text", [
    "这条裙子是百分之百桑蚕丝面料，二十二姆米重磅真丝，厚实不透。",
    "This dress is one hundred percent mulberry silk, twenty two momme and not see through.",
    "今天直播间 only ¥129，size M 和 L 都有货！",
])
def test_lines_fit_the_width_and_keep_every_character(text):
    font = cjk_font(40)
    lines = wrap_text(text, font, 400)
    assert len(lines) >= 2
    assert all(font.getlength(line) <= 400 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert not any(line[0] in "，。！？、,.!?" for line in lines), "no line starts with closing punctuation"


def test_chinese_breaks_between_characters_english_at_spaces():
    font = cjk_font(40)
    zh = wrap_text("桑蚕丝面料很舒服桑蚕丝面料很舒服", font, 200)
    assert all(len(line) <= 5 for line in zh) and len(zh) >= 3
    en = wrap_text("mulberry silk dress feels smooth", font, 260)
    assert all(word in "mulberry silk dress feels smooth".split() for line in en for word in line.split())


def test_missing_font_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(text_module, "KNOWN_FONTS", ())
    monkeypatch.setattr(text_module, "_fc_candidates", lambda: [])
    monkeypatch.delenv("LIVELENS_CJK_FONT", raising=False)
    text_module.cjk_font_path.cache_clear()
    try:
        with pytest.raises(FontMissing, match="apt-get install fonts-noto-cjk"):
            text_module.cjk_font_path()
        monkeypatch.setenv("LIVELENS_CJK_FONT", str(tmp_path / "nope.ttf"))
        with pytest.raises(FontMissing, match="is not a file"):
            text_module.cjk_font_path()
    finally:
        text_module.cjk_font_path.cache_clear()
