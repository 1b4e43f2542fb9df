"""Inverse text normalisation: spoken numbers become digits, words that contain numerals do not."""

from __future__ import annotations

import pytest

from models.asr.itn import to_display
from models.asr.metrics import cer, wer


@pytest.mark.parametrize("spoken, written", [
    ("二十九块九", "29.9元"),
    ("九块九包邮", "9.9元包邮"),
    ("一百二十九块钱", "129元"),
    ("吊牌价一百九十九元", "吊牌价199元"),
    ("今天只要一百二十九！", "今天只要129！"),
    ("29块9", "29.9元"),
    ("两百块", "200元"),
    ("下方再领一张十元优惠券", "下方再领一张10元优惠券"),
    ("百分之百桑蚕丝", "100%桑蚕丝"),
    ("百分之五十的定金", "50%的定金"),
    ("主播一米六五，一百零四斤", "主播1.65米，104斤"),
    ("1米65", "1.65米"),
    ("一百斤以下拍小码", "100斤以下拍小码"),
    ("二十二姆米", "22姆米"),
    ("四十八小时之内发货", "48小时之内发货"),
    ("库存只有五百件", "库存只有500件"),
    ("秒杀只有五分钟", "秒杀只有5分钟"),
    ("一号链接上架了", "1号链接上架了"),
    ("三点五厘米", "3.5厘米"),
    ("一万二", "12000"),
    ("电话一三八一二三四五六七八", "电话13812345678"),
])
def test_chinese_numbers_in_prices_sizes_percentages_and_counts_become_digits(spoken: str, written: str) -> None:
    assert to_display(spoken, "zh") == written


@pytest.mark.parametrize("text", [
    "我们一起来看一下", "统一发货", "一点点", "万一不合适", "千万别走开", "第一次来", "三个颜色",
    "十全十美", "一五一十", "十分好看", "扣个一", "五六个", "三四十个", "两点半", "七七", "一模一样",
    "这条裙子一样好看",
])
def test_chinese_words_that_only_contain_numerals_stay(text: str) -> None:
    assert to_display(text, "zh") == text


@pytest.mark.parametrize("spoken, written", [
    ("Today it is only one hundred twenty nine!", "Today it is only 129!"),
    ("one hundred percent mulberry silk", "100% mulberry silk"),
    ("We ship within forty eight hours.", "We ship within 48 hours."),
    ("grab the ten yuan coupon", "grab the 10 yuan coupon"),
    ("Twenty two momme silk", "22 momme silk"),
])
def test_english_number_words_become_digits(spoken: str, written: str) -> None:
    assert to_display(spoken, "en") == written


@pytest.mark.parametrize("text", ["I am wearing the champagne one", "no one likes it", "someone asked",
                                  "one of them", "is this the one?"])
def test_english_lone_one_stays_a_word(text: str) -> None:
    assert to_display(text, "en") == text


def test_language_none_applies_both_and_unknown_language_is_refused() -> None:
    assert to_display("链接一百二十九元 only ten yuan") == "链接129元 only 10 yuan"
    with pytest.raises(ValueError, match="language"):
        to_display("一百", "ja")


def test_cer_counts_numbers_written_either_way_as_equal_on_both_sides() -> None:
    reference = "今天直播间只要一百二十九元"
    assert cer(reference, "今天直播间只要129元") == 0.0
    assert cer("今天直播间只要129元", reference) == 0.0
    assert cer(reference, "今天直播间只要129元", normalize_numbers=False) > 0.2  # the old behaviour
    assert cer(reference, "今天直播间只要139元") > 0.0  # a wrong price is still an error


def test_wer_counts_number_words_and_digits_as_equal() -> None:
    reference = "The original price is one hundred ninety nine yuan."
    assert wer(reference, "The original price is 199 yuan") == 0.0
    assert wer(reference, "The original price is 199 yuan", normalize_numbers=False) > 0.3
    assert wer(reference, "The original price is 189 yuan") > 0.0


@pytest.mark.parametrize("spoken, written", [
    ("拍三件", "拍3件"),
    ("拍了两件", "拍了2件"),
    ("十一月上新", "11月上新"),
    ("今天只要二十九块九，拍三件", "今天只要29.9元，拍3件"),
    ("百分之五十", "50%"),
    ("已经一百单了", "已经100单了"),
])
def test_counts_of_pieces_and_months_become_digits(spoken: str, written: str) -> None:
    assert to_display(spoken, "zh") == written


@pytest.mark.parametrize("text", ["一定要拍", "统一发货", "这一件卖完了", "每一单都有赠品", "同一件衣服", "一样的价格"])
def test_one_inside_words_and_after_determiners_stays(text: str) -> None:
    assert to_display(text, "zh") == text


@pytest.mark.parametrize("spoken, written", [
    ("only twenty nine ninety nine today", "only 29.99 today"),
    ("the price is nineteen ninety nine", "the price is 19.99"),
    ("twenty nine dollars and ninety nine cents", "$29.99"),
    ("ten dollars off", "$10 off"),
])
def test_english_prices_said_in_two_groups_or_in_dollars(spoken: str, written: str) -> None:
    assert to_display(spoken, "en") == written


@pytest.mark.parametrize("text, written", [
    ("launched in twenty twenty five", "launched in 20 25"),  # a year: not a price
    ("I am one sixty five centimeters", "I am 1 65 centimeters"),  # a height: not a price
])
def test_english_number_pairs_without_a_price_word_are_not_prices(text: str, written: str) -> None:
    assert to_display(text, "en") == written
