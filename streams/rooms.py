"""Room config file: what an operator declares about each room ahead of time (YAML, optional).

``LIVELENS_ROOMS_FILE=rooms.yaml``::

    rooms:
      sample-zh:
        language: zh        # zh, en or auto (identified from the first seconds of speech)
        category: apparel   # the taxonomy its selling points are classified with
        platform: douyin    # the platform rule pack its compliance checks use
        catalog: catalogs/sample.yaml  # its products (a relative path: from this file's folder)
      brand-night-en:
        language: en

Precedence of a room's language (models/asr/language.py ``choose_room_language``): the per-room
override in settings (``LIVELENS_ASR__ROOM_LANGUAGES``), then the language declared at ingest
(``livelens ingest --lang``, ``POST /ingest/{room}/start {"language": …}``, carried on the room's
events), then this file, then ``LIVELENS_ASR__LANGUAGE``. Ingest also declares this file's
language for a room when no ``--lang`` is given, so every event says it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.data_files import load_yaml_model
from streams.schemas import parse_room_language


class RoomConfigError(ValueError):
    """A room config file that cannot be used; the message is one line naming the file and field."""


class RoomConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = ""
    category: str = ""
    platform: str = ""  # douyin, kuaishou, taobao … : the compliance rule pack of the room
    catalog: str = ""  # the room's product catalog file (selling points name its products)

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        return parse_room_language(v) if v else ""


class RoomsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rooms: dict[str, RoomConfig] = Field(default_factory=dict)


def load_rooms(path: Path | str | None) -> dict[str, RoomConfig]:
    """The rooms of ``path`` (None: no file, no rooms). Raises :class:`RoomConfigError`."""
    if not path:
        return {}
    return dict(_load(str(path)).rooms)


@lru_cache(maxsize=8)
def _load(path: str) -> RoomsFile:
    return load_yaml_model(path, RoomsFile, RoomConfigError, what="the room config file")


def room_language(rooms_file: Path | str | None, room_id: str) -> str:
    """The language ``rooms_file`` declares for ``room_id`` ("" when none)."""
    room = load_rooms(rooms_file).get(room_id)
    return room.language if room else ""


def room_catalog(rooms_file: Path | str | None, room_id: str) -> Path | None:
    """The catalog file ``rooms_file`` names for ``room_id`` (None when none)."""
    room = load_rooms(rooms_file).get(room_id)
    if not room or not room.catalog:
        return None
    path = Path(room.catalog)
    return path if path.is_absolute() else Path(rooms_file).parent / path
