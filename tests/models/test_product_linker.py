"""Linking a sentence to the room's product: aliases, link numbers, pinyin homophones, words."""

from __future__ import annotations

import json

import pytest

from models.understanding.product_linker import CatalogError, ProductLinker, load_catalog

SAMPLE = """
products:
  - id: dress-01
    link: 1
    name: {zh: 桑蚕丝中长款连衣裙, en: Mulberry Silk Midi Dress}
    aliases: {zh: [桑蚕丝连衣裙, 连衣裙], en: [silk dress, silk midi dress]}
  - id: jeans-03
    link: 3
    name: {zh: 高腰直筒牛仔裤, en: High-Rise Straight Jeans}
    aliases: {zh: [牛仔裤], en: [jeans]}
"""


@pytest.fixture(scope="module")
def linker(tmp_path_factory) -> ProductLinker:
    path = tmp_path_factory.mktemp("catalog") / "room.yaml"
    path.write_text(SAMPLE, encoding="utf-8")
    return ProductLinker.from_file(path)


@pytest.mark.parametrize("text, product, method, named", [
    ("这条桑蚕丝连衣裙垂感特别好", "dress-01", "alias", "桑蚕丝连衣裙"),
    ("这个连衣裙显瘦", "dress-01", "alias", "连衣裙"),
    ("桑残丝连衣裙今天到手价129", "dress-01", "pinyin", "桑残丝连衣裙"),  # an ASR homophone
    ("三号链接今天有券", "jeans-03", "link_number", "三号链接"),
    ("3号链接", "jeans-03", "link_number", "3号链接"),
    ("link 1 is back in stock", "dress-01", "link_number", "link 1"),
    ("Link number one is up, place your order now!", "dress-01", "link_number", "Link number one"),  # as spoken
    ("link #3 has a coupon", "jeans-03", "link_number", "link #3"),
    ("These JEANS fit so well", "jeans-03", "alias", "JEANS"),
    ("the silk midi is only 129 today", "dress-01", "words", "silk midi"),
])
def test_links_the_product_and_the_words_that_named_it(linker, text, product, method, named):
    found = linker.link(text)
    assert found is not None and found.product_id == product and found.method == method
    assert text[found.start:found.end] == named


@pytest.mark.parametrize("text", ["", "欢迎宝宝们", "😍😍", "99 today", "九号链接", "x" * 20000, "abc\x00\x7f"])
def test_nothing_named_links_nothing(linker, text):
    assert linker.link(text) is None


def test_the_shipped_sample_catalog_loads():
    from pathlib import Path

    import models.understanding.catalogs as catalogs

    products = load_catalog(Path(catalogs.__file__).parent / "sample_room.yaml")
    assert products[0].id == "dress-01" and products[0].name_zh and products[0].name_en


def test_json_catalog(tmp_path):
    path = tmp_path / "room.json"
    path.write_text(json.dumps({"products": [{"id": "p1", "name": {"zh": "羊绒开衫", "en": "Cashmere Cardigan"}}]},
                               ensure_ascii=False), encoding="utf-8")
    assert ProductLinker.from_file(path).link("this cashmere cardigan is soft").product_id == "p1"


@pytest.mark.parametrize("content, message", [
    ("products:\n  - id: a\n    name: {zh: 裙}\n  - id: a\n    name: {zh: 裤}\n", "duplicate id 'a'"),
    ("products:\n  - name: {zh: 裙}\n", "products.0.id"),
    ("products:\n  - id: a\n    name: {zh: 裙}\n    colour: red\n", "products.0.colour"),
    ("products:\n  - id: a\n    name: {zh: 裙}\n    link: 0\n", "products.0.link"),
    ("products: [\n", "not valid YAML"),
])
def test_bad_catalogs_name_the_field(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError, match="bad.yaml: .*" + message.replace(".", r"\.")):
        load_catalog(path)
