"""Link a transcript sentence or chat message to the room's product it is about.

The room's catalog is data (YAML or JSON, see catalogs/sample_room.yaml): per product an id,
a zh and en name, aliases in both languages, and optionally the shop link number the host calls
out ("3号链接"). ``ProductLinker.link(text)`` is pure: text in, the best ``ProductLink`` (or None)
out, with the character span that named the product. Three ways to match, strongest first:

- the link number ("三号链接", "link 3");
- an alias or name as a substring (NFKC, lower case; English on word boundaries);
- the same in toneless pinyin, so ASR homophones still link ("桑残丝" for 桑蚕丝); needs
  ``pypinyin``, skipped without it;
- English aliases by their words: most of an alias's words present ("the silk midi").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from models.data_files import read_yaml, validate
from models.understanding.text import normalise, safe_text

_CJK_RE = re.compile(r"[\u3400-\u9fff]")
_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_EN_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
               "nine": 9, "ten": 10}
# "3号链接", "link 3", "link #3", and as hosts say it (and ASR writes it): "link number three"
_LINK_RE = re.compile(r"(\d{1,3}|[一二两三四五六七八九十]{1,3})\s*号\s*(?:链接|宝贝|商品|车)"
                      r"|\blink\s*(?:number\s*|no\.?\s*|#\s*)?(\d{1,3}|" + "|".join(_EN_NUMBERS) + r")\b")
_WORD_RE = re.compile(r"[a-z0-9]+")

SCORE_LINK_NUMBER = 1.0
SCORE_EXACT = 0.95
SCORE_PINYIN = 0.85
SCORE_WORDS = 0.75  # x the share of the alias's words found
MIN_SCORE = 0.5


class _Names(BaseModel):
    model_config = {"extra": "forbid"}
    zh: str = ""
    en: str = ""


class _Aliases(BaseModel):
    model_config = {"extra": "forbid"}
    zh: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)


class _Product(BaseModel):
    model_config = {"extra": "forbid"}
    id: str
    name: _Names
    aliases: _Aliases = Field(default_factory=_Aliases)
    link: int | None = Field(default=None, ge=1, le=999)

    @field_validator("id")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v


class _CatalogFile(BaseModel):
    model_config = {"extra": "forbid"}
    products: list[_Product]


class CatalogError(ValueError):
    """The catalog file is missing or malformed (the message names the file and field)."""


@dataclass(frozen=True)
class Product:
    id: str
    name_zh: str
    name_en: str
    aliases: tuple[str, ...]  # names and aliases, zh and en, as written
    link: int | None = None


@dataclass(frozen=True)
class ProductLink:
    product_id: str
    name_zh: str
    name_en: str
    score: float
    start: int  # text[start:end] named the product (offsets into the cleaned text)
    end: int
    method: str  # link_number | alias | pinyin | words
    alias: str

    def to_dict(self) -> dict:
        return {"product_id": self.product_id, "name_zh": self.name_zh, "name_en": self.name_en,
                "score": self.score, "start": self.start, "end": self.end, "method": self.method,
                "alias": self.alias}


def load_catalog(path: Path | str) -> list[Product]:
    """Products from a YAML or JSON catalog; a bad file fails with one line naming file and field."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CatalogError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None
    else:
        data = read_yaml(path, CatalogError, default={})
    parsed = validate(_CatalogFile, data if data is not None else {}, path, CatalogError)
    ids = [p.id for p in parsed.products]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CatalogError(f"{path}: products: duplicate id {dupes[0]!r}")
    return [Product(p.id, p.name.zh, p.name.en,
                    tuple(a for a in [p.name.zh, p.name.en, *p.aliases.zh, *p.aliases.en] if a.strip()), p.link)
            for p in parsed.products]


@lru_cache(maxsize=1)
def _pinyin_module():
    try:
        import pypinyin
    except ImportError:  # optional: the linker still matches aliases exactly
        return None
    return pypinyin


@lru_cache(maxsize=4096)
def _char_pinyin(ch: str) -> str:
    pypinyin = _pinyin_module()
    return pypinyin.lazy_pinyin(ch)[0] if pypinyin and _CJK_RE.match(ch) else ch


def _syllables(text: str) -> list[str]:
    """One entry per character: toneless pinyin for a Chinese character, the character else."""
    return [_char_pinyin(ch) for ch in text]


