"""``livelens train-fusion`` (offline training of the shared fusion model) and
``livelens generate-sessions`` (GENERATED sessions with known dynamics, as JSONL)."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("train-fusion")
    def train_fusion(
        data: Path = typer.Option(..., "--data", help="folder of session JSONL files (one raw window dict per line)"),
        out: Path = typer.Option(..., "--out", help="checkpoint file to write (the shared model new rooms warm-start from)"),
        epochs: int = typer.Option(12, help="passes over all windows"),
        learning_rate: float = typer.Option(None, help="AdamW learning rate (default: LIVELENS_FUSION__LEARNING_RATE)"),
        seed: int = typer.Option(0),
    ) -> None:
        """Train the attention fusion model over recorded (or generated) sessions."""
        import torch

        from models.fusion import FusionConfig, load_sessions, train_offline
        from streams.settings import get_settings

        sessions = load_sessions(data)
        if not sessions:
            raise typer.BadParameter(f"no *.jsonl sessions under {data}")
        lr = learning_rate if learning_rate is not None else get_settings().fusion.learning_rate
        torch.manual_seed(seed)
        learner, history = train_offline(sessions, FusionConfig(learning_rate=lr, seed=seed), epochs=epochs)
        path = learner.save(out)
        windows = sum(len(s.windows) for s in sessions)
        typer.echo(json.dumps({"checkpoint": str(path), "sessions": len(sessions), "windows": windows, "updates": learner.updates,
                               "loss_first_epoch": round(history[0], 4), "loss_last_epoch": round(history[-1], 4)}))

    @app.command("generate-sessions")
    def generate_sessions_command(
        out: Path = typer.Option(..., "--out", help="folder to write <room>.jsonl files into"),
        count: int = typer.Option(8, help="number of sessions"),
        windows: int = typer.Option(300, help="windows per session"),
        seed: int = typer.Option(0, help="seed of the first session"),
    ) -> None:
        """Write GENERATED sessions (models/fusion/scenario.py dynamics; not recordings) as JSONL."""
        from models.fusion import save_session
        from models.fusion.scenario import ScenarioConfig, generate_sessions

        for session in generate_sessions(count, seed, ScenarioConfig(windows=windows)):
            save_session(session, out / f"{session.room_id}.jsonl")
            typer.echo(session.description)
