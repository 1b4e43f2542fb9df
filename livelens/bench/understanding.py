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

    from models.understanding.chat_data import SENTIMENT_TEST_FRACTION, load_sentiment, split

    _, test = split(load_sentiment(data_dir), SENTIMENT_TEST_FRACTION)
    by_cat: dict[str, list] = defaultdict(list)
    for ex in test:
        if len(by_cat[ex.group]) < per_category:
            by_cat[ex.group].append(ex)
    analyzer, baseline = _analyzers()
    rows, totals = [], Counter()
    for cat, items in sorted(by_cat.items()):
        texts = [e.text for e in items]
        gold = [e.label == "positive" for e in items]
        ours, ours_ms = _timed_batch(lambda b: [a.sentiment_score >= 0.5 for a in analyzer.analyze_many(b)], texts)
        base, _ = _timed_batch(lambda b: [a.sentiment_score >= 0.5 for a in baseline.analyze_many(b)], texts)
        snow, snow_ms = _timed(lambda t: SnowNLP(t).sentiments >= 0.5, texts)
        ours_ok = sum(p == g for p, g in zip(ours, gold))
        base_ok = sum(p == g for p, g in zip(base, gold))
        snow_ok = sum(p == g for p, g in zip(snow, gold))
        totals.update(n=len(items), ours=ours_ok, base=base_ok, snow=snow_ok)
        rows.append({"category": cat, "n": len(items), "livelens_acc": round(ours_ok / len(items), 4),
                     "lexicon_acc": round(base_ok / len(items), 4),
                     "snownlp_acc": round(snow_ok / len(items), 4), "livelens_ms": round(ours_ms, 3),
                     "snownlp_ms": round(snow_ms, 3)})
    rows.append({"category": "ALL", "n": totals["n"], "livelens_acc": round(totals["ours"] / totals["n"], 4),
                 "lexicon_acc": round(totals["base"] / totals["n"], 4),
                 "snownlp_acc": round(totals["snow"] / totals["n"], 4), "livelens_ms": None, "snownlp_ms": None})
    return {"rows": rows, "note": "held-out split (hash of text); the encoder heads never saw 衣服 at all, the "
                                  "lexicon+n-gram baseline was trained on the rest of 衣服; snownlp's training data "
                                  "overlaps books/computers/hotels"}


def _analyzers():
    """(encoder analyzer, lexicon + n-gram baseline), made once per run."""
    from models.understanding.chat import ChatAnalyzer

    if "analyzers" not in _STATE:
        _STATE["analyzers"] = (ChatAnalyzer(encoder_precision=_precision()), ChatAnalyzer(encoder=None))
    return _STATE["analyzers"]


_STATE: dict = {}


def _precision() -> str:
    """The encoder precision of this run (``--precision``; float32 unless given)."""
    return _STATE.get("precision", "float32")


def _timed_batch(fn: Callable[[list], list], items: list, batch: int = 32) -> tuple[list, float]:
    """``fn`` over ``items`` in batches; ms per item."""
    start = time.perf_counter()
    out: list = []
    for i in range(0, len(items), batch):
        out.extend(fn(items[i:i + batch]))
    return out, (time.perf_counter() - start) * 1000 / max(len(items), 1)


