"""``livelens compliance``: check one text per stdin line against the compliance rule packs.

With ``--json`` exactly one JSON object per input line::

    {"text": "...", "violations": [{"kind", "rule", "term", "start", "end", "severity", "law", "suggestion"}]}

``start``/``end`` index ``text`` (the line as decoded: UTF-8, invalid bytes as U+FFFD, the line
break removed). A line that cannot be checked (longer than ``MAX_LINE_BYTES``, or an unexpected
failure) gets ``{"text": <its first 200 characters>, "error": "..."}`` instead; the stream goes on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator, Optional

import typer

#: lines longer than this (1 MB) get an error object instead of a check
MAX_LINE_BYTES = 1_000_000


def _stdin_lines() -> Iterator[bytes]:
    for raw in sys.stdin.buffer:
        yield raw.rstrip(b"\r\n")


def _print_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    @app.command("compliance")
    def compliance(
        category: Optional[str] = typer.Option(None, help="product category rule pack (apparel, beauty, food, ...)"),
        platform: Optional[str] = typer.Option(None, help="platform rule pack (douyin, kuaishou, taobao, tiktok, ...)"),
        lang: Optional[str] = typer.Option(None, "--lang", help="zh | en (default: the platform's, else zh)"),
        rules_dir: Optional[Path] = typer.Option(None, help="a folder with common/ category/ platform/ rule packs "
                                                             "to use instead of the built-in ones"),
        as_json: bool = typer.Option(False, "--json", help="one JSON object per input line"),
    ) -> None:
        """Flag absolute terms, efficacy claims, off-platform diversion (one text per stdin line)."""
        from models.compliance import ComplianceChecker, RulePackError

        try:
            checker = ComplianceChecker(category=category, platform=platform, language=lang, rules_dir=rules_dir)
        except RulePackError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2)

        for number, raw in enumerate(_stdin_lines(), 1):
            text = raw[:MAX_LINE_BYTES].decode("utf-8", errors="replace")
            try:
                if len(raw) > MAX_LINE_BYTES:
                    raise ValueError(f"line longer than {MAX_LINE_BYTES:,} bytes ({len(raw):,}); not checked")
                violations = checker.check(text)
            except Exception as exc:  # one bad line never stops the stream
                error = f"line {number}: {type(exc).__name__}: {exc}".splitlines()[0]
                if as_json:
                    _print_json({"text": text[:200], "error": error})
                else:
                    typer.echo(f"{number}\terror\t{error}")
                continue
            if as_json:
                _print_json({"text": text, "violations": [v.to_dict() for v in violations]})
            else:
                for v in violations:
                    typer.echo(f"{number}\t{v.severity}\t{v.kind}\t{v.term!r} [{v.start}:{v.end}]\t{v.rule}\t"
                               f"-> {v.suggestion}")
