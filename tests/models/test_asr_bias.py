"""Speech biased to the room: its words from the catalog and taxonomy, the decode options each
mode gives Whisper, and the recall of the room's words (zh and en)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.asr.bias import bias_options, catalog_terms, room_terms, term_recall
from models.asr.engine import DecodeOptions

CATALOG = Path(__file__).resolve().parents[2] / "models" / "understanding" / "catalogs" / "sample_room.yaml"


def test_room_terms_put_products_first_take_classes_in_turn_and_keep_the_language():
    terms = room_terms(["桑蚕丝连衣裙", "Silk Dress", "丝"], [["面料", "真丝", "雪纺"], ["尺码", "中码"]], "zh", max_terms=5)
    assert terms == ["桑蚕丝连衣裙", "面料", "尺码", "真丝", "中码"]  # no English, no single character
    assert room_terms(["Silk Dress", "silk dress", "连衣裙"], [["size", "medium"]], "en") == ["Silk Dress", "size", "medium"]


@pytest.mark.parametrize("language, name, keyword", [("zh", "桑蚕丝中长款连衣裙", "尺码"),
                                                     ("en", "Mulberry Silk Midi Dress", "size")])
def test_catalog_terms_of_the_sample_room(language, name, keyword):
    names, terms = catalog_terms(CATALOG, "apparel", language, max_terms=40)
    assert names[0] == name and terms[0] == name and keyword in terms and len(terms) == 40


def test_each_mode_sets_hotwords_or_a_prompt_on_top_of_the_base_options():
    base = DecodeOptions(beam_size=3)
    assert bias_options("none", base, ["羊绒开衫"], ["开衫", "尺码"], "zh") is None
    hot = bias_options("hotwords", base, ["羊绒开衫"], ["开衫", "尺码"], "zh")
    assert (hot.hotwords, hot.initial_prompt, hot.beam_size) == ("开衫 尺码", None, 3)
    prompt = bias_options("prompt", base, ["羊绒开衫", "牛仔裤"], ["开衫"], "zh")
    assert prompt.hotwords is None and prompt.initial_prompt == "直播间在卖：羊绒开衫、牛仔裤。"
    both = bias_options("both", base, ["Cashmere Cardigan"], ["cardigan"], "en")
    assert both.hotwords == "cardigan" and both.initial_prompt == "In this live room: Cashmere Cardigan."
    with pytest.raises(ValueError, match="bias"):
        bias_options("loud", base, [], [], "zh")


def test_term_recall_counts_each_spoken_term_once_and_numbers_either_way():
    terms = ["桑蚕丝", "桑蚕丝面料", "面料", "中码"]
    ref = "这条裙子是百分之百桑蚕丝面料，穿中码，面料很好"
    assert term_recall(ref, ref, terms, "zh") == (3, 3)  # 桑蚕丝面料 once (not also 桑蚕丝 / 面料), 中码, 面料
    assert term_recall(ref, "这条裙子是100%桑残丝面料，穿中码，面料很好", terms, "zh") == (2, 3)
    assert term_recall("a silk dress in size medium", "a silk dress in sighs medium", ["silk dress", "size"], "en") == (1, 2)
    assert term_recall("no room words here", "", ["silk"], "en") == (0, 0)
