"""Title, description and tags for a posted clip, written from its selling point, the product and
the transcript, in the room's language. Pure: strings in, a :class:`Listing` out.

    listing = write_listing(transcript, lang="zh", product="桑蚕丝中长款连衣裙",
                            selling_point="面料材质", max_title_chars=20, max_tags=5)

- filler words and livestream call-outs (zh: 嗯, 那个, 就是说, 宝宝们, 家人们; en: um, uh, you know,
  guys, ...) are removed before anything is written, and sentences that talk to the audience
  (follow, like, welcome) are never the hook: both lists are data, ``listing_words.yaml``;
- the title is ``<hook>｜<product>`` (en: ``<hook> | <product>``): the hook is the transcript
  sentence that carries the most key phrases (not a question), cut at a clause boundary to fit
  ``max_title_chars`` (characters, as platforms count them); when even that does not fit, the
  product name is dropped, then the hook is cut at a word boundary (en) or character (zh);
- tags: the selling point's name, then the product's and the transcript's key phrases (jieba
  TF-IDF for Chinese), deduplicated, at most ``max_tags``, without "#";
- the description: the cleaned sentences, then the tags as hashtags, within ``max_description_chars``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from models.data_files import compiling_patterns, load_yaml_model

from .policy import key_phrases
from .subtitles import is_cjk

LISTING_WORDS_FILE = Path(__file__).with_name("listing_words.yaml")


class ListingWordsError(ValueError):
    """The listing word file cannot be read or does not match :class:`ListingWords`."""


class ListingWords(BaseModel):
    """Fillers removed from a listing and the audience call-outs it skips (``listing_words.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    zh_fillers: list[str] = []
    en_fillers: list[str] = []
    engagement: list[str] = []

    @field_validator("zh_fillers", "en_fillers", "engagement")
    @classmethod
    def _non_empty(cls, words: list[str]) -> list[str]:
        if any(not w.strip() for w in words):
            raise ValueError("an empty entry")
        return words

    @field_validator("en_fillers", "engagement")
    @classmethod
    def _valid_patterns(cls, patterns: list[str]) -> list[str]:
        return compiling_patterns(patterns)


@dataclass(frozen=True)
class _CompiledWords:
    zh_fillers: tuple[str, ...]  # longest first, so "就是说" goes before "就是"
    en_fillers: re.Pattern | None
    engagement: re.Pattern | None


@lru_cache(maxsize=4)
def listing_words(path: Path = LISTING_WORDS_FILE) -> _CompiledWords:
    """The word file, checked and compiled (cached per path)."""
    words = load_yaml_model(path, ListingWords, ListingWordsError, what="the listing word file")
    en = "|".join(f if f.startswith("^") else f"(?:,\\s*)?(?:{f})(?:\\s*,)?" for f in words.en_fillers)
    engagement = "|".join(f"(?:{p})" for p in words.engagement)
    return _CompiledWords(zh_fillers=tuple(sorted(words.zh_fillers, key=len, reverse=True)),
                          en_fillers=re.compile(en, re.IGNORECASE) if en else None,
                          engagement=re.compile(engagement, re.IGNORECASE) if engagement else None)


def _is_engagement(sentence: str) -> bool:
    pattern = listing_words().engagement
    return bool(pattern and pattern.search(sentence))


_ZH_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]?")
_EN_SENTENCE = re.compile(r"[^.!?]+[.!?]?")
_CLAUSE_ZH = re.compile(r"[，,；;：:、]")
_CLAUSE_EN = re.compile(r"[,;:]\s*|\s+-\s+")


@dataclass(frozen=True)
class Listing:
    title: str
    description: str
    tags: tuple[str, ...]


def strip_fillers(text: str, lang: str) -> str:
    """``text`` without filler words and call-outs, with the punctuation they leave behind tidied."""
    words = listing_words()
    if lang == "zh":
        for filler in words.zh_fillers:
            text = text.replace(filler, "")
        text = re.sub(r"^[，,、\s]+", "", text)
        text = re.sub(r"[，,、]\s*([，,。！？!?])", r"\1", text)
        text = re.sub(r"([。！？!?])[，,、\s]+", r"\1", text)
        return re.sub(r"\s+", "", text).strip("，,、 ")
    out = text
    for _ in range(3 if words.en_fillers else 0):  # fillers can stack ("So, um, like, ...")
        # ", you know," between two clauses leaves one comma; at an edge, none
        out = words.en_fillers.sub(lambda m: "," if m.group(0).startswith(",") and m.group(0).endswith(",") else "", out)
        out = re.sub(r"^[\s,;]+", "", out)
    out = re.sub(r"\s+([,.!?;:])", r"\1", out)
    out = re.sub(r",\s*,", ",", out)
    out = re.sub(r"\s{2,}", " ", out).strip(" ,")
    return out[:1].upper() + out[1:] if out else out


