"""``livelens bench asr``: accuracy, latency and capacity of streaming ASR.

For each data folder (audio + Kaldi ``text``) and its model (the worker's: en → tiny.en, zh → base
unless ``--model``): WER (en) / CER (zh) of the streaming session and of the same model decoding the
whole file offline (full 30 s context, faster-whisper's standard path) in the same run; update
latency (newest chunk's arrival → update produced) and final latency (speech end → final),
with audio fed at real-time pace in 250 ms chunks and 1.5 s of silence appended to each file
(a live stream keeps going after a sentence); real-time factor (compute / audio); and rooms one
worker keeps at real time: an estimate (1 / RTF) and a measurement with N concurrent sessions
sharing one engine from a thread pool (the largest N whose lag p95 stays under the budget
with no audio skipped).

``--sample-room var/sample_room/<lang>`` adds a row for a generated sample room: its audio track
against the sentences of its script.json, in the room's language (forced), streaming finals and
offline. Errors are computed with spoken numbers written as digits on both sides
(``models.asr.metrics``), so "129元" is not an error against "一百二十九元".
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import typer

from models.asr import AsrEngine, AsrSessionConfig, DecodeOptions, StreamingAsrSession, load_media


from models.asr.bias import BIAS_MODES, bias_options, catalog_terms, term_recall
from models.asr.metrics import cer, read_kaldi_text, wer


def _session_config(policy: str) -> AsrSessionConfig:
    """The session settings the worker uses, all of them (LIVELENS_ASR__* apply here too)."""
    from processors.asr import session_config
    from streams.settings import Settings

    return session_config(Settings().asr, policy)

CHUNK_MS = 250
TAIL_SILENCE_S = 1.5
DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "speech"
AUDIO_EXT = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".mp4")


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run_realtime(session: StreamingAsrSession, audio: np.ndarray, speed: float = 1.0) -> dict:
    """Feed ``audio`` at real-time pace; return finals and latency samples (seconds)."""
    step = CHUNK_MS * 16
    chunks = [(i // 16, audio[i : i + step]) for i in range(0, len(audio), step)]
    t0 = time.perf_counter()
    arrival = lambda end_ms: t0 + end_ms / 1000 / speed  # noqa: E731  wall time a stream time arrives
    update_lat, final_lat, lags, levels, finals = [], [], [], [], []
    next_chunk = 0
    while next_chunk < len(chunks):
        now = time.perf_counter()
        wait = arrival(chunks[next_chunk][0] + len(chunks[next_chunk][1]) // 16) - now
        if wait > 0:
            time.sleep(wait)
        now = time.perf_counter()
        while next_chunk < len(chunks) and arrival(chunks[next_chunk][0] + len(chunks[next_chunk][1]) // 16) <= now:
            session.insert_audio_chunk(chunks[next_chunk][1], chunks[next_chunk][0])
            next_chunk += 1
        newest_arrival = arrival(session.audio_end_ms)
        update = session.process_iter()
        done = time.perf_counter()
        lags.append(update.lag_ms)
        levels.append(update.degraded_level)
        if update:
            update_lat.append(done - newest_arrival)
        for seg in update.finals:
            finals.append(seg)
            if seg.text:
                final_lat.append(done - arrival(seg.end_ms))
    update = session.finish()
    finals.extend(update.finals)
    return {"finals": finals, "update_latency": update_lat, "final_latency": final_lat, "lag_ms": lags, "levels": levels}


def _files(folder: Path) -> list[tuple[str, Path, str]]:
    refs = read_kaldi_text(folder / "text")
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in AUDIO_EXT and path.stem in refs:
            out.append((path.stem, path, refs[path.stem]))
    return out


def _default_model(language: str) -> str:
    """The model the ASR worker uses for a language (LIVELENS_ASR__MODEL_EN / __MODEL_MULTI apply)."""
    from streams.settings import Settings

    asr = Settings().asr
    return asr.model_en if language == "en" else asr.model_multi


def sample_room_reference(room_dir: Path) -> tuple[str, str]:
    """(language, reference text) of a generated sample room: its script's sentences, joined."""
    script = json.loads((Path(room_dir) / "script.json").read_text(encoding="utf-8"))
    language = script.get("lang", "en")
    return language, (" " if language == "en" else "").join(x["text"] for x in script["sentences"])


def sample_room_error(room_dir: Path, finals_text: str) -> float:
    """How far a room's transcript is from its script: CER for a Chinese room, WER for English.

    ``finals_text`` is the room's final transcripts joined in order (any separator). Numbers count
    as equal however they are written (see ``models.asr.metrics``).
    """
    language, reference = sample_room_reference(room_dir)
    return cer(reference, finals_text) if language == "zh" else wer(reference, finals_text)


def _sample_room_files(folder: Path) -> list[tuple[str, Path, str]]:
    """A generated sample room (``livelens sample-room``): its video's audio track, and the
    sentences of its script.json as the reference (synthetic speech: a second, longer set)."""
    language, reference = sample_room_reference(folder)
    return [(f"sample-room-{language}", folder / "room.mp4", reference)]


