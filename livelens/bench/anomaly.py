"""``livelens bench anomaly``: NAB standard-profile score of the room detector vs a rolling
z-score, plus detection delay for stream faults injected into a synthetic room.

NAB scoring follows numenta/NAB ``nab/sweeper.py`` (as we know it; no network here to re-check):

- each labelled window ``[start, end]`` covers rows ``left..right``; width = right − left + 1;
- a row ``i`` inside a window weighs ``scaledSigmoid(-(right − i + 1) / width) · A_TP / scaledSigmoid(-1)``
  (so a detection on the window's first row earns exactly A_TP);
- a row outside any window after a window weighs ``scaledSigmoid(|prev_right − i| / (prev_width − 1)) · |A_FP|``
  (≈0 just after the window, → −|A_FP| far from it); before any window it weighs −|A_FP|;
- ``scaledSigmoid(y) = 2 / (1 + exp(5y)) − 1``, and −1 for y > 3;
- per window only the first detection counts (the weights fall along a window, so it is the best);
  every detection outside windows counts; each window without detection costs −A_FN;
- rows in the probationary period, the first ``min(floor(0.15 n), 0.15 · 5000)`` rows, are ignored;
- the score over a set of files is ``100 · (Σraw − Σnull) / (Σperfect − Σnull)`` with
  null = −A_FN per window and perfect = A_TP per window.

Assumption: both detectors emit binary detections (a detection = an alert opening), so NAB's
threshold sweep has nothing to optimise; the z-score baseline detects on every row with |z| > 3.
"""

from __future__ import annotations

import csv
import json
import math
import shlex
import statistics
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import typer

from models.anomaly import AlertPolicy, BaselineDeviationDetector, DeviationConfig, RoomAnomalyMonitor
from livelens.bench import table_console

DEFAULT_NAB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "anomaly" / "nab"


# ------------------------------------------------------------------------------ NAB scoring


@dataclass(frozen=True)
class NabProfile:
    tp: float = 1.0  # A_TP
    fp: float = -0.11  # A_FP
    fn: float = -1.0  # A_FN
    tn: float = 1.0  # A_TN (not used by the score, as in NAB)
    probation_percent: float = 0.15


STANDARD = NabProfile()


def scaled_sigmoid(y: float) -> float:
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


@dataclass
class FileScore:
    raw: float = 0.0
    null: float = 0.0
    perfect: float = 0.0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    windows: int = 0
    detections: int = 0

    def add(self, other: "FileScore") -> None:
        for name in ("raw", "null", "perfect", "tp", "fp", "fn", "windows", "detections"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def normalized(self) -> float | None:
        if self.perfect == self.null:
            return None  # no windows: only false positives can happen, report raw
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


def window_rows(times_ms: np.ndarray, windows_ms: list[tuple[int, int]]) -> list[tuple[int, int]]:
    rows = []
    for start, end in windows_ms:
        left = int(np.searchsorted(times_ms, start, side="left"))
        right = int(np.searchsorted(times_ms, end, side="right")) - 1
        if left <= right:
            rows.append((left, right))
    return rows


def score_file(
    times_ms: np.ndarray, detected: np.ndarray, windows_ms: list[tuple[int, int]], profile: NabProfile = STANDARD
) -> FileScore:
    n = len(times_ms)
    probation = min(math.floor(profile.probation_percent * n), profile.probation_percent * 5000)
    windows = window_rows(times_ms, windows_ms)
    result = FileScore(windows=len(windows))
    result.null = profile.fn * len(windows)
    result.perfect = profile.tp * len(windows)
    max_tp = scaled_sigmoid(-1.0)
    window_of = np.full(n, -1, dtype=np.int64)
    for w, (left, right) in enumerate(windows):
        window_of[left : right + 1] = w
    hit = [False] * len(windows)
    prev_right: int | None = None
    prev_width: int | None = None
    for i in range(n):
        w = int(window_of[i])
        if detected[i] and i >= probation:
            result.detections += 1
            if w >= 0:
                if not hit[w]:
                    left, right = windows[w]
                    width = right - left + 1
                    result.raw += scaled_sigmoid(-(right - i + 1) / width) * profile.tp / max_tp
                    hit[w] = True
                    result.tp += 1
            else:
                if prev_right is None:
                    weight = -1.0
                else:
                    weight = scaled_sigmoid(abs(prev_right - i) / max(prev_width - 1, 1))
                result.raw += weight * abs(profile.fp)
                result.fp += 1
        if w >= 0 and i == windows[w][1]:
            prev_right, prev_width = windows[w][1], windows[w][1] - windows[w][0] + 1
    missed = hit.count(False)
    result.fn = missed
    result.raw += profile.fn * missed
    return result


# ------------------------------------------------------------------------------ data


@dataclass
class Series:
    name: str  # path under nab/, e.g. "realKnownCause/nyc_taxi.csv"
    times_ms: np.ndarray
    values: np.ndarray
    windows_ms: list[tuple[int, int]]

    @property
    def category(self) -> str:
        return self.name.split("/", 1)[0]


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.strip()).replace(tzinfo=timezone.utc).timestamp() * 1000)


