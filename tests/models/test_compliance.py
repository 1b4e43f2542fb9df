"""The compliance rule engine: evasions caught, harmless senses and negation left alone, spans
that point at the offending phrase in the original text, and rule files checked at load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.compliance import ComplianceChecker, RulePackError, list_categories, list_platforms
from models.compliance.rules import RULES_DIR


@pytest.fixture(scope="module")
def zh() -> ComplianceChecker:
    return ComplianceChecker(category="food", platform="douyin")


@pytest.fixture(scope="module")
def en() -> ComplianceChecker:
    return ComplianceChecker(category="health", platform="tiktok")


def _found(checker: ComplianceChecker, text: str) -> list[tuple[str, str]]:
    violations = checker.check(text)
    for v in violations:
        assert 0 <= v.start < v.end <= len(text)
        assert text[v.start : v.end] == v.term  # the span is the phrase as written
        assert v.law and v.suggestion and v.severity in ("info", "warning", "critical")
    return [(v.kind, v.term) for v in violations]


# ------------------------------------------------------------------------------ evasions

EVASIONS_ZH = [
    # separators between characters
    ("全.网.最.低", "absolute_term", "全.网.最.低"),
    ("全 网 最 低，今天就这个价", "absolute_term", "全 网 最 低"),
    ("顶💯级面料", "absolute_term", "顶💯级"),
    ("全网最🉐低", "absolute_term", "全网最🉐低"),
    ("降*血*压效果明显", "efficacy_claim", "降*血*压"),
    # full-width, circled digits, traditional characters
    ("ＴＯＰ１爆款", "absolute_term", "ＴＯＰ１"),
    ("销量第①", "absolute_term", "第①"),
    ("國家級工藝", "absolute_term", "國家級"),
    # homophones and look-alikes of 微信 / QQ / V
    ("加薇信发你", "diversion", "加薇信"),  # 加薇 and 薇信 overlap: one phrase
    ("威信搜我", "diversion", "威信"),
    ("徽信联系", "diversion", "徽信"),
    ("V X：abc12345", "diversion", "V X"),
    ("ｗｘ同号", "diversion", "ｗｘ"),
    ("+ v 聊", "diversion", "+ v"),
    ("加√", "diversion", "加√"),
    ("q q 联系我", "diversion", "q q"),
    ("扣 扣 私我", "diversion", "扣 扣"),
    # phone numbers: Arabic, spaced, dashed, circled, Chinese numerals with 幺 and 洞
    ("打我电话13812345678", "diversion", "13812345678"),
    ("138-1234-5678", "diversion", "138-1234-5678"),
    ("电话 138 1234 5678 随时打", "diversion", "138 1234 5678"),
    ("①③⑧①②③④⑤⑥⑦⑧", "diversion", "①③⑧①②③④⑤⑥⑦⑧"),
    ("幺三八幺二三四五六七八", "diversion", "幺三八幺二三四五六七八"),
    ("号码一三八洞洞洞洞幺幺幺幺", "diversion", "一三八洞洞洞洞幺幺幺幺"),
    ("壹叁捌壹贰叁肆伍陆柒捌", "diversion", "壹叁捌壹贰叁肆伍陆柒捌"),
    # off-platform trading
    ("私 下 转 账 更便宜", "diversion", "私 下 转 账"),
    ("拍.下.不.发", "diversion", "拍.下.不.发"),
    ("去淘宝搜我们店", "diversion", "淘宝"),
    ("加我whatsapp", "diversion", "whatsapp"),  # English app names in a Chinese room
]


@pytest.mark.parametrize("text,kind,term", EVASIONS_ZH)
def test_zh_evasions_are_caught_with_the_span_as_written(zh, text, kind, term):
    assert (kind, term) in _found(zh, text)


@pytest.mark.parametrize("text,kind,term", [
    ("b e s t in the world quality", "absolute_term", "b e s t in the world"),
    ("The W-O-R-L-D-S best serum", "absolute_term", "W-O-R-L-D-S best"),
    ("Message me on w h a t s a p p", "diversion", "w h a t s a p p"),
    ("Call me at 415-555-0132", "diversion", "415-555-0132"),
    ("Call me at +44 7911 123456", "diversion", "+44 7911 123456"),
    ("This supplement cures arthritis", "efficacy_claim", "cures"),
    ("It treats diabetes", "efficacy_claim", "treats diabetes"),
])
def test_en_claims_and_evasions(en, text, kind, term):
    assert (kind, term) in _found(en, text)


SEPARATORS = [" ", ".", "*", "🔥", "～", "/", "  ", "·", "_"]
PHRASES = [("全网最低", "absolute_term"), ("国家级", "absolute_term"), ("降血压", "efficacy_claim"),
           ("私下转账", "diversion"), ("微信", "diversion")]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PHRASES), st.lists(st.sampled_from(SEPARATORS), min_size=5, max_size=5),
       st.sampled_from(["", "家人们", "今天 "]), st.sampled_from(["", "！", "，快来"]))
def test_any_separator_between_characters_is_seen_through(phrase_kind, seps, prefix, suffix):
    phrase, kind = phrase_kind
    spread = "".join(ch + (seps[i] if i < len(phrase) - 1 else "") for i, ch in enumerate(phrase))
    text = prefix + spread + suffix
    checker = ComplianceChecker(category="food", platform="douyin")
    assert (kind, spread) in _found(checker, text)


# ------------------------------------------------------------------------------ hard negatives

HARMLESS_ZH = [
    # a fabric composition is a fact (the demo flagged the sample room's 百分之百桑蚕丝 before)
    "这条连衣裙是百分之百桑蚕丝的面料", "百分百的纯棉", "100%羊绒大衣",
    # harmless senses of the same characters
    "这是今年的最新款", "第一批货已经发完了", "第一件原价，第二件半价", "唯一的遗憾是颜色少了点", "最少买一件就包邮",
    "最近天气冷了多穿点", "第一次来直播间的宝宝点个关注", "最后一件了，要的抓紧", "最好先量一下自己的尺码",
    "第一时间给大家发货", "面料是百分之百纯棉", "安全第一", "唯一不爽的就是声音小",
    "及时沟通，便没什么了",  # 通便 across a comma is no claim
    # homophones of 微信 that are ordinary words, with no contact cue
    "为新人准备了优惠券", "这是专为新手设计的", "每位新进来的宝宝",
    # negation and reported speech
    "我们不能说是最好的，但是性价比很高", "不敢说第一，只能说用心做", "广告法不让说最，大家自己体会",
    "我们不说全网最低", "这个词广告法不能说", "不要私下转账，谨防被骗", "大家千万不要加微信，直接在小黄车拍",
    # ordinary numbers are not phone numbers
    "价格是198元，今天下单送围巾", "库存还有100件", "今天十二月四号十点开抢", "加入粉丝团领券",
]


@pytest.mark.parametrize("text", HARMLESS_ZH)
def test_zh_harmless_senses_negation_and_reported_speech_are_not_flagged(zh, text):
    assert _found(zh, text) == []


@pytest.mark.parametrize("text", [
    "Best seller of the week", "Secure checkout through the shop tab", "Top 10 picks this week",
    "I can't say it's the best in the world, but I love it", "We're not allowed to say it cures anything",
    "Dog treats are back in stock", "Size 10 fits true",
])
def test_en_harmless_lines_are_not_flagged(en, text):
    assert _found(en, text) == []


def test_negation_does_not_reach_across_but_or_a_new_clause(zh):
    assert ("absolute_term", "最好") in _found(zh, "不敢说第一，但是品质最好")
    assert ("absolute_term", "最好") in _found(zh, "不敢说第一但是品质最好")  # ASR text has no punctuation
    assert ("absolute_term", "最低价") in _found(zh, "不要错过，今天最低价")  # 不要错过 exhorts, does not negate


def test_a_phone_number_stays_a_violation_even_after_a_negation(zh):
    assert ("diversion", "13812345678") in _found(zh, "不要打13812345678")


def test_homophone_needs_a_contact_cue_but_the_real_word_does_not(zh):
    assert _found(zh, "品牌威信") == []
    assert [k for k, _ in _found(zh, "品牌微信")] == ["diversion"]


def test_overlapping_hits_of_one_kind_become_one_violation(zh):
    assert _found(zh, "这款是全网最低价") == [("absolute_term", "全网最低价")]


def test_original_offsets_survive_multi_character_normalisation(zh):
    # ⑩ normalises to two characters, 🔥 to none: spans must still index the original string
    text = "⑩号链接🔥全🔥网🔥最🔥低"
    assert ("absolute_term", "全🔥网🔥最🔥低") in _found(zh, text)


# ------------------------------------------------------------------------------ packs

def test_every_shipped_category_and_platform_loads():
    assert {"apparel", "beauty", "food", "electronics", "health"} <= set(list_categories())
    assert {"douyin", "kuaishou", "taobao", "xiaohongshu", "wechat_channels", "tiktok", "youtube_shorts"} <= set(
        list_platforms())
    for category in list_categories():
        for platform in list_platforms():
            assert ComplianceChecker(category=category, platform=platform).rules


def test_packs_compose_and_override():
    common_only = ComplianceChecker()
    food = ComplianceChecker(category="food")
    weight_common = next(v for v in common_only.check("这个能减肥") if v.kind == "efficacy_claim")
    weight_food = next(v for v in food.check("这个能减肥") if v.kind == "efficacy_claim")
    assert (weight_common.severity, weight_food.severity) == ("warning", "critical")
    # on WeChat Channels, WeChat is the platform itself; QQ is still off-platform
    channels = ComplianceChecker(platform="wechat_channels")
    assert channels.check("微信里也能看回放") == []
    assert ("diversion", "QQ") in _found(channels, "加我QQ")
    # naming another platform is diversion on Douyin, not in a room without a platform pack
    assert ComplianceChecker().check("拼多多上更便宜") == []
    assert [v.kind for v in ComplianceChecker(platform="douyin").check("拼多多上更便宜")] == ["diversion"]
    # the platform's language is the default language
    assert ComplianceChecker(platform="tiktok").language == "en"


def _copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def test_a_new_platform_is_a_yaml_file(tmp_path):
    rules = _copy_rules(tmp_path)
    (rules / "platform" / "bilibili.yaml").write_text(
        "pack: bilibili\nlayer: platform\nlanguage: zh\nrules:\n"
        "  - id: bilibili.diversion.other\n    kind: diversion\n    severity: warning\n"
        "    terms: [抖音]\n    law: 平台规则\n    suggestion: 在本站下单\n", encoding="utf-8")
    checker = ComplianceChecker(platform="bilibili", rules_dir=rules)
    assert [(v.rule, v.term) for v in checker.check("抖 音上也有")] == [("bilibili.diversion.other", "抖 音")]


@pytest.mark.parametrize("mutation,expected", [
    (("severity: critical", "severity: urgent", 1), "rules.0.severity"),
    (("    law: 《广告法》第九条第（三）项：广告不得使用“国家级”“最高级”“最佳”等用语\n", "", 1), "rules.0.law"),
    (("kind: absolute_term", "kind: rumour", 1), "rules.0.kind"),
    (("pack: zh", "pack: chinese", 1), "pack"),
    (("id: zh.absolute.lowest_price", "id: zh.absolute.superlative", 1), "appears twice"),
    (("match_on: digits", "match_on: digits\n    colour: red", 1), "colour"),
    (("patterns: ['(?<![0-9])1[3-9]", "patterns: ['(?<![0-9]1[3-9]", 1), "not a valid regular expression"),
])
def test_a_broken_rule_file_fails_with_one_line_naming_file_and_field(tmp_path, mutation, expected):
    rules = _copy_rules(tmp_path)
    path = rules / "common" / "zh.yaml"
    old, new, count = mutation
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    with pytest.raises(RulePackError) as info:
        ComplianceChecker(rules_dir=rules)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message and expected in message


def test_unknown_category_or_platform_lists_the_known_ones():
    with pytest.raises(RulePackError, match="known categories: apparel, beauty"):
        ComplianceChecker(category="spaceships")
    with pytest.raises(RulePackError, match="known platforms: douyin"):
        ComplianceChecker(platform="myspace")
    with pytest.raises(RulePackError, match="known languages"):
        ComplianceChecker(language="fr")


def test_bad_input_gives_a_result_not_a_crash(zh):
    for text in ["", " ", "\x00\x01\ufffd", "😀" * 1000, "mixed 混合 text ١٢٣ Ελληνικά 全网最低",
                 "全网最低" * 5000, "\ud800 lone surrogate"]:
        assert isinstance(zh.check(text), list)
