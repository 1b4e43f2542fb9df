"""Recommendation rules are data: load, merge (per brand / room) and validate them.

File format (see ``rules.yaml`` beside this module for the shipped set)::

    version: 1
    defaults:                 # applied to every rule that does not set the key
      cooldown_s: 120         # the rule stays silent this long after it fired (per room)
      ttl_s: 60               # a recommendation expires this long after it was made
      priority: 50            # 0..100
    max_per_evaluate: 3       # at most this many recommendations per evaluate() (highest priority first)
    rules:
      size_fit:               # rule name (unique; used for cooldown)
        rec_type: explain_size_fit
        when:                 # ALL must hold: "<feature> <op> <number>", op in > >= < <= == !=
          - asks_size_fit_count >= 5
        when_any:             # optional: at least ONE must hold
          - ...
        subject: top_product  # optional placeholder whose value goes into the dedup key
        evidence: [asks_size_fit_count, top_question]   # extra names copied into the evidence
        reason: "{asks_size_fit_count:.0f} size questions in {window_s:.0f} s"
        message:
          zh: "……{top_product}……"
          en: "... {top_product} ..."

Feature names are :data:`models.recommend.state.FEATURE_NAMES` (numbers, NaN when unknown: a
condition on an unknown value is false); templates may also use
:data:`models.recommend.state.TEXT_NAMES` and ``window_s``. Python format specs work
(``{negative_share:.0%}``).

Merge rule for overrides (per brand, then per room, in the order given):
  * mappings merge key by key, recursively (``message: {zh: ...}`` replaces only the zh text);
  * lists and scalars replace (an override's ``when`` replaces the whole condition list);
  * ``rules: {name: null}`` removes a rule; ``enabled: false`` switches it off;
  * a rule name not in the base adds a new rule, which must then be complete.
The merged document is validated as a whole; errors name the path (``rules.size_fit.when[0]``).
"""

from __future__ import annotations

import copy
import difflib
import math
import operator
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping


from models.data_files import parse_yaml, read_yaml

from .state import FEATURE_NAMES, TEXT_NAMES

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.yaml")

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")
_RULE_KEYS = {"rec_type", "enabled", "priority", "cooldown_s", "ttl_s", "when", "when_any", "subject", "evidence", "reason", "message"}
_DEFAULT_KEYS = {"priority", "cooldown_s", "ttl_s"}
_TOP_KEYS = {"version", "defaults", "max_per_evaluate", "rules"}
PLACEHOLDERS: frozenset[str] = frozenset(FEATURE_NAMES) | frozenset(TEXT_NAMES) | {"window_s"}


class RulesError(ValueError):
    """A rules document is malformed. The message names the offending path."""


@dataclass(frozen=True)
class Condition:
    feature: str
    op: str
    value: float
    compare: Callable[[float, float], bool]

    def holds(self, features: Mapping[str, float]) -> bool:
        x = features[self.feature]
        return not math.isnan(x) and self.compare(x, self.value)

    def __str__(self) -> str:
        return f"{self.feature} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Rule:
    name: str
    rec_type: str
    priority: int
    cooldown_ms: int
    ttl_ms: int
    when: tuple[Condition, ...]
    when_any: tuple[Condition, ...]
    subject: str | None
    evidence: tuple[str, ...]
    reason: str
    message_zh: str
    message_en: str

    def matches(self, features: Mapping[str, float]) -> bool:
        for c in self.when:
            if not c.holds(features):
                return False
        if self.when_any:
            return any(c.holds(features) for c in self.when_any)
        return True


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]  # enabled rules only, highest priority first
    max_per_evaluate: int
    document: dict[str, Any]  # the merged, validated document (for merging further / display)

    def merged(self, *overrides: Mapping[str, Any] | str | Path) -> "RuleSet":
        """This rule set with overrides (dicts, YAML text or paths) merged on top."""
        return parse_rules(merge_documents(self.document, *(_as_document(o) for o in overrides)))