def load_nab(root: Path) -> list[Series]:
    labels: dict[str, list[list[str]]] = json.loads((root / "windows.json").read_text())
    series = []
    for name in sorted(labels):
        path = root / name
        if not path.exists():
            continue
        times, values = [], []
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                times.append(_ms(row["timestamp"]))
                values.append(float(row["value"]))
        windows = [(_ms(a), _ms(b)) for a, b in labels[name]]
        series.append(Series(name, np.asarray(times, dtype=np.int64), np.asarray(values), windows))
    return series


# ------------------------------------------------------------------------------ detectors on NAB


#: the room detector's settings for a generic metric, counted in samples (converted to the file's
#: own sampling period by the adapter, since NAB files are sampled every 1–60 minutes)
NAB_DEVIATION = DeviationConfig(
    direction="both", window_samples=240, warmup_samples=60, z_open=6.0, z_resolve=3.0,
    scale_floor_rel=0.01, hold_samples=1, resolve_samples=12, label="value",
)
NAB_COOLDOWN_SAMPLES = 200
NAB_UPDATE_SAMPLES = 10_000


def run_room_detector(s: Series, config: DeviationConfig = NAB_DEVIATION, cooldown_samples: int = NAB_COOLDOWN_SAMPLES) -> np.ndarray:
    """The pipeline's BaselineDeviationDetector; a detection is an alert opening."""
    step = int(np.median(np.diff(s.times_ms))) if len(s.times_ms) > 1 else 1
    policy = AlertPolicy(cooldown_ms=cooldown_samples * step, update_interval_ms=NAB_UPDATE_SAMPLES * step)
    detector = BaselineDeviationDetector("nab", "nab", config, policy)
    detected = np.zeros(len(s.values), dtype=bool)
    for i, (t, v) in enumerate(zip(s.times_ms.tolist(), s.values.tolist())):
        detected[i] = any(change.state == "open" for change in detector.update(t, v))
    return detected


def run_rolling_z(s: Series, window: int = 100, z: float = 3.0) -> np.ndarray:
    """Mean/std of the previous ``window`` rows; detect every row with |z| > threshold."""
    v = s.values.astype(np.float64)
    detected = np.zeros(len(v), dtype=bool)
    c1 = np.concatenate([[0.0], np.cumsum(v)])
    c2 = np.concatenate([[0.0], np.cumsum(v * v)])
    for i in range(window, len(v)):
        mean = (c1[i] - c1[i - window]) / window
        var = max((c2[i] - c2[i - window]) / window - mean * mean, 0.0)
        std = math.sqrt(var)
        if std < 1e-12 * max(1.0, abs(mean)):
            detected[i] = abs(v[i] - mean) > 1e-12 * max(1.0, abs(mean))
        else:
            detected[i] = abs(v[i] - mean) / std > z
    return detected


def run_rolling_z_edges(s: Series) -> np.ndarray:
    """The rolling z-score, but only the first row of each run of detections (a fairer baseline:
    NAB charges every detection outside a window)."""
    d = run_rolling_z(s)
    return d & ~np.concatenate([[False], d[:-1]])


def nab_scores(series: list[Series], detectors: dict[str, Callable[[Series], np.ndarray]]) -> dict[str, Any]:
    totals: dict[str, dict[str, FileScore]] = {name: {} for name in detectors}
    per_file: dict[str, dict[str, float]] = {}
    for s in series:
        for name, run in detectors.items():
            fs = score_file(s.times_ms, run(s), s.windows_ms)
            for bucket in (s.category, "overall"):
                totals[name].setdefault(bucket, FileScore()).add(fs)
            per_file.setdefault(s.name, {})[name] = round(fs.raw, 3)
    out: dict[str, Any] = {"per_file_raw": per_file, "scores": {}}
    for name, buckets in totals.items():
        out["scores"][name] = {
            bucket: {"score": None if fs.normalized is None else round(fs.normalized, 2), "raw": round(fs.raw, 3),
                     "tp": fs.tp, "fp": fs.fp, "fn": fs.fn, "windows": fs.windows, "detections": fs.detections}
            for bucket, fs in buckets.items()
        }
    return out


# ------------------------------------------------------------------------------ injected room faults


def _first_open(changes: list[tuple[int, Any]], alert_type: str, after_ms: int) -> int | None:
    for t, change in changes:
        if change.alert_type == alert_type and change.state == "open" and t >= after_ms:
            return t
    return None