def bench_unseen_category(data_dir: Path, limit: int) -> dict:
    """Sentiment on every review of the category the encoder heads never trained on."""
    from snownlp import SnowNLP

    from models.understanding.chat_data import SENTIMENT_HELD_OUT_CATEGORY, load_sentiment, sentiment_category_split

    train, test, dropped = sentiment_category_split(load_sentiment(data_dir))
    if limit:  # a stable sample across the file (it is sorted by label): by a hash of the text
        import zlib

        test = sorted(test, key=lambda e: zlib.crc32(e.text.encode("utf-8")))[:limit]
    texts, gold = [e.text for e in test], [e.label == "positive" for e in test]
    analyzer, baseline = _analyzers()
    rows = []
    for name, fn, batched in (
        ("livelens (USE-multilingual + n-gram LR + lexicon)", lambda b: [a.sentiment_score >= 0.5 for a in analyzer.analyze_many(b)], True),
        ("lexicon + n-gram LR (previous model; trained on part of this category)", lambda b: [a.sentiment_score >= 0.5 for a in baseline.analyze_many(b)], True),
        ("snownlp", lambda t: SnowNLP(t).sentiments >= 0.5, False),
    ):
        pred, ms = _timed_batch(fn, texts) if batched else _timed(fn, texts)
        rows.append({"model": name, "accuracy": round(sum(p == g for p, g in zip(pred, gold)) / max(len(gold), 1), 4),
                     "ms": round(ms, 3)})
    return {"category": SENTIMENT_HELD_OUT_CATEGORY, "n_test": len(test), "n_train": len(train),
            "near_duplicates_dropped": dropped, "positive_share": round(sum(gold) / max(len(gold), 1), 4), "rows": rows}


def _macro_f1(gold: list[str], pred: list[str], labels: list[str]) -> float:
    f1s = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / len(f1s)


def bench_emotion(data_dir: Path) -> dict:
    from models.understanding.chat_data import EMOTIONS, emotion_split, load_emotion

    train, test, dropped = emotion_split(load_emotion(data_dir))
    texts, gold = [e.text for e in test], [e.label for e in test]
    analyzer, baseline = _analyzers()

    def forced(model):  # the benchmark labels always carry one of the 7: the top probability
        return lambda batch: [max(EMOTIONS, key=a.emotion_probabilities.__getitem__) for a in model.analyze_many(batch)]

    ours, ours_ms = _timed_batch(forced(analyzer), texts)
    base, base_ms = _timed_batch(forced(baseline), texts)
    majority = Counter(e.label for e in train).most_common(1)[0][0]

    def row(name: str, pred: list[str], ms: float) -> dict:
        return {"model": name, "macro_f1": round(_macro_f1(gold, pred, EMOTIONS), 4),
                "accuracy": round(sum(g == p for g, p in zip(gold, pred)) / len(gold), 4), "ms": round(ms, 3)}

    rows = [
        row("livelens (USE-multilingual + n-gram LR + lexicon)", ours, ours_ms),
        row("lexicon + n-gram LR (previous model)", base, base_ms),
        row(f"majority ({majority})", [majority] * len(gold), 0.0),
    ]
    none_rate = sum(a.emotion.label == "none" for a in analyzer.analyze_many(texts)) / len(texts)
    try:
        rows.append(_cnsenti_row(texts, gold, majority, EMOTIONS))
    except ImportError:
        rows.append({"model": "cnsenti (not installed: pip install cnsenti)", "macro_f1": None, "accuracy": None, "ms": None})
    per_class = {}
    for label in EMOTIONS:
        tp = sum(g == label and p == label for g, p in zip(gold, ours))
        fp = sum(g != label and p == label for g, p in zip(gold, ours))
        fn = sum(g == label and p != label for g, p in zip(gold, ours))
        per_class[label] = round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0
    return {"n_test": len(test), "n_train": len(train), "near_duplicates_dropped": dropped, "rows": rows,
            "livelens_none_rate": round(none_rate, 4), "livelens_f1_per_class": per_class,
            "test_distribution": dict(Counter(gold).most_common()),
            "train_distribution": dict(Counter(e.label for e in train).most_common())}


