"""Masking personal data in chat text, and pseudonymised viewer ids."""

from __future__ import annotations

import pytest

from models.compliance.privacy import find_personal_data, id_card_checksum_ok, mask_personal_data, pseudonymise


@pytest.mark.parametrize("text,masked", [
    ("我电话13812345678", "我电话[电话]"),
    ("电话 138-1234-5678 随时打", "电话 [电话] 随时打"),
    ("幺三八 幺二三四 五六七八 打给我", "[电话] 打给我"),
    ("①③⑧①②③④⑤⑥⑦⑧", "[电话]"),
    ("座机 0755-8888 6666", "座机 [电话]"),
    ("加我微信 abc_12345，谢谢", "加我微信 [微信号]，谢谢"),
    ("vx：wxid_Ab12cd 备注直播间", "vx：[微信号] 备注直播间"),
    ("薇信号是 lucky-girl88", "薇信号是 [微信号]"),
    ("QQ 12345678", "QQ [QQ号]"),
    ("扣扣号幺二三四五六七", "扣扣号[QQ号]"),
    ("身份证号 11010519491231002X 帮我查下", "身份证号 [身份证号] 帮我查下"),
    ("邮箱 shop.owner+live@example.com.cn 谢谢", "邮箱 [邮箱] 谢谢"),
    ("寄到北京市朝阳区建国路88号3号楼1201室，谢谢", "寄到[地址]，谢谢"),
    ("我住在上海市浦东新区张江路100号", "我住在[地址]"),
])
def test_zh_personal_data_is_masked_and_the_rest_kept(text, masked):
    assert mask_personal_data(text)[0] == masked


@pytest.mark.parametrize("text,masked", [
    ("call me at +1 (415) 555-0132 tonight", "call me at [phone] tonight"),
    ("my wechat is Lucky_2024 ok", "my wechat is [wechat] ok"),
    ("email jane.doe@example.org please", "email [email] please"),
    ("ship to 221 Baker Street, Apt 4B please", "ship to [address] please"),
])
def test_en_personal_data_is_masked(text, masked):
    assert mask_personal_data(text, language="en")[0] == masked


@pytest.mark.parametrize("text", [
    "这件衣服多少钱", "第一批货 99元 库存100件", "今天2026年12月4日", "三件八折，只要一百九十九", "165cm 穿M码",
    "身份证号 110105194912310021 不对",  # wrong check digit: not an ID number
    "这条路很好走", "微信支付可以吗", "What size for 165 cm?", "",
])
def test_text_without_personal_data_is_unchanged(text):
    assert mask_personal_data(text) == (text, [])


def test_spans_index_the_original_text():
    text = "电话：幺三八 1234 5678，微信 abc_12345"
    masked, spans = mask_personal_data(text)
    assert [(s.kind, text[s.start:s.end]) for s in spans] == [("phone", "幺三八 1234 5678"), ("wechat", "abc_12345")]
    assert masked == "电话：[电话]，微信 [微信号]"


def test_an_id_number_is_masked_once_not_as_a_phone_inside_it():
    spans = find_personal_data("11010519491231002X")
    assert [s.kind for s in spans] == ["id_card"]


def test_id_card_checksum():
    assert id_card_checksum_ok("11010519491231002X")  # the GB 11643 example number
    assert id_card_checksum_ok("11010519491231002x")
    assert not id_card_checksum_ok("110105194912310021")
    assert not id_card_checksum_ok("1101051949123100")


def test_pseudonymise_is_stable_per_room_and_differs_across_rooms_and_secrets():
    a = pseudonymise("viewer-42", "room-1", "secret-one")
    assert a == pseudonymise("viewer-42", "room-1", "secret-one")
    assert len(a) == 16 and int(a, 16) >= 0
    assert a != pseudonymise("viewer-42", "room-2", "secret-one")
    assert a != pseudonymise("viewer-43", "room-1", "secret-one")
    assert a != pseudonymise("viewer-42", "room-1", "secret-two")
    assert "viewer-42" not in a
    # the separator keeps ("ab", "c") and ("a", "bc") apart
    assert pseudonymise("c", "ab", "k") != pseudonymise("bc", "a", "k")
    assert len(pseudonymise("观众", "直播间", b"k", length=32)) == 32


def test_pseudonymise_needs_a_secret():
    with pytest.raises(ValueError):
        pseudonymise("u", "r", "")