def bench_language(folder: Path, language: str, model: str, policy: str,
                   files: list[tuple[str, Path, str]] | None = None, options: DecodeOptions | None = None,
                   terms: list[str] | None = None) -> dict:
    """Errors, latency and RTF of one folder; ``options``: the room's decode options (biasing),
    ``terms``: the room's words whose recall is reported (streaming and offline)."""
    engine = AsrEngine(model, num_workers=2)
    score = wer if language == "en" else cer
    files = files if files is not None else _files(folder)
    stream_err, offline_err, upd, fin, rtf_num, rtf_den, lags, rows = [], [], [], [], 0.0, 0.0, [], []
    ref_all, off_all, str_all = [], [], []
    for name, path, ref in files:
        audio = load_media(str(path))
        offline = engine.decode(audio, language, dataclasses.replace(options or engine.options, encoder_context="full"))
        session = StreamingAsrSession(engine, language, _session_config(policy), options=options)
        padded = np.concatenate([audio, np.zeros(int(TAIL_SILENCE_S * 16000), np.float32)])
        result = run_realtime(session, padded)
        streamed = (" " if language == "en" else "").join(s.text for s in result["finals"] if s.text)
        ref_all.append(ref), off_all.append(offline.text), str_all.append(streamed)
        stream_err.append(score(ref, streamed))
        offline_err.append(score(ref, offline.text))
        upd += result["update_latency"]
        fin += result["final_latency"]
        lags += result["lag_ms"]
        rtf_num += session.stats.compute_s
        rtf_den += len(padded) / 16000
        rows.append({"file": name, "streaming": streamed, "offline": offline.text, "reference": ref})
    # corpus-level error: all references and hypotheses joined (weights files by length)
    joiner = " " if language == "en" else ""
    rtf = rtf_num / max(rtf_den, 1e-9)
    recall = {}
    if terms:
        for which, hyps in (("streaming", str_all), ("offline", off_all)):
            found, spoken = term_recall(joiner.join(ref_all), joiner.join(hyps), terms, language)
            recall[f"term_recall_{which}"] = found / spoken if spoken else float("nan")
            recall["terms_spoken"] = spoken
    return {**recall,
        "data": str(folder), "language": language, "model": model, "policy": policy, "files": len(files),
        "metric": "WER" if language == "en" else "CER",
        "streaming_error": score(joiner.join(ref_all), joiner.join(str_all)),
        "offline_error": score(joiner.join(ref_all), joiner.join(off_all)),
        "update_latency_p50_ms": _pct(upd, 50) * 1000, "update_latency_p95_ms": _pct(upd, 95) * 1000,
        "final_latency_p50_ms": _pct(fin, 50) * 1000, "final_latency_p95_ms": _pct(fin, 95) * 1000,
        "lag_p95_ms": _pct(lags, 95), "rtf": rtf, "rooms_estimate": (1.0 / rtf) if rtf > 0 else float("inf"),
        "transcripts": rows, "_engine": engine,
    }


def measure_rooms(engine: AsrEngine, audio: np.ndarray, language: str, policy: str, counts: list[int],
                  budget_ms: float) -> tuple[int, list[dict]]:
    """Run N sessions at once (thread pool, one engine) at real-time pace; find the largest N kept."""
    kept, trials = 0, []
    padded = np.concatenate([audio, np.zeros(int(TAIL_SILENCE_S * 16000), np.float32)])
    for n in counts:
        sessions = [StreamingAsrSession(engine, language, _session_config(policy)) for _ in range(n)]
        with ThreadPoolExecutor(max_workers=n) as pool:
            results = list(pool.map(lambda s: run_realtime(s, padded), sessions))
        lags = [lag for r in results for lag in r["lag_ms"]]
        fin = [x for r in results for x in r["final_latency"]]
        skipped = sum(s.stats.skipped_ms for s in sessions)
        trial = {"rooms": n, "lag_p95_ms": _pct(lags, 95), "final_latency_p95_ms": _pct(fin, 95) * 1000,
                 "max_level": max(max(r["levels"] or [0]) for r in results), "skipped_ms": skipped}
        trials.append(trial)
        if trial["lag_p95_ms"] <= budget_ms and skipped == 0:
            kept = n
        else:
            break
    return kept, trials


