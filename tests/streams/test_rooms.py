"""The room config file: declared languages and categories, schema-checked at load."""

from __future__ import annotations

import pytest

from streams.rooms import RoomConfigError, load_rooms, room_catalog, room_language


def test_rooms_file_declares_languages(tmp_path):
    path = tmp_path / "rooms.yaml"
    path.write_text("rooms:\n  sample-zh: {language: zh-CN, category: apparel}\n  night-en: {language: en}\n"
                    "  guess: {language: auto}\n", encoding="utf-8")
    rooms = load_rooms(path)
    assert rooms["sample-zh"].language == "zh" and rooms["sample-zh"].category == "apparel"
    assert room_language(path, "guess") == "auto" and room_language(path, "unknown-room") == ""
    assert room_language(None, "sample-zh") == ""


@pytest.mark.parametrize(("text", "message"), [
    ("rooms:\n  r1: {language: fr}\n", "rooms.r1.language: unknown language 'fr'"),
    ("rooms:\n  r1: {lang: zh}\n", "rooms.r1.lang: Extra inputs are not permitted"),
    ("rooms: [oops\n", "not valid YAML"),
])
def test_bad_rooms_file_is_a_one_line_error_naming_the_file_and_field(tmp_path, text, message):
    path = tmp_path / f"rooms-{abs(hash(text))}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RoomConfigError) as err:
        load_rooms(path)
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_rooms_file_is_a_clear_error(tmp_path):
    with pytest.raises(RoomConfigError, match="cannot read the room config file"):
        load_rooms(tmp_path / "nope.yaml")


def test_a_rooms_catalog_is_read_from_the_rooms_files_folder(tmp_path):
    path = tmp_path / "rooms.yaml"
    path.write_text("rooms:\n  sample-zh: {language: zh, catalog: catalogs/sample.yaml}\n"
                    "  abs-en: {catalog: /srv/catalogs/en.yaml}\n  plain: {language: en}\n", encoding="utf-8")
    assert room_catalog(path, "sample-zh") == tmp_path / "catalogs" / "sample.yaml"
    assert str(room_catalog(path, "abs-en")) == "/srv/catalogs/en.yaml"
    assert room_catalog(path, "plain") is None and room_catalog(path, "unknown") is None
    assert room_catalog(None, "sample-zh") is None
