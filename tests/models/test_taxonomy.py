"""Taxonomy YAML: shipped categories load; users add categories/classes as data; bad files fail clearly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from models.taxonomy import TaxonomyError, list_categories, load_taxonomy

APPAREL_REQUIRED = {"fabric_material", "drape", "skin_feel", "fit_cut", "color_pattern", "size_guidance", "craftsmanship"}
SHARED_REQUIRED = {"price_promotion", "chit_chat", "call_to_action", "function_effect", "before_after"}


def test_shipped_categories_load_with_shared_classes():
    categories = list_categories()
    assert {"apparel", "beauty", "electronics", "food"} <= set(categories)
    assert "common" not in categories  # shared file, not a category
    for category in categories:
        taxonomy = load_taxonomy(category)
        assert SHARED_REQUIRED <= set(taxonomy.class_names), category
        assert taxonomy.fallback in taxonomy.class_names
        for cls in taxonomy.classes:
            assert cls.name_zh and cls.name_en and cls.description
            assert cls.keywords["zh"] and cls.keywords["en"], cls.name
            assert len(cls.examples["zh"]) >= 2 and len(cls.examples["en"]) >= 2, cls.name


def test_apparel_has_the_required_selling_points():
    assert APPAREL_REQUIRED <= set(load_taxonomy("apparel").class_names)


def _write(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.yaml").write_text(textwrap.dedent(body), encoding="utf-8")


NEW_CATEGORY = """
    category: toys
    name_zh: 玩具
    name_en: Toys
    include: [common]
    classes:
      - name: safety
        name_zh: 安全
        name_en: Safety
        description: Materials are safe for children.
        keywords: {zh: [安全, 无毒], en: [safe, non-toxic]}
        examples:
          zh: [材料无毒，宝宝啃也不怕, 通过了安全检测]
          en: [It is non-toxic and safe for babies]
      - name: price_promotion
        name_zh: 玩具价格
        name_en: Toy price
        description: Overrides the shared class.
        keywords: {zh: [价格], en: [price]}
        examples: {zh: [今天玩具特价, 玩具只要九块九]}
"""


def test_user_adds_a_category_without_code(tmp_path):
    _write(tmp_path, "toys", NEW_CATEGORY)
    assert "toys" in list_categories(tmp_path)
    taxonomy = load_taxonomy("toys", tmp_path)
    assert taxonomy.class_names[0] == "safety"
    assert SHARED_REQUIRED <= set(taxonomy.class_names)  # common.yaml merged from the built-in folder
    assert taxonomy.get("price_promotion").name_en == "Toy price"  # the category overrides the shared class

    from models.understanding.segment_classifier import SegmentClassifier

    result = SegmentClassifier(taxonomy, encoder=None).classify("这个玩具无毒很安全")
    assert result.label == "safety"
    assert "keyword:安全" in result.evidence


@pytest.mark.parametrize(
    "mutation, message",
    [
        (lambda s: s.replace("name: safety", "name: Safety!"), "'name' must match"),
        (lambda s: s.replace("    description: Materials are safe for children.\n", ""), "missing ['description']"),
        (lambda s: s.replace("include: [common]", "include: [nope]"), "no taxonomy file 'nope.yaml'"),
        (lambda s: s.replace("en: [safe, non-toxic]", "en: [safe, off]"), "keywords.en[1]"),  # YAML reads off as False
        (lambda s: s.replace("category: toys", "category: games"), "'category' must be 'toys'"),
        (lambda s: s.replace("name: price_promotion", "name: safety"), "duplicate class name"),
        (lambda s: s + "colour: red\n", "unknown top-level keys"),
        (lambda s: s.replace("examples: {zh: [今天玩具特价, 玩具只要九块九]}", "examples: {zh: [只有一句]}"), "at least 2 example"),
    ],
)
def test_invalid_files_fail_with_a_clear_message(tmp_path, mutation, message):
    _write(tmp_path, "toys", mutation(textwrap.dedent(NEW_CATEGORY)))
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy("toys", tmp_path)
    assert message in str(info.value)
    assert "toys" in str(info.value) or "nope" in str(info.value)


def test_unknown_category_lists_the_known_ones():
    with pytest.raises(TaxonomyError, match="known categories: apparel"):
        load_taxonomy("spaceships")