def bench_intents() -> dict:
    """Macro-F1 per language on the held-out intent lines, encoder heads vs the lexicon rules."""
    from models.understanding.chat import INTENTS
    from models.understanding.chat_data import INTENTS_TEST_PATH, INTENTS_TRAIN_PATH, load_intents

    test = load_intents(INTENTS_TEST_PATH)
    texts = [e.text for e in test]
    analyzer, baseline = _analyzers()
    ours = [a.intent.label for a in analyzer.analyze_many(texts)]
    base = [a.intent.label for a in baseline.analyze_many(texts)]
    rows = []
    for lang in ("zh", "en", "mixed", "all"):
        idx = [i for i, e in enumerate(test) if lang == "all" or e.lang == lang]
        gold = [test[i].intent for i in idx]
        labels = [i for i in INTENTS if i in set(gold)]  # classes present in this language's lines
        rows.append({"lang": lang, "n": len(idx),
                     "livelens_macro_f1": round(_macro_f1(gold, [ours[i] for i in idx], labels), 4),
                     "lexicon_macro_f1": round(_macro_f1(gold, [base[i] for i in idx], labels), 4),
                     "livelens_accuracy": round(sum(ours[i] == test[i].intent for i in idx) / len(idx), 4),
                     "lexicon_accuracy": round(sum(base[i] == test[i].intent for i in idx) / len(idx), 4)})
    gold = [e.intent for e in test]
    per_class = {label: {"livelens_f1": round(_macro_f1(gold, ours, [label]), 4),
                         "lexicon_f1": round(_macro_f1(gold, base, [label]), 4),
                         "support": gold.count(label)} for label in INTENTS}
    return {"n_test": len(test), "n_train": len(load_intents(INTENTS_TRAIN_PATH)), "rows": rows,
            "per_class": per_class, "test_file": str(INTENTS_TEST_PATH.name)}


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
        f"livelens ({encoder_name} + lexical)": SegmentClassifier(taxonomy, make_encoder(encoder_name, _precision())),
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


def load_jave_split(data_dir: Path, split: str) -> list[tuple[str, set[str]]]:
    """JAVE lines of one file (train | valid | test), as load_jave."""
    out = []
    for path in sorted((data_dir / "selling_points").glob(f"*_{split}.sample")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                tagged = line.split("\t")[-1]
                out.append((_ANY_TAG_RE.sub("", tagged),
                            {JAVE_TAG_TO_CLASS[t] for t in _TAG_RE.findall(tagged) if t in JAVE_TAG_TO_CLASS}))
    return out


def bench_multilabel(data_dir: Path, encoder_name: str) -> dict:
    """Per-sentence class sets on JAVE: multi-label (clauses + thresholds) vs the single top label.

    Only the classes JAVE's tags map to are judged (a predicted price class is neither right nor
    wrong here). Thresholds were chosen on JAVE train+valid; ``test`` is the held-out figure.
    """
    from models.taxonomy import load_taxonomy
    from models.understanding.chat_encoder import shared_encoder
    from models.understanding.segment_classifier import SegmentClassifier
    from models.understanding.selling_points import MultiLabelClassifier

    judged = set(JAVE_TAG_TO_CLASS.values())
    multi = MultiLabelClassifier(SegmentClassifier(load_taxonomy("apparel"), shared_encoder(encoder_name, _precision())))
    out = {}
    for split in ("test", "train+valid"):
        items = [x for part in split.split("+") for x in load_jave_split(data_dir, part)]
        if not items:
            continue
        results, ms = _timed_batch(multi.classify_many, [t for t, _ in items], batch=16)
        counts = {"multi": Counter(), "single": Counter()}
        exact = Counter()
        for result, (_, gold) in zip(results, items):
            for name, pred in (("multi", {l.cls for l in result.labels} & judged),
                               ("single", {result.sentence.label} & judged)):
                counts[name].update(tp=len(pred & gold), fp=len(pred - gold), fn=len(gold - pred))
                exact[name] += pred == gold
        rows = []
        for name, label in (("multi", "multi-label (clauses, per-class thresholds)"), ("single", "single label (top class, baseline)")):
            c = counts[name]
            p = c["tp"] / max(c["tp"] + c["fp"], 1)
            r = c["tp"] / max(c["tp"] + c["fn"], 1)
            rows.append({"model": label, "precision": round(p, 4), "recall": round(r, 4),
                         "f1": round(2 * p * r / max(p + r, 1e-9), 4),
                         "exact_set": round(exact[name] / len(items), 4)})
        out[split] = {"n": len(items), "labels_per_sentence": round(sum(len(r.labels) for r in results) / len(items), 3),
                      "gold_per_sentence": round(sum(len(g) for _, g in items) / len(items), 3),
                      "ms_per_sentence": round(ms, 3), "rows": rows}
    return out


def bench_cost() -> dict:
    """ms per message (one at a time, and in batches of 32) and the RSS the encoder analyzer adds,
    measured in a fresh interpreter so nothing else this benchmark loaded is counted."""
    import subprocess

    probe = (
        "import json, time, os\n"
        "def rss():\n"
        "    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20\n"
        "import numpy, yaml\n"
        "from models.understanding import chat\n"
        "before = rss()\n"
        f"a = chat.ChatAnalyzer(encoder_precision={_precision()!r}); a.analyze('warm up 预热')\n"
        "loaded = rss()\n"
        "msgs = [f'{t}{i}' for i in range(40) for t in ('这件多少钱', '主播好美😍', 'what size for 165cm', '已拍两件', '质量太差了要退货')]\n"
        "long = [str(i) + '这件衣服面料很好' * 40 for i in range(64)]\n"
        "t = time.perf_counter(); [a.analyze(m) for m in msgs[:100]]; single = (time.perf_counter() - t) * 10\n"
        "t = time.perf_counter(); [a.analyze_many(msgs[i:i + 32]) for i in range(100, 196, 32)]; batched = (time.perf_counter() - t) * 1000 / 96\n"
        "t = time.perf_counter(); [a.analyze_many(long[i:i + 32]) for i in range(0, 64, 32)]; long_ms = (time.perf_counter() - t) * 1000 / 64\n"
        "b = chat.ChatAnalyzer(encoder=None); t = time.perf_counter(); [b.analyze(m) for m in msgs]; base = (time.perf_counter() - t) * 1000 / len(msgs)\n"
        "print(json.dumps({'single_ms': round(single, 3), 'batch32_ms': round(batched, 3), 'batch32_256char_ms': round(long_ms, 3),\n"
        "                  'lexicon_ms': round(base, 4), 'rss_growth_mb': round(loaded - before, 1), 'rss_after_mb': round(rss(), 1)}))\n"
    )
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=repo,
                          env={**__import__("os").environ, "PYTHONPATH": str(repo)}, timeout=600)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["probe failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _table(console, title: str, rows: list[dict], columns: list[str]) -> None:
    from rich.table import Table

    t = Table(title=title)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*[str(row.get(c)) for c in columns])
    console.print(t)


