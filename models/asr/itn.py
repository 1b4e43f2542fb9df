"""Inverse text normalisation: numbers as a reader expects them, "一百二十九元" -> "129元".

Hosts say numbers in words and Whisper writes them either way ("129元" or "一百二十九元"), so
comparing a transcript with a script, or showing it, needs one written form. ``to_display`` is a
pure function (text in, text out):

Chinese (the numeral arithmetic is ``cn2an``'s; which spans are numbers is decided here):
- prices: "二十九块九" -> "29.9元", "一百二十九块钱" -> "129元", "十元" -> "10元";
- percentages: "百分之百" -> "100%", "百分之五十" -> "50%";
- heights: "一米六五" -> "1.65米";
- any numeral with a place value or of three or more digits: "一百零四斤" -> "104斤",
  "四十八小时" -> "48小时", "一三八…" -> "138…"; decimals "三点五" -> "3.5";
- a lone numeral only before a unit of money, weight, length, size, time, pieces or months:
  "一号链接" -> "1号链接", "五分钟" -> "5分钟", "三件" / "两件" -> "3件" / "2件", "十一月" -> "11月".
Words that merely contain a numeral stay: 一起, 一下, 统一, 一点点, 万一, 千万, 第一, 三个, 十全十美.

English (``text2num``'s ``alpha2digit``): "one hundred twenty nine" -> "129", "forty eight hours"
-> "48 hours", "ten percent" -> "10%", "twenty nine dollars ninety nine" -> "$29.99", and a price
said in two groups after a price word, "only twenty nine ninety nine" -> "only 29.99" (a year
"twenty twenty five" or a height "one sixty five" stays); a lone "one" ("the champagne one",
"no one") stays.
"""

from __future__ import annotations

import re
import warnings

_DIGITS = "零〇一二两三四五六七八九"
_PLACES = "十百千万亿"
_NUMERAL = f"[{_DIGITS}{_PLACES}]"
#: A numeral run that starts with a digit or 十 (runs starting 百/千/万 are words: 万一, 千万),
#: with an optional decimal part ("三点五": 点 followed by digits).
_NUMBER = re.compile(f"[{_DIGITS}十]{_NUMERAL}*(?:点[{_DIGITS}]+)?")
#: Units after which even a lone numeral is a quantity ("一号链接", "五分钟", "十元").
_UNITS = ("元", "块", "角", "毛", "斤", "公斤", "千克", "克", "米", "厘米", "公分", "毫米", "寸", "码", "号",
          "分钟", "小时", "秒", "折", "倍", "%", "％", "cm", "kg", "CM", "KG", "件", "单", "月")
#: Fixed expressions that are numerals in form only: never converted.
_IDIOMS = ("一五一十", "十全十美", "三三两两", "七七八八", "一一", "千千万万", "十有八九", "五湖四海",
           "三心二意", "一心一意", "七上八下", "乱七八糟", "一模一样", "独一无二", "九九八十一")
_ARABIC = r"\d+(?:\.\d+)?"


def _cn_number(span: str) -> str | None:
    """The Arabic form of a Chinese numeral span, or None when it is not a well-formed number."""
    import cn2an

    if not any(c in span for c in _PLACES + "点"):
        return _digit_string(span)  # a digit string (phone, model number, 六五): keep leading zeros
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cn2an warns before it raises
            value = cn2an.cn2an(span, "normal")
    except (ValueError, KeyError, IndexError, TypeError):
        return None  # "三四十" (thirty or forty), "一五一十"
    if isinstance(value, float) and value.is_integer() and "点" not in span:
        value = int(value)
    return str(value)


def _zh_numbers(text: str) -> str:
    def number(match: re.Match[str]) -> str:
        span, rest = match.group(0), text[match.end():]
        before = text[match.start() - 1] if match.start() > 0 else ""
        if span.endswith("点") or before == "第":
            return span  # "第一": ordinals read as words
        if span == "一" and before and before in "这那哪每同某任唯单":
            return span  # "这一件", "每一单", "同一月": a determiner, not a count
        has_place = len(span) > 1 and (any(c in span for c in _PLACES) or "点" in span)  # not a lone 十 (十分)
        long_digits = len(span) >= 3
        before_unit = rest.startswith(_UNITS)
        if not (has_place or long_digits or before_unit):
            return span
        if not has_place and len(span) == 2 and not before_unit:
            return span  # "五六" (five or six), "七七" (a name)
        converted = _cn_number(span)
        return span if converted is None else converted

    return _NUMBER.sub(number, text)