def register(app: typer.Typer) -> None:
    @app.command("asr")
    def bench_asr(
        data: Path = typer.Option(DEFAULT_DATA, help="folder with en/ and zh/ (audio + Kaldi text), or one such folder"),
        model: list[str] = typer.Option([], help="override the model (repeat for several): tiny.en, base, or an id/path"),
        policy: str = typer.Option("vad", help="vad or local_agreement"),
        rooms: str = typer.Option("1,2,4,8", help="concurrent room counts to try (English file)"),
        language: list[str] = typer.Option([], help="only these languages (en, zh)"),
        sample_room: Path = typer.Option(None, help="also measure a generated sample room folder (room.mp4 + "
                                                   "script.json, e.g. var/sample_room/zh): a separate row"),
        sample_room_only: bool = typer.Option(False, help="measure only the --sample-room folder, not --data"),
        bias: str = typer.Option("none", help="sample room: biasing modes to compare, comma-separated, of "
                                              "none,hotwords,prompt,both (the room's catalog and category)"),
        catalog: Path = typer.Option(Path("models/understanding/catalogs/sample_room.yaml"),
                                     help="the room's catalog (product names, aliases) for --bias and term recall"),
        category: str = typer.Option("apparel", help="the room's taxonomy category (keywords) for --bias and term recall"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Streaming vs offline WER/CER, update/final latency, RTF and rooms per worker."""
        from rich.console import Console
        from rich.table import Table

        if sample_room is not None and not (sample_room / "script.json").is_file():
            raise typer.BadParameter(f"{sample_room} has no script.json: generate it with `livelens sample-room`",
                                     param_hint="--sample-room")
        modes = [m.strip() for m in bias.split(",") if m.strip()]
        if not modes or any(m not in BIAS_MODES for m in modes):
            raise typer.BadParameter(f"{bias!r}: give some of {','.join(BIAS_MODES)}", param_hint="--bias")
        if sample_room_only and sample_room is None:
            raise typer.BadParameter("--sample-room-only needs --sample-room", param_hint="--sample-room-only")
        folders = [(lang, data / lang) for lang in ("en", "zh") if (data / lang / "text").is_file()]
        if not folders and (data / "text").is_file():
            first = next(iter(read_kaldi_text(data / "text").values()), "")
            folders = [("zh" if any("\u4e00" <= c <= "\u9fff" for c in first) else "en", data)]
        if language:
            folders = [f for f in folders if f[0] in language]
        if sample_room_only:
            folders = []
        elif not folders:
            raise typer.BadParameter(f"no en/ or zh/ folder with a Kaldi text file under {data}")
        results = []
        for lang, folder in folders:
            models = model or [_default_model(lang)]
            for m in models:
                if lang == "zh" and m.endswith(".en"):
                    continue
                r = bench_language(folder, lang, m, policy)
                if lang == "en" and rooms:
                    first_file = _files(folder)[0][1]
                    r["rooms_kept"], r["room_trials"] = measure_rooms(
                        r["_engine"], load_media(str(first_file)), lang, policy,
                        [int(x) for x in rooms.split(",")], AsrSessionConfig().lag_budget_ms)
                r.pop("_engine")
                results.append(r)
        if sample_room is not None:
            lang, _ = sample_room_reference(sample_room)
            names, hints = catalog_terms(catalog, category, lang)
            _, spoken_terms = catalog_terms(catalog, category, lang, max_terms=10**6)  # recall: every room word
            for m in model or [_default_model(lang)]:
                for mode in modes:
                    options = bias_options(mode, DecodeOptions(), names, hints, lang)
                    r = bench_language(sample_room, lang, m, policy, files=_sample_room_files(sample_room),
                                       options=options, terms=spoken_terms)
                    r.pop("_engine")
                    r["label"], r["bias"] = f"sample-room-{lang}", mode
                    results.append(r)
        command = "livelens bench asr " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else "livelens bench asr"
        if as_json:
            print(json.dumps({"command": command, "results": results}, ensure_ascii=False, default=float))
            return
        table = Table(title="streaming ASR (2-core CPU, int8, 250 ms chunks at real-time pace)")
        for col in ("data", "lang", "model", "policy", "bias", "metric", "stream", "offline", "ratio",
                    "term recall str/off", "upd p50/p95 ms", "final p50/p95 ms", "RTF", "rooms est/kept"):
            table.add_column(col)
        for r in results:
            ratio = r["streaming_error"] / r["offline_error"] if r["offline_error"] else float("nan")
            recall = (f"{r['term_recall_streaming']:.3f}/{r['term_recall_offline']:.3f} of {r['terms_spoken']}"
                      if "terms_spoken" in r else "-")
            table.add_row(r.get("label", Path(r["data"]).name), r["language"], r["model"], r["policy"],
                          r.get("bias", "-"), r["metric"], f"{r['streaming_error']:.3f}",
                          f"{r['offline_error']:.3f}", f"{ratio:.2f}", recall,
                          f"{r['update_latency_p50_ms']:.0f}/{r['update_latency_p95_ms']:.0f}",
                          f"{r['final_latency_p50_ms']:.0f}/{r['final_latency_p95_ms']:.0f}", f"{r['rtf']:.3f}",
                          f"{r['rooms_estimate']:.1f}/{r.get('rooms_kept', '-')}")
        console = Console(width=200)
        console.print(table)
        for r in results:
            for t in r.get("room_trials", []):
                console.print(f"  rooms={t['rooms']}: lag p95 {t['lag_p95_ms']:.0f} ms, final p95 "
                              f"{t['final_latency_p95_ms']:.0f} ms, max degraded level {t['max_level']}, skipped {t['skipped_ms']} ms")
        console.print(f"command: {command}")
