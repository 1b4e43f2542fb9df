"""``livelens sample-room``: generate the recorded sample session (demo, tests, benchmarks)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    @app.command("sample-room")
    def sample_room(
        out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: <data_dir>/sample_room, i.e. var/sample_room)."),
        lang: str = typer.Option("both", "--lang", help="en, zh or both."),
        force: bool = typer.Option(False, "--force", help="Regenerate even when the outputs are current."),
    ) -> None:
        """Write room.mp4, script.json, chat.jsonl, commerce.jsonl, labels.json and manifest.json per language."""
        from livelens.sample_room import LANGS, default_out_dir, generate_room, is_current

        if lang not in (*LANGS, "both"):
            raise typer.BadParameter("--lang must be en, zh or both")
        out_dir = out if out is not None else default_out_dir()
        console = Console()
        table = Table("lang", "status", "duration s", "sentences", "chat", "commerce", "orders")
        for variant in LANGS if lang == "both" else (lang,):
            was_current = not force and is_current(out_dir / variant, variant)
            started = time.perf_counter()
            room_dir = generate_room(out_dir, variant, force=force)
            manifest = json.loads((room_dir / "manifest.json").read_text())
            status = "current (skipped)" if was_current else f"generated in {time.perf_counter() - started:.1f} s"
            table.add_row(variant, status, f"{manifest['duration']:.1f}", str(manifest["sentences"]),
                          str(manifest["counts"]["chat"]), str(manifest["counts"]["commerce"]),
                          str(manifest["counts"]["commerce_types"].get("order", 0)))
        console.print(table)
        console.print(f"written under {out_dir.resolve()}/<lang>/")