def _sentences(text: str, lang: str) -> list[str]:
    pattern = _ZH_SENTENCE if lang == "zh" else _EN_SENTENCE
    out = []
    for raw in pattern.findall(text):
        s = strip_fillers(raw.strip(), lang)
        if len(re.sub(r"\W", "", s)) >= 2:
            out.append(s)
    return out


def _strip_end(s: str) -> str:
    return s.rstrip("。！？!?.,，；;：: ")


def _fit(text: str, limit: int, lang: str, whole_clauses: bool = False) -> str:
    """``text`` within ``limit`` characters: whole clauses first, then words (en) or characters
    (``whole_clauses``: "" rather than a cut clause)."""
    text = _strip_end(text)
    if len(text) <= limit:
        return text
    clauses = (_CLAUSE_ZH if lang == "zh" else _CLAUSE_EN).split(text)
    kept = ""
    sep = "，" if lang == "zh" else ", "
    for clause in clauses:
        candidate = clause if not kept else kept + sep + clause
        if len(candidate) > limit:
            break
        kept = candidate
    if kept or whole_clauses:
        return _strip_end(kept)
    if lang == "zh":
        return _strip_end(text[:limit])
    words, kept = text.split(), ""
    for word in words:
        candidate = word if not kept else f"{kept} {word}"
        if len(candidate) > limit:
            break
        kept = candidate
    return _strip_end(kept or text[:limit])


def _hook(sentences: list[str], phrases: list[str], variant: int = 0) -> str:
    """The sentence that says most about the product: most key phrases, statements before questions
    (``variant`` k: the k-th best, round the list, so variants of one clip open differently)."""
    if not sentences:
        return ""

    def score(item: tuple[int, str]) -> tuple[float, int]:
        i, s = item
        hits = sum(1 for p in phrases if p.lower() in s.lower())
        question = s.endswith(("?", "？", "吗", "呢"))
        return (hits - (2 if question else 0) - (5 if _is_engagement(s) else 0), -i)

    ranked = [s for _i, s in sorted(enumerate(dict.fromkeys(sentences)), key=score, reverse=True)]
    return ranked[variant % len(ranked)]