def room_fault_delays(trials: int = 20, seed: int = 7) -> dict[str, dict[str, Any]]:
    """Inject silence, a frozen picture and an audio ingest stall at varied phases into a
    synthetic room (audio chunks every 250 ms, frames at 1 fps, wall ticks every 250 ms) and
    measure onset → alert-open delay with the monitor's default config.

    Onsets: silence — the moment the audio goes quiet; frozen — the moment the picture stops
    changing (the next sampled frame still differs from its predecessor; the one after does
    not); ingest stall — the moment the first missing chunk was due."""
    rng = np.random.default_rng(seed)
    faults = ("audio_silence", "video_frozen", "audio_ingest_gap")
    delays: dict[str, list[float]] = {fault: [] for fault in faults}
    false_opens = 0
    for _ in range(trials):
        onset = 60_000 + int(rng.integers(0, 1000))  # ms; not aligned to chunks or frames
        for fault in faults:
            monitor = RoomAnomalyMonitor("bench-room")
            got: list[tuple[int, Any]] = []
            for t in range(0, onset + 10_000, 250):
                if fault == "audio_ingest_gap" and t >= onset:
                    pass  # the stall: no chunk arrives
                else:
                    quiet = fault == "audio_silence" and t >= onset
                    level = -85.0 + rng.normal(0, 2) if quiet else -28.0 + rng.normal(0, 3)
                    got += [(t, c) for c in monitor.observe("audio_rms_db", t, level)]
                    got += [(t, c) for c in monitor.observe("audio_arrival", t, t)]
                if t % 1000 == 0:  # a frame every second; it repeats its predecessor once both follow the freeze
                    frozen = fault == "video_frozen" and t - 1000 >= onset
                    diff = 0.0 if frozen else abs(rng.normal(4.0, 1.5)) + 0.8
                    got += [(t, c) for c in monitor.observe("video_frame_diff", t, diff)]
                got += [(t, c) for c in monitor.tick(t)]
            if any(c.state == "open" and t < onset for t, c in got):
                false_opens += 1
            due = onset if fault != "audio_ingest_gap" else -(-onset // 250) * 250  # first missing chunk
            first = _first_open(got, fault, due)
            delays[fault].append(math.nan if first is None else (first - due) / 1000)
    out: dict[str, dict[str, Any]] = {}
    for fault, values in delays.items():
        seen = [v for v in values if not math.isnan(v)]
        out[fault] = {"trials": len(values), "detected": len(seen),
                      "mean_s": round(statistics.fmean(seen), 3) if seen else None,
                      "max_s": round(max(seen), 3) if seen else None}
    out["false_opens_before_onset"] = {"runs": false_opens}
    return out


# ------------------------------------------------------------------------------ command


def register(app: typer.Typer) -> None:
    @app.command("anomaly")
    def anomaly(
        data: Path = typer.Option(DEFAULT_NAB, "--data", help="NAB-style folder: CSV series + windows.json"),
        json_out: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
        trials: int = typer.Option(20, help="injected-fault trials per fault kind"),
    ) -> None:
        """NAB standard-profile score (room detector vs rolling z-score) and injected-fault delays."""
        from rich.table import Table

        command = "livelens bench anomaly" + (f" --data {shlex.quote(str(data))}" if data != DEFAULT_NAB else "") + (
            f" --trials {trials}" if trials != 20 else "") + (" --json" if json_out else "")
        if not (data / "windows.json").exists():
            raise typer.BadParameter(f"{data} has no windows.json (expected a NAB-style folder)")
        series = load_nab(data)
        result = nab_scores(series, {"room_detector": run_room_detector, "rolling_z": run_rolling_z,
                                     "rolling_z_edges": run_rolling_z_edges})
        result["room_faults"] = room_fault_delays(trials)
        result["config"] = {"room_detector": {**NAB_DEVIATION.__dict__, "cooldown_samples": NAB_COOLDOWN_SAMPLES},
                            "rolling_z": {"window": 100, "z": 3.0},
                            "rolling_z_edges": "rolling_z, first row of each run only", "profile": STANDARD.__dict__}
        result["files"] = len(series)
        result["command"] = command
        if json_out:
            typer.echo(json.dumps(result, indent=1, default=str))
            return
        console = table_console(120)
        table = Table(title=f"NAB standard profile ({len(series)} files)")
        for col in ("category", "detector", "score", "raw", "TP", "FP", "FN", "windows"):
            table.add_column(col, justify="left" if col in ("category", "detector") else "right", no_wrap=True)
        buckets = sorted({b for d in result["scores"].values() for b in d}, key=lambda b: (b == "overall", b))
        for bucket in buckets:
            for name, scores in result["scores"].items():
                row = scores[bucket]
                table.add_row(bucket, name, "-" if row["score"] is None else f"{row['score']:.1f}",
                              f"{row['raw']:.2f}", str(row["tp"]), str(row["fp"]), str(row["fn"]), str(row["windows"]))
        console.print(table)
        faults = Table(title="Injected faults: onset → alert open (s), synthetic room, default config")
        for col in ("fault", "trials", "detected", "mean s", "max s"):
            faults.add_column(col)
        for fault, row in result["room_faults"].items():
            if "trials" in row:
                faults.add_row(fault, str(row["trials"]), str(row["detected"]), str(row["mean_s"]), str(row["max_s"]))
        console.print(faults)
        console.print(f"false opens before onset: {result['room_faults']['false_opens_before_onset']['runs']} runs")
        console.print(f"$ {command}")
