"""Selling-point taxonomies as data: one YAML file per product category.

A category file (``apparel.yaml``) lists its classes and ``include: [common]``; the shared
file (``common.yaml``, ``shared: true``) holds classes every category has (price, chit-chat,
call to action, ...). A category class with the same name as an included one replaces it.
Adding a category or a class is adding YAML: no code changes.

    taxonomy = load_taxonomy("apparel")
    taxonomy.class_names  # ['fabric_material', ..., 'price_promotion', ...]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from models.data_files import read_yaml

#: The folder holding the YAML files shipped with livelens.
BUILTIN_DIR = Path(__file__).resolve().parent

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_CLASS_KEYS = {"name", "name_zh", "name_en", "description", "keywords", "examples"}
_FILE_KEYS = {"category", "name_zh", "name_en", "include", "classes", "shared", "fallback"}
_LANGS = ("zh", "en")


class TaxonomyError(ValueError):
    """A taxonomy file is missing, malformed or inconsistent (the message names file and field)."""


@dataclass(frozen=True)
class TaxonomyClass:
    name: str
    name_zh: str
    name_en: str
    description: str
    keywords: dict[str, tuple[str, ...]]  # language -> keywords
    examples: dict[str, tuple[str, ...]]  # language -> example sentences

    def all_keywords(self) -> list[str]:
        return [k for lang in _LANGS for k in self.keywords.get(lang, ())]

    def all_examples(self) -> list[str]:
        return [e for lang in _LANGS for e in self.examples.get(lang, ())]


@dataclass(frozen=True)
class Taxonomy:
    category: str
    name_zh: str
    name_en: str
    classes: tuple[TaxonomyClass, ...]
    #: label used when nothing scores high enough; always one of ``classes``
    fallback: str
    sources: tuple[Path, ...] = field(default=())

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    def get(self, name: str) -> TaxonomyClass:
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(name)


def taxonomy_dirs(taxonomy_dir: Path | str | None) -> list[Path]:
    """Folders searched, first match wins: the user's folder (if any), then the built-in one."""
    dirs = [Path(taxonomy_dir)] if taxonomy_dir else []
    return dirs + [BUILTIN_DIR]


def list_categories(taxonomy_dir: Path | str | None = None) -> list[str]:
    """Categories available (non-shared YAML files) in the user's folder and the built-in one."""
    names: set[str] = set()
    for folder in taxonomy_dirs(taxonomy_dir):
        for path in folder.glob("*.yaml"):
            data = _read_yaml(path)
            if not data.get("shared"):
                names.add(path.stem)
    return sorted(names)


def load_taxonomy(category: str = "apparel", taxonomy_dir: Path | str | None = None) -> Taxonomy:
    """Load ``<category>.yaml`` with its includes merged in, validated; raises TaxonomyError."""
    path = _find(category, taxonomy_dir)
    data = _read_yaml(path)
    _check_file(data, path, expected_category=category)
    if data.get("shared"):
        raise TaxonomyError(f"{path}: '{category}' is a shared file (shared: true), not a category")

    classes: dict[str, TaxonomyClass] = {}
    sources = [path]
    fallback = data.get("fallback")
    for included in data.get("include") or []:
        inc_path = _find(str(included), taxonomy_dir, included_from=path)
        inc_data = _read_yaml(inc_path)
        _check_file(inc_data, inc_path, expected_category=str(included))
        sources.append(inc_path)
        for cls in _parse_classes(inc_data, inc_path):
            classes[cls.name] = cls
        fallback = fallback or inc_data.get("fallback")
    own = _parse_classes(data, path)
    for cls in own:
        classes[cls.name] = cls  # a category may override an included class
    if not classes:
        raise TaxonomyError(f"{path}: no classes (after merging includes)")
    if fallback is None:
        raise TaxonomyError(f"{path}: no 'fallback' class set here or in an included file")
    if fallback not in classes:
        raise TaxonomyError(f"{path}: fallback '{fallback}' is not one of the classes {sorted(classes)}")
    # the category's own classes first: they are its selling points
    ordered = [c for c in own] + [c for name, c in classes.items() if name not in {o.name for o in own}]
    return Taxonomy(
        category=category,
        name_zh=str(data.get("name_zh", category)),
        name_en=str(data.get("name_en", category)),
        classes=tuple(ordered),
        fallback=str(fallback),
        sources=tuple(sources),
    )