def write_listing(
    transcript: str,
    *,
    lang: str,
    product: str | None = None,
    selling_point: str | None = None,
    selling_text: str | None = None,
    max_title_chars: int = 30,
    max_tags: int = 5,
    max_description_chars: int = 300,
    variant: int = 0,
) -> Listing:
    """See the module docstring. ``selling_point``: the selling point's display name (e.g. "面料材质");
    ``selling_text``: the selling point's own text, preferred over the transcript for the hook;
    ``variant`` k > 0: the title from the k-th best hook (one moment posted from several accounts)."""
    if lang not in ("zh", "en"):
        lang = "zh" if is_cjk(transcript) else "en"
    product = (product or "").strip()
    sentences = _sentences(transcript or "", lang)
    chosen = _sentences(selling_text, lang) if selling_text else []
    about = [x for x in sentences if not _is_engagement(x)] or sentences
    cleaned = " ".join(about) if lang == "en" else "".join(about)
    # the product's own words count twice: a hook that names the product beats one that does not
    phrases = key_phrases(product, 4) * 2 + key_phrases(cleaned or (selling_text or ""), 8)
    hook = _strip_end(_hook(chosen or sentences, phrases, variant))

    sep = "｜" if lang == "zh" else " | "
    clause_re = _CLAUSE_ZH if lang == "zh" else _CLAUSE_EN
    pool = chosen or sentences
    # whole sentences first, then their clauses: the best one that fits wins over a cut sentence
    candidates = [_strip_end(x) for x in pool] + [_strip_end(c) for x in pool for c in clause_re.split(x)]
    candidates = [c for c in candidates if len(re.sub(r"\W", "", c)) >= 2 and not _is_engagement(c)]

    def best_fitting(limit: int) -> str:
        fitting = [c for c in dict.fromkeys(candidates) if len(c) <= limit]
        return _strip_end(_hook(fitting, phrases, variant)) if fitting else ""

    title = ""
    if variant and hook and len(hook) <= max_title_chars:  # a variant opens with its own hook, whole
        title = hook + sep + product if product and len(hook) + len(sep) + len(product) <= max_title_chars else hook
    if not title and product and len(product) + len(sep) < max_title_chars:
        short = best_fitting(max_title_chars - len(product) - len(sep))
        if short and short == hook or (short and len(hook) > max_title_chars - len(product) - len(sep)):
            title = short + sep + product
    if not title:
        title = best_fitting(max_title_chars) or _fit(hook or product or (selling_point or ""), max_title_chars, lang)

    tags: list[str] = []
    seen: set[str] = set()
    point_parts = re.split(r"\s*/\s*", selling_point) if selling_point else []
    for raw in [*point_parts, *key_phrases(product, 3), *key_phrases(cleaned, 8)]:
        tag = re.sub(r"[\s#/]+", "", raw) if lang == "zh" else re.sub(r"[^A-Za-z0-9]+", "", raw).lower()
        if len(tag) < 2 or tag.lower() in seen:
            continue
        seen.add(tag.lower())
        tags.append(tag)
        if len(tags) >= max_tags:
            break

    body = cleaned
    hashtags = " ".join(f"#{t}" for t in tags)
    room = max_description_chars - (len(hashtags) + 1 if hashtags else 0)
    body = _fit(body, room, lang) + ("。" if lang == "zh" else ".") if body and room > 8 else ""
    if body and len(body) > room:
        body = body[:room]
    description = (body + ("\n" if body and hashtags else "") + hashtags)[:max_description_chars]
    return Listing(title=title, description=description, tags=tuple(tags[:max_tags]))


#: a clause of a title or description: text up to and including its separator
_CLAUSE_PIECE = re.compile(r"(?:[^，,；;：:、。！？!?｜|\n.]|\.(?!\s|$))+(?:[，,；;：:、。！？!?｜|\n]|\.)?\s*"
                           r"|(?:[，,；;：:、。！？!?｜|\n]|\.)\s*")  # "." ends an English sentence, not "29.9"


def _drop_clauses(text: str, flagged: Callable[[str], bool]) -> tuple[str, list[str]]:
    """``text`` without the clauses ``flagged`` says break a rule, and the clauses dropped."""
    kept, dropped = [], []
    for piece in _CLAUSE_PIECE.findall(text):
        (dropped if flagged(piece) else kept).append(piece)
    out = "".join(kept).strip()
    out = re.sub(r"^[，,；;：:、｜|\s]+|[，,；;：:、｜|\s]+$", "", out)
    return out, [d.strip() for d in dropped]


def drop_flagged(listing: Listing, flagged: Callable[[str], bool], *, fallback_title: str = "",
                 max_title_chars: int = 30) -> tuple[Listing, list[str]]:
    """``listing`` without the clauses and tags that ``flagged`` (a compliance check: text -> breaks
    a rule?) rejects, e.g. "百分之百有效" or "全网最低价": advertising law forbids absolute claims in
    a post as much as in speech. The dropped clauses come back for the render's warnings. A title
    that loses every clause becomes ``fallback_title`` (the selling point's name), if that passes."""
    title, dropped = _drop_clauses(listing.title, flagged)
    if not title and fallback_title and not flagged(fallback_title):
        title = fallback_title
    tags = tuple(t for t in listing.tags if not flagged(t))
    dropped += [t for t in listing.tags if t not in tags]
    body, hashtags = listing.description, ""
    if "\n" in body or body.startswith("#"):
        body, _, hashtags = body.rpartition("\n") if "\n" in body else ("", "", body)
    body, more = _drop_clauses(body, flagged)
    dropped += more
    if not title and body:  # nothing else to name it by: the first clean clause of what was said
        first = _CLAUSE_PIECE.findall(body)[0]
        title = _fit(first, max_title_chars, "zh" if is_cjk(first) else "en")
    if body and not re.search(r"[。！？!?.]$", body):
        body += "。" if is_cjk(body) else "."
    hashtags = " ".join(f"#{t}" for t in tags) if hashtags else ""
    description = body + ("\n" if body and hashtags else "") + hashtags
    return Listing(title=title, description=description, tags=tags), list(dict.fromkeys(d for d in dropped if d))
