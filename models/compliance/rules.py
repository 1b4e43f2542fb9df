"""Compliance rule packs as data: YAML files under ``models/compliance/rules/``.

Three layers compose, later ones adding to and overriding earlier ones:

* ``common/*.yaml``      — every room (absolute terms, diversion, phone numbers, ...);
* ``category/<c>.yaml``  — a product category (efficacy claims for food, beauty, ...);
* ``platform/<p>.yaml``  — a platform (other platforms named on Douyin, ...).

A rule with the same ``id`` as an earlier one replaces it; ``disable: [id, ...]`` turns earlier
rules off. Every file is checked at load by pydantic; a mistake fails with one line naming the
file and the field. See docs/COMPLIANCE.md for the format.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.data_files import compiling_patterns, read_yaml, validate

RULES_DIR = Path(__file__).resolve().parent / "rules"

Kind = Literal["absolute_term", "efficacy_claim", "diversion", "price_claim", "disparagement"]
Severity = Literal["info", "warning", "critical"]
Language = Literal["zh", "en"]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
LANGUAGES: tuple[str, ...] = Language.__args__  # type: ignore[attr-defined]
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class RulePackError(ValueError):
    """A rule pack is missing or malformed (the message names the file and field)."""


class Rule(BaseModel):
    """One rule. Terms, patterns and exceptions are matched against the normalised skeleton
    (lower case, separators removed, look-alikes undone), so write them in that form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: Kind
    severity: Severity
    law: str = Field(min_length=1)
    suggestion: str = Field(min_length=1)
    language: Language | None = None  # default: the file's language
    terms: list[str] = []
    #: regular expressions on the skeleton (or on its digit form, see ``match_on``)
    patterns: list[str] = []
    match_on: Literal["text", "digits"] = "text"
    #: pinyin spellings ("wei xin"): any characters that sound like it match (homophones)
    sounds_like: list[str] = []
    #: a homophone hit counts only with one of these within ``cue_window`` characters
    sounds_like_cues: list[str] = []
    cue_window: int = Field(default=3, ge=1, le=20)
    #: harmless senses: a hit inside one of these phrases (or patterns) is not a violation
    exceptions: list[str] = []
    exception_patterns: list[str] = []
    #: False: negation and reported speech do not excuse it (a phone number stays one)
    negatable: bool = True
    note: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID_RE.match(value):
            raise ValueError("use lowercase letters, digits, '.', '_' and '-'")
        return value

    @field_validator("patterns", "exception_patterns")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return compiling_patterns(value)

    @field_validator("terms", "exceptions", "sounds_like", "sounds_like_cues")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        for i, item in enumerate(value):
            if not str(item).strip():
                raise ValueError(f"item {i} is empty")
        return value

    @model_validator(mode="after")
    def _something_to_match(self) -> "Rule":
        if not (self.terms or self.patterns or self.sounds_like):
            raise ValueError("a rule needs at least one of terms, patterns, sounds_like")
        return self


class ContextCues(BaseModel):
    """Words that make a hit a non-claim: negation before it, reported speech near it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: looked for in the same clause, at most ``window`` characters before the hit
    negation: list[str] = []
    #: phrases that contain a negation word but do not negate (不要错过 = "don't miss")
    negation_exceptions: list[str] = []
    #: looked for in the same clause, before or after the hit (广告法, 违禁词, ...)
    reported_speech: list[str] = []
    #: words that start a new clause for this purpose (但是, but, ...)
    clause_breaks: list[str] = []
    window: int = Field(default=8, ge=1, le=40)


class RulePack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pack: str
    layer: Literal["common", "category", "platform"]
    language: Language = "zh"
    name_zh: str = ""
    name_en: str = ""
    description: str = ""
    disable: list[str] = []
    context: dict[Language, ContextCues] = {}
    rules: list[Rule] = []

    @model_validator(mode="after")
    def _unique_ids(self) -> "RulePack":
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ValueError(f"rules[{i}].id {rule.id!r} appears twice in this file")
            seen.add(rule.id)
        return self


def _read_pack(path: Path, layer: str) -> RulePack:
    data = read_yaml(path, RulePackError)
    if not isinstance(data, dict):
        raise RulePackError(f"{path}: the top level must be a mapping with 'pack', 'layer' and 'rules'")
    pack = validate(RulePack, data, path, RulePackError)
    if pack.pack != path.stem:
        raise RulePackError(f"{path}: pack: {pack.pack!r} must equal the file name {path.stem!r}")
    if pack.layer != layer:
        raise RulePackError(f"{path}: layer: {pack.layer!r} but the file is in the {layer!r} folder")
    return pack


def list_packs(layer: str, rules_dir: Path | str | None = None) -> list[str]:
    folder = Path(rules_dir or RULES_DIR) / layer
    return sorted(p.stem for p in folder.glob("*.yaml"))


def list_categories(rules_dir: Path | str | None = None) -> list[str]:
    return list_packs("category", rules_dir)


def list_platforms(rules_dir: Path | str | None = None) -> list[str]:
    return list_packs("platform", rules_dir)


@lru_cache(maxsize=64)
def _load_cached(layer: str, name: str, rules_dir: str) -> RulePack:
    return _read_pack(Path(rules_dir) / layer / f"{name}.yaml", layer)


def load_pack(layer: str, name: str, rules_dir: Path | str | None = None) -> RulePack:
    if not _NAME_RE.match(name):
        raise RulePackError(f"invalid {layer} name {name!r}: use lowercase letters, digits and _")
    folder = Path(rules_dir or RULES_DIR)
    if not (folder / layer / f"{name}.yaml").is_file():
        known = ", ".join(list_packs(layer, folder)) or "none"
        plural = {"category": "categories", "platform": "platforms"}.get(layer, f"{layer} packs")
        raise RulePackError(f"unknown {layer} {name!r}; known {plural}: {known}")
    return _load_cached(layer, name, str(folder))


def compose(
    category: str | None = None, platform: str | None = None, rules_dir: Path | str | None = None
) -> tuple[list[RulePack], dict[str, Rule]]:
    """The packs used (common ones, then category, then platform) and the resulting rules by id."""
    packs = [load_pack("common", name, rules_dir) for name in list_packs("common", rules_dir)]
    if category:
        packs.append(load_pack("category", category, rules_dir))
    if platform:
        packs.append(load_pack("platform", platform, rules_dir))
    rules: dict[str, Rule] = {}
    for pack in packs:
        for rule_id in pack.disable:
            rules.pop(rule_id, None)
        for rule in pack.rules:
            if rule.language is None:
                rule = rule.model_copy(update={"language": pack.language})
            rules.pop(rule.id, None)  # a replaced rule takes the new position too
            rules[rule.id] = rule
    return packs, rules


def platform_language(platform: str, rules_dir: Path | str | None = None) -> str:
    return load_pack("platform", platform, rules_dir).language