def _zh_to_display(text: str) -> str:
    # idioms are masked with private-use characters so no rule below can touch them
    masked: list[str] = []

    def mask(match: re.Match[str]) -> str:
        masked.append(match.group(0))
        return chr(0xE000 + len(masked) - 1)

    text = re.sub("|".join(_IDIOMS), mask, text)
    # heights: 一米六五 / 1米65 -> 1.65米 (before the general rule turns 六五 into 65)
    text = re.sub(f"([一二两1-2])米([{_DIGITS}]{{1,2}}|\\d{{1,2}})(?![{_DIGITS}\\d十])",
                  lambda m: f"{_cn_number(m.group(1)) or m.group(1)}.{_digit_string(m.group(2))}米", text)
    # percentages: 百分之五十 -> 五十%, converted below; 百分之百 -> 100%
    text = re.sub(f"百分之(百|{_NUMERAL}+(?:点[{_DIGITS}]+)?|{_ARABIC})",
                  lambda m: ("100" if m.group(1) == "百" else m.group(1)) + "%", text)
    # money: 二十九块九 / 29块9 -> 29.9元 (the digit after 块 is tenths), 129块钱 -> 129元
    text = re.sub(f"([{_DIGITS}十]{_NUMERAL}*|\\d+)块钱?([一二三四五六七八九]|[1-9])(?![{_DIGITS}{_PLACES}\\d毛角])",
                  lambda m: f"{_cn_number(m.group(1)) or m.group(1)}.{_digit_string(m.group(2))}元", text)
    text = _zh_numbers(text)
    text = re.sub(r"(\d+(?:\.\d+)?)(?:块钱|块|元钱)", r"\1元", text)
    return re.sub("[\ue000-\ue0ff]", lambda m: masked[ord(m.group(0)) - 0xE000], text)


def _digit_string(span: str) -> str:
    """"六五" -> "65", "一三八" -> "138" (digits read one by one); Arabic digits pass through."""
    return "".join(c if c.isdigit() and c.isascii() else str("零一二三四五六七八九".index(c)) if c in "零一二三四五六七八九"
                   else "2" if c == "两" else "0" for c in span)


#: words before a price said in two groups ("only twenty nine ninety nine" -> "only 29.99"); without
#: one, "in twenty twenty five" is a year and "one sixty five" a height, so they stay
_PRICE_CUE = r"(?:price|priced|costs?|only|just|pay|now|for|at|deal)"


def _en_to_display(text: str) -> str:
    from text_to_num import alpha2digit

    text = alpha2digit(text, "en")
    text = re.sub(r"(\d)\s*(?:percent|per cent)\b", r"\1%", text, flags=re.IGNORECASE)
    # "29 dollars (and) 99 (cents)" -> "$29.99"; "10 dollars" -> "$10"
    text = re.sub(r"\b(\d+) dollars?(?:,? and)? (\d{1,2})(?: cents?)?\b",
                  lambda m: f"${m.group(1)}.{int(m.group(2)):02d}", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(\d+(?:\.\d+)?) dollars?\b", r"$\1", text, flags=re.IGNORECASE)
    return re.sub(rf"(\b{_PRICE_CUE}\s+(?:\w+\s+)?)(\d{{2,3}}) (\d{{2}})\b(?! ?(?:cm|centimet|kilo|kg|years?))",
                  r"\1\2.\3", text, flags=re.IGNORECASE)


def to_display(text: str, language: str | None = None) -> str:
    """``text`` with spoken numbers written as digits; ``language`` "zh", "en" or None (both)."""
    if language not in (None, "zh", "en"):
        raise ValueError(f"language must be 'zh', 'en' or None, not {language!r}")
    if language in (None, "zh"):
        text = _zh_to_display(text)
    if language in (None, "en") and re.search("[A-Za-z]", text):
        text = _en_to_display(text)
    return text
