"""Text normalisation for the compliance detector, keeping a map back to the original text.

Evasions change the surface of a phrase but not what a viewer reads: full-width letters,
circled digits, traditional characters, spaces, dots or emoji between characters, look-alike
characters. The *skeleton* of a text undoes them all, one original character at a time, so every
skeleton character knows the original character it came from:

    全.网.最.低  ->  skeleton "全网最低", origin [0, 2, 4, 6]
    ＶＸ：abc    ->  skeleton "vxabc"
    國家級       ->  skeleton "国家级"

Separators (spaces, punctuation, symbols, emoji, control and combining characters) are dropped;
``+`` becomes 加 (so ``+v`` reads like 加v). ``digits`` is the skeleton with Chinese numerals
(一 幺 两 ... 零 洞 拐 勾) turned into ASCII digits, for phone and account numbers; it has the
same length, so one index map serves both.

The look-alike and numeral tables are data (``normalise.yaml``), checked at load.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from models.data_files import load_yaml_model

NORMALISE_FILE = Path(__file__).resolve().parent / "normalise.yaml"

#: separators whose presence ends a clause (negation does not reach across them)
CLAUSE_BREAKS = frozenset("，。！？；,!?;\n\r…")
#: characters kept although their Unicode category is a symbol or punctuation
_KEEP = frozenset("%#@")
_DROP_CATEGORIES = ("Z", "P", "S", "C", "M")


class NormaliseTableError(ValueError):
    """``normalise.yaml`` is malformed (the message names the file and field)."""


class _Tables(BaseModel):
    model_config = ConfigDict(extra="forbid")
    look_alikes: dict[str, str]
    numerals: dict[str, str]

    @field_validator("look_alikes")
    @classmethod
    def _single_chars(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if len(key) != 1:
                raise ValueError(f"key {key!r} must be one character")
        return value

    @field_validator("numerals")
    @classmethod
    def _digits(cls, value: dict[str, str]) -> dict[str, str]:
        for key, digit in value.items():
            if len(key) != 1 or digit not in "0123456789" or len(digit) != 1:
                raise ValueError(f"{key!r}: {digit!r} must map one character to one digit")
        return value


@lru_cache(maxsize=4)
def load_tables(path: Path = NORMALISE_FILE) -> _Tables:
    return load_yaml_model(path, _Tables, NormaliseTableError)


@lru_cache(maxsize=1)
def _traditional_to_simplified() -> dict[str, str]:
    """OpenCC's character table (shipped with opencc-python-reimplemented), first candidate."""
    try:
        import opencc
    except ImportError:  # optional: traditional spellings then stay as they are
        return {}
    table_path = Path(opencc.__file__).resolve().parent / "dictionary" / "TSCharacters.txt"
    table: dict[str, str] = {}
    for line in table_path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1:
            first = parts[1].split(" ")[0]
            if len(first) == 1:
                table[parts[0]] = first
    return table


class _CharForms(dict):
    """original character -> its skeleton form ('' for a separator); filled on first sight."""

    def __init__(self) -> None:
        super().__init__()
        tables = load_tables()
        self.look_alikes = tables.look_alikes
        self.t2s = _traditional_to_simplified()

    def __missing__(self, ch: str) -> str:
        form = self[ch] = self._form(ch)
        return form

    def _form(self, ch: str) -> str:
        if ch in self.look_alikes:
            return self.look_alikes[ch]
        if ch == "+" or ch == "＋":
            return "加"
        if 0x1F200 <= ord(ch) <= 0x1F2FF:  # emoji-style enclosed ideographs (🉐) are decoration
            return ""
        if not ch.isascii():
            digit = unicodedata.digit(ch, None)  # ① ❶ ➀ ⓵ ２ ...
            if digit is not None:
                return str(digit)
        out = []
        for c in unicodedata.normalize("NFKC", ch).lower():
            c = self.look_alikes.get(c, self.t2s.get(c, c))
            if c in _KEEP or not unicodedata.category(c).startswith(_DROP_CATEGORIES):
                out.append(c)
        return "".join(out)


@lru_cache(maxsize=1)
def _char_forms() -> _CharForms:
    return _CharForms()


@lru_cache(maxsize=1)
def _numeral_table() -> dict[int, str]:
    return {ord(k): v for k, v in load_tables().numerals.items()}


@dataclass(frozen=True)
class Skeleton:
    """A normalised text with, per character, where it came from in the original."""

    original: str
    text: str
    digits: str
    #: original index of each skeleton character
    origin: tuple[int, ...]
    #: True where at least one separator stood between this character and the previous one
    gap_before: tuple[bool, ...]
    #: clause number of each character (clauses end at 。，！？ and the like)
    clause: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of the skeleton range [start, end) (end > start)."""
        return self.origin[start], self.origin[end - 1] + 1


def normalise_term(term: str) -> str:
    """A rule's term in skeleton form (what it is matched against)."""
    forms = _char_forms()
    return "".join(forms[ch] for ch in term)


def _ends_sentence(text: str, i: int) -> bool:
    rest = text[i + 1 : i + 4].lstrip()
    return i == len(text) - 1 or (text[i + 1].isspace() and not rest[:1].isdigit())


def skeleton(text: str) -> Skeleton:
    forms = _char_forms()
    chars: list[str] = []
    origin: list[int] = []
    gaps: list[bool] = []
    clauses: list[int] = []
    gap = False
    clause = 0
    for i, ch in enumerate(text):
        form = forms[ch]
        if not form:
            gap = True
            # a dot ends a sentence only before a space and not before a digit (全.网.最.低 and
            # "No. 1" stay one clause)
            if ch in CLAUSE_BREAKS or (ch == "." and _ends_sentence(text, i)):
                clause += 1
            continue
        for c in form:
            chars.append(c)
            origin.append(i)
            gaps.append(gap)
            clauses.append(clause)
            gap = False
    joined = "".join(chars)
    return Skeleton(text, joined, joined.translate(_numeral_table()), tuple(origin), tuple(gaps), tuple(clauses))
