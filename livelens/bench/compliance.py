"""``livelens bench compliance``: precision / recall / F1 of the compliance detector per kind,
against the naive keyword list (the same rule terms, plain substring match), and lines per second
on one core.

Data (ships with livelens, ``livelens/bench/data/``), one JSON object per line with the expected
violation kinds of the line (line level: a line is a true positive for a kind when both expect
and find that kind):

* ``compliance_heldout.jsonl`` — written FIRST, before any rule existed, and not looked at while
  the rules were tuned; the honest figure.
* ``compliance_labelled.jsonl`` — the tuning set: the rules were adjusted until it passed.

``source`` is ``written`` (plain claims), ``evasion`` (the same with spaces, dots, homophones,
look-alikes, numerals) or ``hard_negative`` (harmless senses, negation, reported speech).
Real text (when ``../shared/data`` is there): Chinese shopping reviews of the apparel, food,
beauty and electronics kinds (``sentiment/online_shopping_train.csv``; third-party, unlabelled,
not live speech). Lines 0-499 of each category were read while tuning; lines 500-999 were not.
On the unseen part the bench counts flagged lines for the detector and the keyword list, and
measures lines/s on these longer lines.

Held-out lines that are near-duplicates of a tuning line (same skeleton, or character-bigram
Jaccard >= 0.8) are dropped from the held-out figures, and counted.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import typer

from models.compliance import ComplianceChecker, KINDS
from models.compliance.normalise import skeleton

DATA_DIR = Path(__file__).resolve().parent / "data"
TUNING_FILE = DATA_DIR / "compliance_labelled.jsonl"
HELDOUT_FILE = DATA_DIR / "compliance_heldout.jsonl"
SOURCES = ("written", "evasion", "hard_negative")


@dataclass(frozen=True)
class Example:
    text: str
    kinds: frozenset[str]
    source: str
    lang: str
    category: str | None
    platform: str | None


def load_examples(path: Path) -> list[Example]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        kinds = frozenset(row["kinds"])
        unknown = kinds - set(KINDS)
        if unknown or row["source"] not in SOURCES or row["lang"] not in ("zh", "en"):
            raise ValueError(f"{path}:{number}: bad kinds/source/lang in {row}")
        out.append(Example(row["text"], kinds, row["source"], row["lang"], row.get("category"), row.get("platform")))
    return out


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def near_duplicates(held_out: list[Example], tuning: list[Example], threshold: float = 0.8) -> set[int]:
    """Indexes of held-out examples that (nearly) repeat a tuning example."""
    tuning_skeletons = [skeleton(e.text).text for e in tuning]
    tuning_grams = [_bigrams(s) for s in tuning_skeletons]
    exact = set(tuning_skeletons)
    dupes = set()
    for i, example in enumerate(held_out):
        s = skeleton(example.text).text
        if s in exact:
            dupes.add(i)
            continue
        grams = _bigrams(s)
        for other in tuning_grams:
            if len(grams & other) / len(grams | other) >= threshold:
                dupes.add(i)
                break
    return dupes


# ------------------------------------------------------------------------------ predictors


class _Checkers:
    """One checker per (category, platform, language), built on first use."""

    def __init__(self) -> None:
        self._cache: dict[tuple, ComplianceChecker] = {}

    def get(self, example: Example) -> ComplianceChecker:
        key = (example.category, example.platform, example.lang)
        if key not in self._cache:
            self._cache[key] = ComplianceChecker(category=example.category, platform=example.platform,
                                                 language=example.lang)
        return self._cache[key]


def detector_predict(checkers: _Checkers) -> Callable[[Example], frozenset[str]]:
    return lambda e: frozenset(v.kind for v in checkers.get(e).check(e.text))


def keyword_baseline_predict(checkers: _Checkers) -> Callable[[Example], frozenset[str]]:
    """The naive keyword list: the same rules' terms as plain case-insensitive substrings of the
    raw text; no normalisation, patterns, homophones, exceptions or context."""
    term_lists: dict[int, list[tuple[str, str]]] = {}

    def terms_of(checker: ComplianceChecker) -> list[tuple[str, str]]:
        key = id(checker)
        if key not in term_lists:
            term_lists[key] = [(t.lower(), r.kind) for r in checker.rules for t in r.terms]
        return term_lists[key]

    def predict(e: Example) -> frozenset[str]:
        text = e.text.lower()
        return frozenset(kind for term, kind in terms_of(checkers.get(e)) if term in text)

    return predict


# ------------------------------------------------------------------------------ scoring


@dataclass
class Score:
    tp: Counter = field(default_factory=Counter)
    fp: Counter = field(default_factory=Counter)
    fn: Counter = field(default_factory=Counter)
    lines: int = 0
    hard_negative_lines: int = 0
    hard_negative_flagged: int = 0
    evasion_lines: int = 0
    evasion_caught: int = 0

    def add(self, expected: frozenset[str], found: frozenset[str], source: str) -> None:
        self.lines += 1
        for kind in found & expected:
            self.tp[kind] += 1
        for kind in found - expected:
            self.fp[kind] += 1
        for kind in expected - found:
            self.fn[kind] += 1
        if source == "hard_negative":
            self.hard_negative_lines += 1
            self.hard_negative_flagged += bool(found)
        if source == "evasion":
            self.evasion_lines += 1
            self.evasion_caught += expected <= found

    @staticmethod
    def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
        p = tp / (tp + fp) if tp + fp else None
        r = tp / (tp + fn) if tp + fn else None
        f = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
        return {"precision": _round(p), "recall": _round(r), "f1": _round(f), "tp": tp, "fp": fp, "fn": fn}

    def summary(self) -> dict[str, Any]:
        per_kind = {k: self._prf(self.tp[k], self.fp[k], self.fn[k]) for k in KINDS
                    if self.tp[k] + self.fp[k] + self.fn[k]}
        overall = self._prf(sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values()))
        return {
            "lines": self.lines, "overall": overall, "per_kind": per_kind,
            "hard_negatives_flagged": f"{self.hard_negative_flagged}/{self.hard_negative_lines}",
            "evasions_caught": f"{self.evasion_caught}/{self.evasion_lines}",
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def score(examples: Iterable[Example], predict: Callable[[Example], frozenset[str]]) -> Score:
    result = Score()
    for example in examples:
        result.add(example.kinds, predict(example), example.source)
    return result


def lines_per_second(examples: list[Example], predict: Callable[[Example], frozenset[str]], min_cpu_s: float) -> float:
    """Lines checked per CPU second of this one process (one core), after a warm-up pass."""
    for example in examples:
        predict(example)
    done, start = 0, time.process_time()
    while True:
        for example in examples:
            predict(example)
        done += len(examples)
        elapsed = time.process_time() - start
        if elapsed >= min_cpu_s:
            return done / elapsed


#: review category in online_shopping_10_cats -> our category
REVIEW_CATEGORIES = {"衣服": "apparel", "水果": "food", "蒙牛": "food", "洗发水": "beauty", "手机": "electronics",
                     "平板": "electronics", "计算机": "electronics"}


def real_reviews(shared_dir: Path, skip: int = 500, take: int = 500) -> list[Example]:
    """Reviews ``skip``..``skip+take`` of each of our categories (the part not read while tuning)."""
    import csv

    path = shared_dir / "sentiment" / "online_shopping_train.csv"
    seen: Counter = Counter()
    out = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            category = REVIEW_CATEGORIES.get(row["cat"])
            if category is None:
                continue
            seen[category] += 1
            if skip < seen[category] <= skip + take:
                out.append(Example(row["review"], frozenset(), "real", "zh", category, None))
    return out


def real_text_flags(examples: list[Example], predictors: dict[str, Callable[[Example], frozenset[str]]],
                    min_cpu_s: float) -> dict[str, Any]:
    result: dict[str, Any] = {"lines": len(examples),
                              "mean_chars": round(sum(len(e.text) for e in examples) / max(len(examples), 1), 1)}
    for name, predict in predictors.items():
        kinds: Counter = Counter()
        flagged = 0
        for example in examples:
            found = predict(example)
            flagged += bool(found)
            kinds.update(found)
        result[name] = {"flagged_lines": flagged, "per_kind": dict(kinds),
                        "lines_per_second_one_core": round(lines_per_second(examples, predict, min_cpu_s))}
    return result


def run(tuning_file: Path = TUNING_FILE, heldout_file: Path = HELDOUT_FILE, min_cpu_s: float = 2.0,
        shared_dir: Path | None = None) -> dict[str, Any]:
    tuning = load_examples(tuning_file)
    held_out_all = load_examples(heldout_file)
    dupes = near_duplicates(held_out_all, tuning)
    held_out = [e for i, e in enumerate(held_out_all) if i not in dupes]
    checkers = _Checkers()
    predictors = {"detector": detector_predict(checkers), "keyword_baseline": keyword_baseline_predict(checkers)}
    sets = {"held_out": held_out, "tuning": tuning, "all": tuning + held_out}
    result: dict[str, Any] = {
        "files": {"tuning": str(tuning_file), "held_out": str(heldout_file)},
        "lines": {"tuning": len(tuning), "held_out": len(held_out), "held_out_near_duplicates_dropped": len(dupes)},
        "by_source": dict(Counter(e.source for e in tuning + held_out)),
        "by_language": dict(Counter(e.lang for e in tuning + held_out)),
    }
    for name, predict in predictors.items():
        result[name] = {set_name: score(examples, predict).summary() for set_name, examples in sets.items()}
        result[name]["lines_per_second_one_core"] = round(lines_per_second(sets["all"], predict, min_cpu_s))
    # transcripts run longer than labelled lines: six zh lines of one room joined into one
    zh = [e for e in tuning if e.lang == "zh" and e.category is None and e.platform == "douyin"]
    long_lines = [Example("，".join(x.text for x in zh[i:i + 6]), frozenset(), "long", "zh", None, "douyin")
                  for i in range(0, len(zh) - 5, 6)]
    result["long_lines"] = {
        "lines": len(long_lines),
        "mean_chars": round(sum(len(e.text) for e in long_lines) / max(len(long_lines), 1), 1),
        "detector_lines_per_second_one_core": round(lines_per_second(long_lines, predictors["detector"], min_cpu_s)),
    }

    from livelens.sample_room import shared_data_dir

    shared = shared_dir or shared_data_dir()
    if (shared / "sentiment" / "online_shopping_train.csv").is_file():
        result["real_reviews_unseen"] = real_text_flags(real_reviews(shared), predictors, min_cpu_s)
    else:
        result["real_reviews_unseen"] = {"skipped": f"../shared/data not found ({shared}); no real-text figures"}
    result["misses_held_out"] = [
        {"text": e.text, "expected": sorted(e.kinds), "found": sorted(predictors["detector"](e))}
        for e in held_out if predictors["detector"](e) != e.kinds
    ]
    return result


# ------------------------------------------------------------------------------ CLI


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _print(result: dict[str, Any], command: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]$ {command}[/bold]")
    lines = result["lines"]
    console.print(f"lines: tuning {lines['tuning']}, held-out {lines['held_out']} "
                  f"({lines['held_out_near_duplicates_dropped']} near-duplicates of tuning lines dropped); "
                  f"by source {result['by_source']}, by language {result['by_language']}")
    for set_name in ("held_out", "tuning", "all"):
        table = Table(title=f"{set_name.replace('_', '-')} set — line-level precision / recall / F1")
        for col in ("kind", "detector P", "R", "F1", "keyword list P", "R", "F1"):
            table.add_column(col, justify="left" if col == "kind" else "right")
        det, base = result["detector"][set_name], result["keyword_baseline"][set_name]
        kinds = list(dict.fromkeys([*det["per_kind"], *base["per_kind"]]))
        for kind in [*kinds, "overall"]:
            d = det["overall"] if kind == "overall" else det["per_kind"].get(kind, {})
            b = base["overall"] if kind == "overall" else base["per_kind"].get(kind, {})
            table.add_row(kind, *(_fmt(d.get(m)) for m in ("precision", "recall", "f1")),
                          *(_fmt(b.get(m)) for m in ("precision", "recall", "f1")))
        console.print(table)
        console.print(f"  hard negatives flagged: detector {det['hard_negatives_flagged']}, "
                      f"keyword list {base['hard_negatives_flagged']}; evasions caught: detector "
                      f"{det['evasions_caught']}, keyword list {base['evasions_caught']}")
    console.print(f"machine reference {result.get('machine_reference_ms')} ms (livelens/bench/machine.py; lower is faster)")
    console.print(f"speed, one core: detector {result['detector']['lines_per_second_one_core']:,} lines/s, "
                  f"keyword list {result['keyword_baseline']['lines_per_second_one_core']:,} lines/s")
    long = result["long_lines"]
    console.print(f"long lines ({long['lines']} of six joined zh lines, mean {long['mean_chars']} characters): "
                  f"detector {long['detector_lines_per_second_one_core']:,} lines/s, one core")
    real = result["real_reviews_unseen"]
    if "skipped" in real:
        console.print(f"real reviews: {real['skipped']}")
    else:
        console.print(f"real shopping reviews not read while tuning ({real['lines']} lines, mean {real['mean_chars']} "
                      f"characters; unlabelled): flagged lines — detector {real['detector']['flagged_lines']} "
                      f"{real['detector']['per_kind']}, keyword list {real['keyword_baseline']['flagged_lines']} "
                      f"{real['keyword_baseline']['per_kind']}; speed on these, one core: detector "
                      f"{real['detector']['lines_per_second_one_core']:,} lines/s, keyword list "
                      f"{real['keyword_baseline']['lines_per_second_one_core']:,} lines/s")
    if result["misses_held_out"]:
        console.print("held-out lines the detector gets wrong:")
        for miss in result["misses_held_out"]:
            console.print(f"  {miss['text']!r}: expected {miss['expected']}, found {miss['found']}", markup=False)


def register(app: typer.Typer) -> None:
    @app.command("compliance")
    def bench_compliance(
        min_cpu_s: float = typer.Option(2.0, "--min-cpu-s", help="CPU seconds spent measuring lines/s per predictor"),
        shared_data: Optional[Path] = typer.Option(None, help="the shared data folder (default: ../shared/data)"),
        as_json: bool = typer.Option(False, "--json", help="print the figures as one JSON object"),
        pipeline: bool = typer.Option(False, "--pipeline", help="instead: alert latency after the final "
                                      "transcript through a real broker, worker and Redis"),
        pipeline_lines: int = typer.Option(300, "--pipeline-lines", min=10, help="final transcripts to publish"),
        pipeline_rate: float = typer.Option(20.0, "--pipeline-rate", min=0.1, help="transcripts per second"),
    ) -> None:
        """Compliance detector vs a keyword list: P/R/F1 per kind (held-out and tuning sets), lines/s;
        with --pipeline, the alert latency after the final transcript event."""
        command = "livelens bench compliance" + "".join(f" {shlex.quote(a)}" for a in sys.argv[3:])
        if pipeline:
            _run_pipeline(command, pipeline_lines, pipeline_rate, as_json)
            return
        from livelens.bench.machine import reference_ms

        if as_json:
            result = run(min_cpu_s=min_cpu_s, shared_dir=shared_data)
        else:
            from rich.console import Console

            with Console(stderr=True).status("scoring the labelled sets and timing both predictors ..."):
                result = run(min_cpu_s=min_cpu_s, shared_dir=shared_data)
        result["command"] = command
        result["machine_reference_ms"] = reference_ms()
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            _print(result, command)


def _run_pipeline(command: str, lines: int, rate: float, as_json: bool) -> None:
    import asyncio

    from rich.console import Console
    from rich.progress import Progress

    from livelens.bench.compliance_pipeline import measure
    from livelens.bench.machine import reference_ms
    from streams.settings import Settings

    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("final transcripts published", total=lines)
        result = asyncio.run(measure(Settings(), lines, rate,
                                     progress=lambda done, _total: bar.update(task, completed=done)))
    result["command"] = command
    result["machine_reference_ms"] = reference_ms()
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    a, t = result["alert_latency_ms"], result["tip_latency_ms"]
    console.print(f"[bold]$ {command}[/bold]")
    console.print(f"{result['lines']} final transcripts at {result['rate_per_s']:g}/s over {result['rooms']} rooms "
                  f"(held-out lines, zh + en): {result['alerts']} compliance alerts "
                  f"(~{result['expected_alerts_about']} labelled), {result['rephrase_tips']} rephrase tips")
    console.print(f"alert latency after the final transcript (emitted − ingested): p50 {a['p50']} ms, "
                  f"p99 {a['p99']} ms, max {a['max']} ms; budget {result['budget_ms']:g} ms")
    console.print(f"rephrase tip latency: p50 {t['p50']} ms, p99 {t['p99']} ms")
    console.print(f"warm-up (one sentence per room, first after the worker started): "
                  f"{result['warmup_alert_ms']['alerts']} alerts, max {result['warmup_alert_ms']['max']} ms")
    console.print(f"alerts over 100 ms (seconds into the run, ms): {result['slow_alerts_at_s_ms']}")
    console.print(f"machine reference {result['machine_reference_ms']} ms (livelens/bench/machine.py)")