def _print_tables(report: dict, command: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if "unseen" in report:
        u = report["unseen"]
        _table(console, f"Sentiment on an unseen category: every {u['category']} review (n={u['n_test']}, "
                        f"positive {u['positive_share']}; trained on {u['n_train']} of the other 9 categories, "
                        f"{u['near_duplicates_dropped']} near-duplicates dropped)", u["rows"], ["model", "accuracy", "ms"])
    _table(console, "Sentiment accuracy, held-out reviews per category (livelens vs lexicon+n-gram vs snownlp)",
           report["sentiment"]["rows"], ["category", "n", "livelens_acc", "lexicon_acc", "snownlp_acc", "livelens_ms", "snownlp_ms"])
    e = report["emotion"]
    _table(console, f"Emotion (CLUEmotion held-out, n={e['n_test']}, trained on {e['n_train']}; 7 classes, macro-F1)",
           e["rows"], ["model", "macro_f1", "accuracy", "ms"])
    console.print(f"test classes: {e['test_distribution']}")
    console.print(f"livelens F1 per class: {e['livelens_f1_per_class']}")
    console.print(f"livelens emotion 'none' rate on these posts (chat mode): {e['livelens_none_rate']}")
    if "intents" in report:
        i = report["intents"]
        _table(console, f"Live-commerce intents, held-out chat lines ({i['test_file']}, n={i['n_test']}; trained on "
                        f"{i['n_train']}): macro-F1 over the classes present", i["rows"],
               ["lang", "n", "livelens_macro_f1", "lexicon_macro_f1", "livelens_accuracy", "lexicon_accuracy"])
        _table(console, "Intent F1 per class (all languages)",
               [{"intent": k, **v} for k, v in i["per_class"].items()], ["intent", "livelens_f1", "lexicon_f1", "support"])
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
    for split, m in report.get("multilabel", {}).items():
        _table(console, f"Multi-label selling points, JAVE {split} (n={m['n']}; labels/sentence {m['labels_per_sentence']}, "
                        f"gold {m['gold_per_sentence']}; {m['ms_per_sentence']} ms/sentence)", m["rows"],
               ["model", "precision", "recall", "f1", "exact_set"])
    if "cost" in report:
        c = report["cost"]
        console.print(f"chat cost (fresh process): {c}")
    if "chat_ms" in report:
        console.print(f"chat analysis: {report['chat_ms']:.3f} ms per message (all three heads, one at a time)")
    console.print(f"command: {command}")


def register(app: typer.Typer) -> None:
    @app.command("understanding")
    def understanding(
        data: Optional[Path] = typer.Option(None, "--data", help="folder laid out like ../shared/data"),
        per_category: int = typer.Option(600, help="held-out reviews per product category (snownlp is slow)"),
        unseen: int = typer.Option(0, help="reviews of the unseen category to score (0: all of them)"),
        threshold: Optional[float] = typer.Option(None, help="selling-point score at which an attribute counts as detected (default: the classifier's detect_threshold)"),
        encoder: str = typer.Option("use-multilingual", help="sentence encoder for the segment classifier"),
        precision: str = typer.Option("float32", help="the encoder's arithmetic: float32 | bfloat16 | auto "
                                      "(understanding.encoder_precision)"),
        cost: bool = typer.Option(True, help="measure ms per message and the RSS growth in a fresh process"),
        as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    ) -> None:
        """Sentiment (unseen category, per category) vs lexicon+n-gram and snownlp, emotion macro-F1
        vs baselines, intent macro-F1 per language vs the lexicon rules, JAVE attribute P/R and
        multi-label vs single-label, ms per item and memory."""
        from rich.progress import Progress

        from models.understanding.chat_data import default_data_dir, load_emotion

        from models.understanding.encoders import PRECISIONS

        if precision not in PRECISIONS:
            raise typer.BadParameter(f"choose one of {', '.join(PRECISIONS)}", param_hint="--precision")
        _STATE["precision"] = precision
        data_dir = data or default_data_dir()
        if not data_dir.is_dir():
            typer.echo(f"error: data folder not found: {data_dir}", err=True)
            raise typer.Exit(2)
        command = "livelens bench understanding " + " ".join(shlex.quote(a) for a in sys.argv[3:])
        report: dict = {"data": str(data_dir), "precision": precision}
        steps = [
            ("cost", "cost (fresh process)", bench_cost if cost else None),
            ("unseen", "sentiment, unseen category", lambda: bench_unseen_category(data_dir, unseen)),
            ("sentiment", "sentiment per category", lambda: bench_sentiment(data_dir, per_category)),
            ("emotion", "emotion", lambda: bench_emotion(data_dir)),
            ("intents", "intents", bench_intents),
            ("selling_points", "selling points (JAVE)", lambda: bench_selling_points(data_dir, threshold, encoder)),
            ("multilabel", "multi-label selling points (JAVE)", lambda: bench_multilabel(data_dir, encoder)),
        ]
        with Progress(transient=True, disable=as_json) as bar:
            task = bar.add_task("bench understanding", total=len(steps))
            for key, what, fn in steps:
                bar.update(task, description=what)
                if fn is not None:
                    report[key] = fn()
                bar.advance(task)
        analyzer, _ = _analyzers()
        sample = [e.text[:60] for e in load_emotion(data_dir)[:500]]  # short, chat-like lines
        _, report["chat_ms"] = _timed(analyzer.analyze, sample)
        report["command"] = command
        if as_json:
            typer.echo(json.dumps(report, ensure_ascii=False, indent=1))
        else:
            _print_tables(report, command)