# --- helpers --------------------------------------------------------------------------------


def _find(name: str, taxonomy_dir: Path | str | None, included_from: Path | None = None) -> Path:
    if not _NAME_RE.match(name):
        raise TaxonomyError(f"invalid category name {name!r}: use lowercase letters, digits and _")
    for folder in taxonomy_dirs(taxonomy_dir):
        path = folder / f"{name}.yaml"
        if path.is_file():
            return path
    where = f" (included from {included_from})" if included_from else ""
    known = ", ".join(list_categories(taxonomy_dir)) or "none"
    raise TaxonomyError(f"no taxonomy file '{name}.yaml'{where}; known categories: {known}")


def _read_yaml(path: Path) -> dict:
    data = read_yaml(path, TaxonomyError)
    if not isinstance(data, dict):
        raise TaxonomyError(f"{path}: the top level must be a mapping with 'category' and 'classes'")
    return data


def _check_file(data: dict, path: Path, expected_category: str) -> None:
    unknown = set(data) - _FILE_KEYS
    if unknown:
        raise TaxonomyError(f"{path}: unknown top-level keys {sorted(unknown)}; allowed: {sorted(_FILE_KEYS)}")
    if data.get("category") != expected_category:
        raise TaxonomyError(f"{path}: 'category' must be {expected_category!r} (the file name), got {data.get('category')!r}")
    if not isinstance(data.get("classes"), list):
        raise TaxonomyError(f"{path}: 'classes' must be a list")
    include = data.get("include") or []
    if not isinstance(include, list):
        raise TaxonomyError(f"{path}: 'include' must be a list of file names without .yaml")


def _parse_classes(data: dict, path: Path) -> list[TaxonomyClass]:
    out: list[TaxonomyClass] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["classes"]):
        where = f"{path}: classes[{i}]"
        if not isinstance(raw, dict):
            raise TaxonomyError(f"{where}: each class must be a mapping")
        name = raw.get("name")
        if isinstance(name, str):
            where = f"{path}: class '{name}'"
        unknown = set(raw) - _CLASS_KEYS
        if unknown:
            raise TaxonomyError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_CLASS_KEYS)}")
        missing = [k for k in sorted(_CLASS_KEYS) if k not in raw]
        if missing:
            raise TaxonomyError(f"{where}: missing {missing}")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise TaxonomyError(f"{where}: 'name' must match {_NAME_RE.pattern} (got {name!r})")
        if name in seen:
            raise TaxonomyError(f"{where}: duplicate class name")
        seen.add(name)
        for key in ("name_zh", "name_en", "description"):
            if not isinstance(raw[key], str) or not raw[key].strip():
                raise TaxonomyError(f"{where}: '{key}' must be a non-empty string")
        keywords = _lang_lists(raw["keywords"], f"{where}: keywords")
        examples = _lang_lists(raw["examples"], f"{where}: examples")
        if sum(len(v) for v in examples.values()) < 2:
            raise TaxonomyError(f"{where}: needs at least 2 example sentences (zh and/or en)")
        out.append(TaxonomyClass(name, raw["name_zh"].strip(), raw["name_en"].strip(),
                                 raw["description"].strip(), keywords, examples))
    return out


def _lang_lists(raw: object, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise TaxonomyError(f"{where}: must be a mapping with 'zh' and/or 'en' lists")
    unknown = set(raw) - set(_LANGS)
    if unknown:
        raise TaxonomyError(f"{where}: unknown languages {sorted(unknown)}; allowed: {list(_LANGS)}")
    out: dict[str, tuple[str, ...]] = {}
    for lang in _LANGS:
        items = raw.get(lang) or []
        if not isinstance(items, list):
            raise TaxonomyError(f"{where}.{lang}: must be a list")
        clean = []
        for j, item in enumerate(items):
            # YAML turns bare numbers/booleans into non-strings: accept them as text
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str) or not item.strip():
                raise TaxonomyError(f"{where}.{lang}[{j}]: must be a non-empty string (got {item!r})")
            clean.append(item.strip())
        out[lang] = tuple(clean)
    if not any(out.values()):
        raise TaxonomyError(f"{where}: empty in both languages")
    return out
