"""``livelens classify``, ``livelens chat`` and ``livelens train-chat``.

classify / chat read one text per line on stdin (bytes: invalid UTF-8 becomes U+FFFD, lines
are cut to the models' limits) and print one result per line, JSON with ``--json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Iterator, Optional

import typer

from models.understanding.text import safe_text


def _stdin_lines() -> Iterator[str]:
    for raw in sys.stdin.buffer:
        yield safe_text(raw.rstrip(b"\r\n"))


def _print_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    @app.command("classify")
    def classify(
        category: Optional[str] = typer.Option(None, help="taxonomy category (default: settings, apparel)"),
        encoder: Optional[str] = typer.Option(None, help="use-multilingual | minilm | any transformers path or hub id"),
        taxonomy_dir: Optional[Path] = typer.Option(None, help="folder with extra/overriding taxonomy YAML"),
        as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
        evidence: bool = typer.Option(True, help="include the evidence in JSON output"),
    ) -> None:
        """Classify transcript sentences (one per stdin line) into selling-point classes."""
        from models.taxonomy import TaxonomyError, load_taxonomy
        from models.understanding.encoders import make_encoder
        from models.understanding.segment_classifier import SegmentClassifier
        from streams.settings import get_settings

        cfg = get_settings().understanding
        try:
            taxonomy = load_taxonomy(category or cfg.category, taxonomy_dir or cfg.taxonomy_dir)
        except TaxonomyError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2)
        classifier = SegmentClassifier(taxonomy, make_encoder(encoder or cfg.encoder), min_score=cfg.min_score)
        for text in _stdin_lines():
            result = classifier.classify(text)
            if as_json:
                out = {"text": text, "label": result.label, "confidence": result.confidence, "scores": result.scores}
                if evidence:
                    out["evidence"] = result.evidence
                _print_json(out)
            else:
                typer.echo(f"{result.label}\t{result.confidence:.2f}\t{text}")

    @app.command("chat")
    def chat(
        as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
        detail: bool = typer.Option(False, help="include per-class scores and evidence in JSON"),
    ) -> None:
        """Sentiment, emotion and intent of chat messages (one per stdin line)."""
        from models.understanding.chat import WEIGHTS_PATH, ChatAnalyzer
        from streams.settings import get_settings

        analyzer = ChatAnalyzer(get_settings().understanding.chat_weights or WEIGHTS_PATH)
        for text in _stdin_lines():
            result = analyzer.analyze(text)
            if as_json:
                _print_json({"text": text, **result.to_dict(detail=detail)})
            else:
                typer.echo(f"{result.sentiment.label}\t{result.emotion.label}\t{result.intent.label}\t{text}")

    @app.command("train-chat")
    def train_chat(
        data: Optional[Path] = typer.Option(None, "--data", help="folder laid out like ../shared/data (default: that)"),
        out: Optional[Path] = typer.Option(None, help="weights file (default: the package's weights/chat.npz)"),
        seed: int = typer.Option(0, help="solver seed (the split is a hash of each text, not random)"),
    ) -> None:
        """Train the chat sentiment + emotion heads; prints held-out figures as JSON."""
        from models.understanding.chat import WEIGHTS_PATH
        from models.understanding.chat_data import default_data_dir
        from models.understanding.chat_training import train_chat_models

        data_dir = data or default_data_dir()
        if not data_dir.is_dir():
            typer.echo(f"error: data folder not found: {data_dir}", err=True)
            raise typer.Exit(2)
        started = time.perf_counter()
        report = train_chat_models(data_dir, out or WEIGHTS_PATH, seed=seed)
        _print_json({**report.to_dict(), "wall_s": round(time.perf_counter() - started, 1)})