def load_rules(path: str | Path | None = None, *overrides: Mapping[str, Any] | str | Path) -> RuleSet:
    """Load the rules file (None: the shipped ``rules.yaml``) and merge ``overrides`` in order."""
    base = _as_document(Path(path) if path is not None else DEFAULT_RULES_PATH)
    return parse_rules(merge_documents(base, *(_as_document(o) for o in overrides)))


def merge_documents(base: Mapping[str, Any], *overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Merge overrides into a copy of ``base`` (rule in the module docstring)."""
    merged = copy.deepcopy(dict(base))
    for i, override in enumerate(overrides):
        if not isinstance(override, Mapping):
            raise RulesError(f"override #{i + 1}: expected a mapping, got {type(override).__name__}")
        _deep_merge(merged, override)
    return merged


def parse_rules(doc: Mapping[str, Any]) -> RuleSet:
    """Validate a (merged) rules document and compile it."""
    if not isinstance(doc, Mapping):
        raise RulesError(f"rules document: expected a mapping, got {type(doc).__name__}")
    _no_unknown_keys(doc, _TOP_KEYS, "rules document")
    if doc.get("version", 1) != 1:
        raise RulesError(f"version: unsupported rules version {doc.get('version')!r} (expected 1)")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise RulesError("defaults: expected a mapping")
    _no_unknown_keys(defaults, _DEFAULT_KEYS, "defaults")
    max_per = doc.get("max_per_evaluate", 3)
    if not isinstance(max_per, int) or isinstance(max_per, bool) or max_per < 1:
        raise RulesError(f"max_per_evaluate: expected an integer >= 1, got {max_per!r}")
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, Mapping) or not raw_rules:
        raise RulesError("rules: expected a non-empty mapping of rule name -> rule")
    rules = []
    for name, raw in raw_rules.items():
        if raw is None:  # removed by an override
            continue
        rule = _parse_rule(str(name), raw, defaults)
        if rule is not None:
            rules.append(rule)
    rules.sort(key=lambda r: -r.priority)
    return RuleSet(tuple(rules), max_per, copy.deepcopy(dict(doc)))


# ---------------------------------------------------------------------- internals


def _as_document(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))):
        path = Path(source)
        doc, where = read_yaml(path, RulesError, what="rules file", default={}), str(path)
    else:
        doc, where = parse_yaml(source, "rules text", RulesError, default={}), "rules text"
    if not isinstance(doc, Mapping):
        raise RulesError(f"{where}: expected a mapping at the top, got {type(doc).__name__}")
    return dict(doc)


def _deep_merge(into: dict[str, Any], override: Mapping[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), Mapping):
            target = dict(into[key])
            _deep_merge(target, value)
            into[key] = target
        else:
            into[key] = copy.deepcopy(value)


def _no_unknown_keys(mapping: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise RulesError(f"{where}: unknown key {key!r}{_suggest(str(key), allowed)}; allowed: {', '.join(sorted(allowed))}")


def _suggest(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _number(value: Any, where: str, lo: float, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise RulesError(f"{where}: expected a number, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bounds = f"between {lo:g} and {hi:g}" if hi is not None else f">= {lo:g}"
        raise RulesError(f"{where}: must be {bounds}, got {value!r}")
    return float(value)


def _parse_rule(name: str, raw: Any, defaults: Mapping[str, Any]) -> Rule | None:
    where = f"rules.{name}"
    if not isinstance(raw, Mapping):
        raise RulesError(f"{where}: expected a mapping, got {type(raw).__name__}")
    _no_unknown_keys(raw, _RULE_KEYS, where)
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RulesError(f"{where}.enabled: expected true or false, got {enabled!r}")
    rec_type = raw.get("rec_type")
    if not isinstance(rec_type, str) or not rec_type:
        raise RulesError(f"{where}.rec_type: required (a non-empty string)")
    priority = _number(raw.get("priority", defaults.get("priority", 50)), f"{where}.priority", 0, 100)
    cooldown_s = _number(raw.get("cooldown_s", defaults.get("cooldown_s", 120)), f"{where}.cooldown_s", 0)
    ttl_s = _number(raw.get("ttl_s", defaults.get("ttl_s", 60)), f"{where}.ttl_s", 0)
    if ttl_s <= 0:
        raise RulesError(f"{where}.ttl_s: must be > 0, got {ttl_s:g}")
    when = _parse_conditions(raw.get("when", []), f"{where}.when")
    when_any = _parse_conditions(raw.get("when_any", []), f"{where}.when_any")
    if not when and not when_any:
        raise RulesError(f"{where}: needs at least one condition in 'when' or 'when_any'")
    subject = raw.get("subject")
    if subject is not None and subject not in PLACEHOLDERS:
        raise RulesError(f"{where}.subject: unknown name {subject!r}{_suggest(str(subject), PLACEHOLDERS)}")
    evidence = raw.get("evidence", [])
    if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
        raise RulesError(f"{where}.evidence: expected a list of feature / text names")
    for i, e in enumerate(evidence):
        if e not in PLACEHOLDERS:
            raise RulesError(f"{where}.evidence[{i}]: unknown name {e!r}{_suggest(e, PLACEHOLDERS)}")
    message = raw.get("message")
    if not isinstance(message, Mapping) or not isinstance(message.get("zh"), str) or not isinstance(message.get("en"), str):
        raise RulesError(f"{where}.message: required, with both 'zh' and 'en' strings")
    _no_unknown_keys(message, {"zh", "en"}, f"{where}.message")
    reason = raw.get("reason", "")
    if not isinstance(reason, str):
        raise RulesError(f"{where}.reason: expected a string")
    for key, template in (("message.zh", message["zh"]), ("message.en", message["en"]), ("reason", reason)):
        _check_template(template, f"{where}.{key}")
    if not enabled:
        return None
    # evidence: every feature a condition reads, then the extra names, in order, no repeats
    names = [c.feature for c in when + when_any] + list(evidence)
    return Rule(
        name=name,
        rec_type=rec_type,
        priority=int(priority),
        cooldown_ms=int(cooldown_s * 1000),
        ttl_ms=int(ttl_s * 1000),
        when=when,
        when_any=when_any,
        subject=subject,
        evidence=tuple(dict.fromkeys(names)),
        reason=reason,
        message_zh=message["zh"],
        message_en=message["en"],
    )


def _parse_conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RulesError(f"{where}: expected a list of conditions like 'asks_price_count >= 3'")
    out = []
    for i, text in enumerate(raw):
        if not isinstance(text, str):
            raise RulesError(f"{where}[{i}]: expected a string like 'asks_price_count >= 3', got {text!r}")
        m = _CONDITION.match(text)
        if not m:
            raise RulesError(f"{where}[{i}]: cannot parse {text!r}: expected '<feature> <op> <number>' with op one of {' '.join(_OPS)}")
        feature, op, value = m.group(1), m.group(2), float(m.group(3))
        if feature not in FEATURE_NAMES:
            raise RulesError(f"{where}[{i}]: unknown feature {feature!r}{_suggest(feature, FEATURE_NAMES)}")
        out.append(Condition(feature, op, value, _OPS[op]))
    return tuple(out)


def _check_template(template: str, where: str) -> None:
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise RulesError(f"{where}: bad template {template!r}: {exc}") from exc
    for _, field_name, _, _ in fields:
        if field_name is None:
            continue
        if field_name not in PLACEHOLDERS:
            raise RulesError(f"{where}: unknown placeholder {{{field_name}}}{_suggest(field_name, PLACEHOLDERS)}")
    # Render once with sample values so a format spec that does not fit its value (a number
    # spec on a text) fails here, at load time, rather than in the live room.
    try:
        template.format_map(_SAMPLE_CONTEXT)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise RulesError(f"{where}: template {template!r} does not render: {exc}") from exc


_SAMPLE_CONTEXT: dict[str, Any] = {name: 1.0 for name in FEATURE_NAMES} | {name: "x" for name in TEXT_NAMES} | {"window_s": 60.0}
