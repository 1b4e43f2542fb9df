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
        thresholds: Optional[Path] = typer.Option(None, help="per-class thresholds YAML (default: the shipped selling_point_thresholds.yaml)"),
        catalog: Optional[Path] = typer.Option(None, help="room catalog YAML/JSON: link each sentence to the product it names"),
        as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
        evidence: bool = typer.Option(True, help="include the evidence in JSON output"),
    ) -> None:
        """Classify transcript sentences (one per stdin line) into selling-point classes.

        JSON: ``label`` (the top class), ``labels`` ([{class, score, start, end}]: every class
        above its threshold, ``text[start:end]`` its evidence), and ``product`` with --catalog."""
        from models.taxonomy import TaxonomyError, load_taxonomy
        from models.understanding.encoders import make_encoder
        from models.understanding.product_linker import CatalogError, ProductLinker
        from models.understanding.segment_classifier import SegmentClassifier
        from models.understanding.selling_points import MultiLabelClassifier, ThresholdsError, load_thresholds
        from streams.settings import get_settings

        cfg = get_settings().understanding
        try:
            taxonomy = load_taxonomy(category or cfg.category, taxonomy_dir or cfg.taxonomy_dir)
            limits = load_thresholds(thresholds) if thresholds else load_thresholds()
            linker = ProductLinker.from_file(catalog) if catalog else None
        except (TaxonomyError, ThresholdsError, CatalogError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2)
        classifier = SegmentClassifier(taxonomy, make_encoder(encoder or cfg.encoder, cfg.encoder_precision),
                                        min_score=cfg.min_score)
        multi = MultiLabelClassifier(classifier, limits)
        for text in _stdin_lines():
            try:
                result = multi.classify(text)
                product = linker.link(text) if linker else None
            except Exception as exc:  # noqa: BLE001 - a per-line error, never a crash
                if as_json:
                    _print_json({"text": text, "error": f"{type(exc).__name__}: {exc}"})
                else:
                    typer.echo(f"error\t{type(exc).__name__}: {exc}\t{text}")
                continue
            if as_json:
                out = {"text": result.text, "label": result.label, "confidence": result.confidence,
                       "labels": [label.to_dict() for label in result.labels], "scores": result.sentence.scores}
                if linker is not None:
                    out["product"] = product.to_dict() if product else None
                if evidence:
                    out["evidence"] = result.sentence.evidence
                _print_json(out)
            else:
                # the first three columns as before; more selling points and the product after them
                extra = "".join(f"\t+{label.cls}" for label in result.labels[1:])
                named = f"\tproduct={product.product_id}" if product else ""
                typer.echo(f"{result.label}\t{result.confidence:.2f}\t{result.text}{extra}{named}")

    @app.command("chat")
    def chat(
        as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
        detail: bool = typer.Option(False, help="include per-class scores and evidence in JSON"),
        encoder: Optional[str] = typer.Option(None, help="use-multilingual (default) | none: the lexicon + n-gram baseline"),
        batch: int = typer.Option(1, min=1, max=1024, help="lines embedded together (more: faster on a file, later on a live pipe)"),
    ) -> None:
        """Sentiment, emotion and intent of chat messages (one per stdin line).

        JSON has the decided labels and ``sentiment_score`` (p positive) and ``emotion_scores``
        (a probability for each of the 7 emotions); a line that cannot be analysed gets
        ``{"text", "error"}`` and the rest go on."""
        from models.understanding.chat import WEIGHTS_PATH, ChatAnalyzer
        from streams.settings import get_settings

        cfg = get_settings().understanding
        try:
            # offline, the encoder heads by default (the live worker's default is lexicon-only for its
            # per-message budget: understanding.chat_encoder); --encoder none for the lexicon heads
            analyzer = ChatAnalyzer(cfg.chat_weights or WEIGHTS_PATH, encoder=encoder or "use-multilingual",
                                    encoder_precision=cfg.encoder_precision)
        except (FileNotFoundError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2)

        def emit(text: str, result) -> None:
            if as_json:
                _print_json({"text": text, **result.to_dict(detail=detail)})
            else:
                typer.echo(f"{result.sentiment.label}\t{result.emotion.label}\t{result.intent.label}\t{text}")

        def run(texts: list[str]) -> None:
            try:
                results = analyzer.analyze_many(texts)
            except Exception:  # one bad line must not hide the others: retry them one by one
                results = None
            for i, text in enumerate(texts):
                try:
                    emit(text, results[i] if results is not None else analyzer.analyze(text))
                except Exception as exc:  # noqa: BLE001 - a per-line error, never a crash
                    if as_json:
                        _print_json({"text": text, "error": f"{type(exc).__name__}: {exc}"})
                    else:
                        typer.echo(f"error\t{type(exc).__name__}: {exc}\t{text}")

        pending: list[str] = []
        for text in _stdin_lines():
            pending.append(text)
            if len(pending) >= batch:
                run(pending)
                pending = []
        if pending:
            run(pending)

    @app.command("train-chat")
    def train_chat(
        data: Optional[Path] = typer.Option(None, "--data", help="folder laid out like ../shared/data (default: that)"),
        out: Optional[Path] = typer.Option(None, help="weights file (default: the package's weights/chat_encoder.npz, or chat.npz with --baseline)"),
        seed: int = typer.Option(0, help="solver seed (the splits are hashes of each text, not random)"),
        baseline: bool = typer.Option(False, "--baseline", help="train the lexicon + n-gram baseline (chat.npz) instead of the encoder heads"),
        intents: Optional[Path] = typer.Option(None, help="labelled intent lines (default: models/understanding/data/intents_train.jsonl)"),
    ) -> None:
        """Train the chat heads (sentiment, emotion, intent); prints held-out figures as JSON.

        Reproducible: the same data, seed and encoder give the same file. Sentence embeddings of
        the training sets are cached under var/cache/embeddings (the first run embeds ~30k texts:
        a few minutes on one core)."""
        from models.understanding.chat import WEIGHTS_PATH
        from models.understanding.chat_data import default_data_dir
        from models.understanding.chat_training import train_chat_models, train_encoder_heads

        data_dir = data or default_data_dir()
        if not data_dir.is_dir():
            typer.echo(f"error: data folder not found: {data_dir}", err=True)
            raise typer.Exit(2)
        if intents is not None and not intents.is_file():
            typer.echo(f"error: intents file not found: {intents}", err=True)
            raise typer.Exit(2)
        started = time.perf_counter()
        if baseline:
            report = train_chat_models(data_dir, out or WEIGHTS_PATH, seed=seed).to_dict()
        else:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                tasks: dict[str, int] = {}

                def progress(what: str, done: int, total: int) -> None:
                    if what not in tasks:
                        tasks[what] = bar.add_task(f"embedding {what}", total=total)
                    bar.update(tasks[what], completed=done)

                try:
                    report = train_encoder_heads(data_dir, out, seed=seed, intents_path=intents,
                                                 progress=progress).to_dict()
                except (FileNotFoundError, ValueError) as exc:
                    typer.echo(f"error: {exc}", err=True)
                    raise typer.Exit(2)
        _print_json({**report, "wall_s": round(time.perf_counter() - started, 1)})
