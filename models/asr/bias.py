"""Speech biased to the room: its catalog and category taxonomy as hints for faster-whisper.

Pure (lists of words in, ``DecodeOptions`` and numbers out). The room's words are its catalog's
product names and aliases (``models.understanding.product_linker.load_catalog``) and its
category's taxonomy keywords (fabrics, sizes, colours: ``models.taxonomy``), in the room's
language. Two ways to hand them to Whisper, measured by ``livelens bench asr --bias``:

- ``hotwords``: faster-whisper's hint phrases (put before the decode like a prompt);
- ``prompt``: an initial prompt, a sentence naming the room's products ("直播间在卖：…。");
- ``both``; ``none``.

``term_recall`` is the figure that says whether it helps where it matters: of the room's words
the host said (in the reference), how many the transcript has (numbers written as digits on
both sides first, as every ASR error figure here).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from models.asr.engine import DecodeOptions
from models.asr.itn import to_display

BiasMode = Literal["none", "hotwords", "prompt", "both"]
BIAS_MODES: tuple[str, ...] = ("none", "hotwords", "prompt", "both")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _in_language(term: str, language: str) -> bool:
    return bool(_CJK.search(term)) == (language == "zh")


def room_terms(product_names: Iterable[str], keywords: Sequence[Sequence[str]], language: str,
               max_terms: int = 40) -> list[str]:
    """The room's words in ``language``: product names and aliases first, then taxonomy keywords
    taken in turn from each class (``keywords``: one list per class, so fabrics do not crowd out
    sizes and colours); deduplicated, single characters dropped (too short to hint anything), at
    most ``max_terms`` (hints share Whisper's 224-token prompt window with the decode)."""
    seen: dict[str, None] = {}
    lists = [list(k) for k in keywords]
    in_turn = [k[i] for i in range(max((len(k) for k in lists), default=0)) for k in lists if i < len(k)]
    for term in [*product_names, *in_turn]:
        term = term.strip()
        if len(term) >= 2 and _in_language(term, language) and term.lower() not in (t.lower() for t in seen):
            seen[term] = None
    return list(seen)[:max_terms]


def catalog_terms(catalog_path, category: str | None, language: str, max_terms: int = 40) -> tuple[list[str], list[str]]:
    """(product names, room terms) of a catalog file and a taxonomy category (None: no taxonomy)."""
    from models.taxonomy import load_taxonomy
    from models.understanding.product_linker import load_catalog

    products = load_catalog(catalog_path) if catalog_path else []
    names = [n for p in products for n in (p.name_zh, p.name_en) if n and _in_language(n, language)]
    aliases = [a for p in products for a in p.aliases]
    keywords = []
    if category:
        taxonomy = load_taxonomy(category)
        keywords = [taxonomy.get(name).keywords.get(language, ()) for name in taxonomy.class_names]
    return names, room_terms([*names, *aliases], keywords, language, max_terms)


def bias_options(mode: str, base: DecodeOptions, product_names: Sequence[str], terms: Sequence[str],
                 language: str) -> DecodeOptions | None:
    """The decode options of a room for ``mode`` (None for ``none``: the engine's own)."""
    if mode not in BIAS_MODES:
        raise ValueError(f"bias must be one of {', '.join(BIAS_MODES)}, not {mode!r}")
    if mode == "none" or not (terms or product_names):
        return None
    hotwords = " ".join(terms) if mode in ("hotwords", "both") else None
    prompt = None
    if mode in ("prompt", "both") and product_names:
        prompt = ("直播间在卖：" + "、".join(product_names) + "。") if language == "zh" else \
            ("In this live room: " + ", ".join(product_names) + ".")
    return dataclasses.replace(base, hotwords=hotwords, initial_prompt=prompt)


def _count(term: str, text: str, language: str) -> int:
    if language == "zh":
        return text.count(term)
    return len(re.findall(rf"\b{re.escape(term.lower())}\b", text.lower()))


def term_recall(reference: str, hypothesis: str, terms: Sequence[str], language: str) -> tuple[int, int]:
    """(found, spoken): occurrences of ``terms`` in ``reference``, and how many of them the
    hypothesis has (per term, at most as many as were said). A longer term that contains a
    shorter one is counted once (桑蚕丝面料 is not also 面料)."""
    ref, hyp = to_display(reference, language), to_display(hypothesis, language)
    found = spoken = 0
    for term in sorted(terms, key=len, reverse=True):
        said = _count(term, ref, language)
        if not said:
            continue
        heard = _count(term, hyp, language)
        spoken, found = spoken + said, found + min(said, heard)
        ref = ref.replace(term, " ") if language == "zh" else re.sub(rf"(?i)\b{re.escape(term)}\b", " ", ref)
        hyp = hyp.replace(term, " ") if language == "zh" else re.sub(rf"(?i)\b{re.escape(term)}\b", " ", hyp)
    return found, spoken