def _zh_number(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    if token == "十":
        return 10
    if len(token) == 2 and token[0] == "十":
        return 10 + _ZH_DIGITS.get(token[1], 0)
    if len(token) >= 2 and token[-1] == "十":
        return _ZH_DIGITS.get(token[0], 0) * 10
    if len(token) == 3 and token[1] == "十":
        return _ZH_DIGITS.get(token[0], 0) * 10 + _ZH_DIGITS.get(token[2], 0)
    return _ZH_DIGITS.get(token) if len(token) == 1 else None


class ProductLinker:
    """text -> the catalog product it names (or None). Pure; the catalog is loaded once."""

    def __init__(self, products: list[Product], min_score: float = MIN_SCORE, max_chars: int = 512) -> None:
        self.products = list(products)
        self.min_score = min_score
        self.max_chars = max_chars
        self._by_link = {p.link: p for p in self.products if p.link is not None}
        # (normalised alias, alias as written, product), longest first: the most specific wins
        self._aliases: list[tuple[str, str, Product]] = sorted(
            ((normalise(a), a, p) for p in self.products for a in p.aliases), key=lambda x: -len(x[0]))
        self._pinyin_aliases = [(_syllables(n), a, p) for n, a, p in self._aliases if _CJK_RE.search(n) and len(n) >= 2]

    @classmethod
    def from_file(cls, path: Path | str, **kwargs) -> ProductLinker:
        return cls(load_catalog(path), **kwargs)

    def link(self, text: str) -> ProductLink | None:
        clean = safe_text(text, self.max_chars)
        if not clean or not self.products:
            return None
        norm = normalise(clean)
        aligned = len(norm) == len(clean)  # offsets into norm are offsets into clean
        by_alias, by_pinyin = self._by_alias(norm), self._by_pinyin(norm)
        # a longer name heard as homophones beats a shorter exact alias: "桑残丝连衣裙" is the
        # 桑蚕丝连衣裙, not just any 连衣裙
        if by_alias is not None and by_pinyin is not None and by_pinyin.end - by_pinyin.start <= by_alias.end - by_alias.start:
            by_pinyin = None
        for found in (self._by_link_number(norm), by_pinyin, by_alias, self._by_words(norm)):
            if found is not None and found.score >= self.min_score:
                if not aligned:
                    found = ProductLink(**{**found.__dict__, "start": 0, "end": len(clean)})
                return found
        return None

    # --- the matchers, strongest first -----------------------------------------------------

    def _make(self, product: Product, score: float, start: int, end: int, method: str, alias: str) -> ProductLink:
        return ProductLink(product.id, product.name_zh, product.name_en, round(score, 4), start, end, method, alias)

    def _by_link_number(self, norm: str) -> ProductLink | None:
        for m in _LINK_RE.finditer(norm):
            number = _zh_number(m.group(1)) if m.group(1) else _EN_NUMBERS.get(m.group(2)) or int(m.group(2))
            product = self._by_link.get(number)
            if product is not None:
                return self._make(product, SCORE_LINK_NUMBER, m.start(), m.end(), "link_number", m.group(0))
        return None

    def _by_alias(self, norm: str) -> ProductLink | None:
        best: tuple[int, int, tuple] | None = None  # (-length, position) smallest wins
        for alias_norm, alias, product in self._aliases:
            if _CJK_RE.search(alias_norm):
                pos = norm.find(alias_norm)
            else:
                m = re.search(r"(?<![a-z0-9])" + re.escape(alias_norm) + r"(?![a-z0-9])", norm)
                pos = m.start() if m else -1
            if pos >= 0:
                key = (-len(alias_norm), pos)
                if best is None or key < best[:2]:
                    best = (key[0], key[1], (product, pos, pos + len(alias_norm), alias))
        if best is None:
            return None
        product, start, end, alias = best[2]
        return self._make(product, SCORE_EXACT, start, end, "alias", alias)

    def _by_pinyin(self, norm: str) -> ProductLink | None:
        if not self._pinyin_aliases or _pinyin_module() is None or not _CJK_RE.search(norm):
            return None
        syllables = _syllables(norm)
        for alias_syllables, alias, product in self._pinyin_aliases:  # longest first
            n = len(alias_syllables)
            for i in range(len(syllables) - n + 1):
                if syllables[i:i + n] == alias_syllables:
                    return self._make(product, SCORE_PINYIN, i, i + n, "pinyin", alias)
        return None

    def _by_words(self, norm: str) -> ProductLink | None:
        words = [(m.group(0), m.start(), m.end()) for m in _WORD_RE.finditer(norm)]
        if not words:
            return None
        present = {w for w, _, _ in words} | {w[:-1] for w, _, _ in words if w.endswith("s")}
        best: ProductLink | None = None
        for alias_norm, alias, product in self._aliases:
            alias_words = _WORD_RE.findall(alias_norm)
            if len(alias_words) < 2 or _CJK_RE.search(alias_norm):
                continue  # one-word aliases already had their exact chance
            hit = [w for w in alias_words if w in present]
            share = len(hit) / len(alias_words)
            if share < 0.6:
                continue
            spans = [(s, e) for w, s, e in words if w in hit or (w.endswith("s") and w[:-1] in hit)]
            found = self._make(product, SCORE_WORDS * share, min(s for s, _ in spans), max(e for _, e in spans),
                               "words", alias)
            if best is None or found.score > best.score:
                best = found
        return best
