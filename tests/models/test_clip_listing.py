"""Title, description and tags for posting: zh and en, no fillers, within the platform's limits."""

from __future__ import annotations

import pytest

from models.clips.listing import strip_fillers, write_listing

ZH = ("哈喽宝宝们，欢迎来到直播间！嗯，这条裙子就是说是百分之百桑蚕丝面料。那个二十二姆米重磅真丝，厚实不透。"
      "看这个垂感，走起来特别飘逸。")
EN = ("Hi everyone, welcome back to the live room! So, um, this dress is one hundred percent mulberry silk. "
      "Twenty two momme silk, you know, thick and not see through. Look at the drape, it flows when I walk.")
ZH_FILLERS = ["嗯", "那个", "就是说", "宝宝们", "哈喽"]
EN_FILLERS = [" um", "you know", "everyone"]


@pytest.mark.parametrize("limit", [55, 20, 16])
def test_zh_title_names_the_selling_point_within_the_limit(limit):
    listing = write_listing(ZH, lang="zh", product="桑蚕丝中长款连衣裙", selling_point="面料材质",
                            max_title_chars=limit, max_tags=5)
    assert 0 < len(listing.title) <= limit
    assert "桑蚕丝" in listing.title, "about the product, not the greeting"
    assert not any(f in listing.title or f in listing.description for f in ZH_FILLERS)
    assert "欢迎" not in listing.title and "直播间" not in listing.description
    assert listing.tags[0] == "面料材质" and len(listing.tags) <= 5 and len(set(listing.tags)) == len(listing.tags)
    assert all(" " not in t and "#" not in t for t in listing.tags)


def test_zh_long_limit_carries_the_product_name():
    listing = write_listing(ZH, lang="zh", product="桑蚕丝中长款连衣裙", selling_point="面料材质", max_title_chars=55)
    assert listing.title.endswith("｜桑蚕丝中长款连衣裙")


@pytest.mark.parametrize("limit", [100, 40, 25])
def test_en_title_within_the_limit_at_a_word_boundary(limit):
    listing = write_listing(EN, lang="en", product="Mulberry Silk Midi Dress", selling_point="Fabric / material",
                            max_title_chars=limit, max_tags=3)
    assert 0 < len(listing.title) <= limit
    words = set(EN.lower().replace(",", " ").replace(".", " ").replace("!", " ").split()) | {"|", "midi"}
    assert all(w.strip(",.").lower() in words for w in listing.title.split()), "no word cut in half"
    assert "silk" in listing.title.lower()
    assert not any(f in listing.title.lower() or f in listing.description.lower() for f in EN_FILLERS)
    assert len(listing.tags) <= 3 and all(t == t.lower() and t.isalnum() for t in listing.tags)


def test_description_within_its_limit_with_hashtags():
    listing = write_listing(EN, lang="en", product="Mulberry Silk Midi Dress", max_description_chars=120, max_tags=4)
    assert len(listing.description) <= 120
    assert all(f"#{t}" in listing.description for t in listing.tags)


def test_no_transcript_falls_back_to_the_product():
    assert write_listing("", lang="zh", product="桑蚕丝连衣裙", max_title_chars=20).title == "桑蚕丝连衣裙"
    assert write_listing("", lang="en").title == ""


def test_strip_fillers():
    assert strip_fillers("嗯那个宝宝们，就是说这个面料真的很好", "zh") == "这个面料真的很好"
    assert strip_fillers("So, um, like, this silk is really soft, you know.", "en") == "This silk is really soft."
    assert strip_fillers("Twenty two momme silk, you know, thick.", "en") == "Twenty two momme silk, thick."


# ---- compliance: flagged clauses leave the listing -------------------------------------------------

def _checker(lang):
    from models.compliance import ComplianceChecker

    checker = ComplianceChecker(language=lang)
    return lambda text: bool(checker.check(text))


def test_drop_flagged_zh_removes_absolute_claims():
    from models.clips.listing import drop_flagged, write_listing

    listing = write_listing("这款面霜百分之百有效，全网最低价，质地特别清爽。", lang="zh",
                            product="保湿面霜", selling_point="功效", max_title_chars=30)
    clean, dropped = drop_flagged(listing, _checker("zh"), fallback_title="功效")
    for text in (clean.title, clean.description, *clean.tags):
        assert "百分之百" not in text and "最" not in text, text
    assert "质地特别清爽" in clean.description
    assert clean.title  # something is left to post
    assert any("百分之百" in d for d in dropped) and any("最低" in d for d in dropped)


