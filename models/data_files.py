"""The project's data files (rule packs, taxonomies, platform profiles, thresholds, catalogs):
YAML in, a schema-checked pydantic model out, and every problem as one line that names the file
and the field — so a user who edits one sees what to fix, never a traceback.

Each caller passes its own error class (``RulePackError``, ``ProfileError``, …) so its callers
can still catch just that kind.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path | str, error: type[Exception], *, what: str = "", default: Any = None) -> Any:
    """The parsed YAML document of ``path`` (``default`` for an empty file). ``what`` names the
    file in the "cannot read" message ("the room config file")."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read{' ' + what if what else ''}: {exc.strerror or exc}") from None
    return parse_yaml(text, str(path), error, default=default)


def parse_yaml(text: str, where: str, error: type[Exception], *, default: Any = None) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{where}: not valid YAML: {yaml_error_line(exc)}") from None
    return default if data is None else data


def validate(model: type[M], data: Any, where: Path | str, error: type[Exception]) -> M:
    """``data`` checked against ``model``; the first problem as one line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(format_validation_error(where, exc)) from None


def load_yaml_model(path: Path | str, model: type[M], error: type[Exception], *, what: str = "") -> M:
    """Read ``path`` and check it against ``model`` (an empty file is an empty mapping)."""
    return validate(model, read_yaml(path, error, what=what, default={}), path, error)


def format_validation_error(where: Path | str, exc: ValidationError) -> str:
    """One line naming the file, the field path and what is wrong (the first error)."""
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"])  # products.0.id
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {loc or '(top level)'}: {err['msg'].removeprefix('Value error, ')}{more}"


def yaml_error_line(exc: Exception) -> str:
    """A YAML error as one line, with the line number where YAML gives one."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark is not None else problem


def compiling_patterns(patterns: list[str]) -> list[str]:
    """A field validator's check: every entry is a valid regular expression (ValueError naming it)."""
    for i, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern {i} {pattern!r} is not a valid regular expression: {exc}") from exc
    return patterns