def test_drop_flagged_en_and_fallback_title():
    from models.clips.listing import Listing, drop_flagged

    flagged = _checker("en")
    bad = next(t for t in ("the best price ever", "100% guaranteed", "number one in the world", "cures acne")
               if flagged(t))
    listing = Listing(title=bad, description=f"Soft silk, breathable. {bad}.\n#silk", tags=("silk",))
    clean, dropped = drop_flagged(listing, flagged, fallback_title="Fabric")
    assert clean.title == "Fabric" and bad not in clean.description and "Soft silk" in clean.description
    assert clean.tags == ("silk",) and clean.description.endswith("#silk") and dropped


def test_drop_flagged_keeps_a_clean_listing():
    from models.clips.listing import drop_flagged, write_listing

    listing = write_listing("纯棉的，垂感好，今天到手价99。", lang="zh", product="纯棉T恤", selling_point="面料材质")
    assert drop_flagged(listing, _checker("zh")) == (listing, [])


def test_variants_take_the_next_hooks_zh_and_en():
    from models.clips.listing import write_listing

    zh = "这款连衣裙是真丝面料，垂感特别好。穿着很凉快，夏天也不闷。今天直播间到手价一百二十九元。"
    titles = [write_listing(zh, lang="zh", product="真丝连衣裙", selling_point="面料材质", max_title_chars=20,
                            variant=k).title for k in range(3)]
    assert len(set(titles)) == 3 and all(len(t) <= 20 for t in titles), titles
    assert titles[0] == write_listing(zh, lang="zh", product="真丝连衣裙", selling_point="面料材质",
                                      max_title_chars=20).title  # variant 0 is the plain listing
    en = "This dress is pure silk. It drapes beautifully and feels cool. Today it is only 129 dollars."
    titles = [write_listing(en, lang="en", product="silk dress", max_title_chars=40, variant=k).title for k in range(3)]
    assert len(set(titles)) == 3 and all(len(t) <= 40 for t in titles), titles


def test_the_listing_word_file_is_checked_at_load(tmp_path):
    from models.clips.listing import ListingWordsError, listing_words

    bad = tmp_path / "words.yaml"
    bad.write_text("zh_fillers: [嗯]\nengagement: ['关注(']\n", encoding="utf-8")
    with pytest.raises(ListingWordsError, match=r"words\.yaml: engagement: .*not a valid regular expression"):
        listing_words(bad)
    bad.write_text("zh_fillers: [嗯, ' ']\n", encoding="utf-8")
    with pytest.raises(ListingWordsError, match=r"zh_fillers: an empty entry"):
        listing_words(bad)
    good = tmp_path / "good.yaml"
    good.write_text("zh_fillers: [就是, 就是说]\nen_fillers: ['\\bum+\\b']\nengagement: ['关注']\n", encoding="utf-8")
    words = listing_words(good)
    assert words.zh_fillers == ("就是说", "就是")  # longest first
    assert words.engagement.search("点个关注") and not words.engagement.search("桑蚕丝")
    assert words.en_fillers.sub("", "this, umm, silk") == "this silk"


def test_the_shipped_listing_words_drive_the_fillers_and_the_hook_zh_and_en():
    from models.clips.listing import listing_words

    words = listing_words()
    assert {"宝宝们", "家人们", "就是说"} <= set(words.zh_fillers)
    assert words.engagement.search("欢迎新来的宝宝") and words.engagement.search("Don't forget to follow")
    zh = write_listing("欢迎新来的宝宝点个关注。这条裙子是桑蚕丝面料，垂感很好。", lang="zh", product="真丝连衣裙")
    assert "关注" not in zh.title and "桑蚕丝" in zh.title
    en = write_listing("Welcome, follow the room! This dress is mulberry silk with a lovely drape.", lang="en",
                       product="silk dress")
    assert "follow" not in en.title.lower() and "silk" in en.title.lower()
