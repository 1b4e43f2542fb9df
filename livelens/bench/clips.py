"""``livelens bench clips``: clip-ready latency through the real pipeline, and cutting cost per mode.

1. **Cutting cost** (in process, no broker): the sample room (or ``--video``) is ingested into a
   temporary segment store; clips of several lengths are cut in each mode, and the wall time per
   second of clip is reported: ``reencode`` (frame-exact MP4), ``copy`` (keyframe stream copy),
   ``vertical`` (9:16 crop, re-encoded) and ``reencode+vertical`` (both files and the thumbnail
   from one decode pass: the clipper with ``clips.vertical_later=false``), and what a live cut (:class:`LiveCut`, fed the
   other segments before) has left to do once the last segment lands.
2. **Clip-ready latency** (real pipeline: embedded Tansu broker + Valkey unless configured, a
   ``livelens worker`` running the clipper and the Redis sink): the sample room is ingested in real
   time, and each selling point of its script is published on ``selling_points`` the moment the
   stream reaches its end (an ideal upstream); a segment reaches the store only once the clock
   has passed its end (as from a live camera; a file would otherwise be decoded seconds ahead).
   Latency = the clip's first event (``revision`` 0, the MP4) ``emitted_at`` − that moment
   (``ingested_at`` of the selling point): the wait for the last segment, the rest of the cut and
   the writes. The vertical variant's update event is reported separately.
3. **Platform renders** (``--render``, :func:`media.render.render_clip`): one clip per platform
   profile from the sample room (its ``zh`` room for the zh platforms, ``en`` for the en ones, with
   the script's words as the transcript) and from ``../shared/data/video/talking_1.mp4`` (test-only
   footage, no transcript); each render runs in its own process so its peak RSS is its own.
   Reported: render real-time factor (render seconds per clip second), peak RSS and the part of it
   added by the render (peak minus the process after imports), the LUFS achieved against the
   target, and the reframe mode. A last row renders one profile at 3x the length: the video
   streams through the encoder, so the peak should barely move (only the clip's audio is held).
4. **Desk ranking** (``--ranking``, :mod:`livelens.bench.clip_ranking`): on a generated, labelled set
   of editors' decisions (zh and en rooms), the AUC of the approval model fitted from decisions
   against the clipper score (the desk's order before any decision), on rooms held out of training,
   with the simulated editor's own AUC as the ceiling and AUC after N training decisions.
   ``--no-cutting --no-live --no-render`` runs this part alone (seconds).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from media.cutter import CutOutput, LiveCut, cut_clips
from media.decode import MediaIngest
from streams.schemas import SellingPoint, Word
from media.segment_store import LocalSegmentStore
from streams.settings import Settings

console = Console(stderr=True)
ROOM = "bench-clips"


def _script_selling_points(script: dict, room: str) -> list[SellingPoint]:
    """Runs of consecutive script sentences of one selling-point class (chit-chat skipped)."""
    groups: list[list[dict]] = []
    for s in script["sentences"]:
        if groups and groups[-1][-1]["label"] == s["label"]:
            groups[-1].append(s)
        else:
            groups.append([s])
    points = []
    for i, group in enumerate(groups):
        label = group[0]["label"]
        if label == "chit_chat":
            continue
        words: list[Word] = []
        for s in group:  # the script has sentence times only: spread its words evenly
            tokens = s["text"].split()
            start, end = int(s["start"] * 1000), int(s["end"] * 1000)
            step = max(1, (end - start) // len(tokens))
            words += [Word(start_ms=start + k * step, end_ms=min(end, start + (k + 1) * step), text=t)
                      for k, t in enumerate(tokens)]
        points.append(SellingPoint(
            room_id=room, stream_ms=words[-1].end_ms, segment_id=f"bench-{i}", category="apparel", label=label,
            label_en=label.replace("_", " "), start_ms=words[0].start_ms, end_ms=words[-1].end_ms,
            text=" ".join(s["text"] for s in group), confidence=0.9, words=words))
    return points


def _ingest(video: Path, root: Path, segment_s: float) -> LocalSegmentStore:
    store = LocalSegmentStore(root)
    for _ in MediaIngest(str(video), ROOM, store, segment_s=segment_s, realtime=False, prune=False).events():
        pass
    return store


class _LiveMediaStore(LocalSegmentStore):
    """Commits a segment only once the bench clock has reached its end, as with a live source.

    ``run_ingest`` decodes a file ahead of the clock (only the published events are paced), so
    without this the store would hold the media ~10 s before the stream "reaches" it and the
    wait for the segment covering a clip's end, a real part of clip-ready latency, would vanish.
    """

    wall0: float | None = None
    speed: float = 1.0

    def _append_index(self, room_id, info) -> None:
        if self.wall0 is not None:
            time.sleep(max(0.0, self.wall0 + info.end_ms / 1000 / self.speed - time.time()))
        super()._append_index(room_id, info)


def _cut_costs(store: LocalSegmentStore, out: Path, lengths_s: list[float], preset: str) -> list[dict]:
    segments = store.list_segments(ROOM)
    total_ms = segments[-1].end_ms
    modes = {
        "reencode": ("reencode", [False]),
        "copy": ("copy", [False]),
        "vertical": ("reencode", [True]),
        "reencode+vertical": ("reencode", [False, True]),
    }
    rows = []
    for name, (mode, verticals) in modes.items():
        per_s: list[float] = []
        for length in lengths_s:
            for start in np.linspace(1000, max(1000, total_ms - length * 1000 - 1000), 3):
                start = int(start) + 130  # off the segment grid: reencode must cut mid-segment
                end = start + int(length * 1000)
                outputs = [CutOutput(out / f"{name}-{k}.mp4", vertical=v) for k, v in enumerate(verticals)]
                r = cut_clips(store.segments_between(ROOM, start, end), start, end, outputs, mode,
                              thumbnail_path=out / "thumb.jpg", preset=preset)
                if r.ok:
                    per_s.append(r.cost_s / (r.duration_ms / 1000))
        rows.append({"mode": name, "clips": len(per_s),
                     "cost_s_per_clip_s_p50": float(np.median(per_s)) if per_s else None,
                     "cost_s_per_clip_s_max": float(np.max(per_s)) if per_s else None})
    # what the clipper has left once the last segment lands: LiveCut fed all the others before
    tails: list[float] = []
    for length in lengths_s:
        for start in np.linspace(1000, max(1000, total_ms - length * 1000 - 1000), 3):
            start = int(start) + 130
            end = start + int(length * 1000)
            segs = store.segments_between(ROOM, start, end)
            live = LiveCut(start, end, [CutOutput(out / "live.mp4")], thumbnail_path=out / "thumb.jpg",
                           preset=preset)
            live.feed(segs[:-1])
            t0 = time.perf_counter()
            live.feed(segs)
            if live.finish() is not None:
                tails.append(time.perf_counter() - t0)
    rows.append({"mode": "live: left after the last segment (s per clip)", "clips": len(tails),
                 "cost_s_per_clip_s_p50": float(np.median(tails)) if tails else None,
                 "cost_s_per_clip_s_max": float(np.max(tails)) if tails else None})
    return rows


async def _live_latency(settings: Settings, video: Path, script: dict, speed: float, work: Path) -> dict:
    import redis.asyncio as aioredis

    from pydantic import SecretStr

    from livelens.workers import WorkerProcess
    from processors import clipper as clipper_module
    from streams.embedded import infrastructure
    from streams.ingest.publisher import Publisher
    from streams.ingest.runner import run_ingest
    from streams.kafka import ensure_topics, faust_internal_topics, start_producer
    from streams.topics import TopicNames

    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    media_ahead: list[int] = []
    with infrastructure(settings.kafka_bootstrap, redis_url, log_dir=work / "logs") as infra:
        run = uuid.uuid4().hex[:6]
        settings = settings.model_copy(update={
            "app_id": f"bench-clips-{run}", "topic_prefix": f"benchclips{run}", "segment_store": str(work / "segments"),
            "kafka_bootstrap": infra.kafka_bootstrap, "redis_url": SecretStr(infra.redis_url),
            "processors": ["clipper"], "metrics_port": 0, "data_dir": work,
            "clips": settings.clips.model_copy(update={"out_dir": work / "clips"})})
        topics = TopicNames(settings.topic_prefix)
        await ensure_topics(settings, infra.kafka_bootstrap,
                            topics.all() + faust_internal_topics(settings, [clipper_module.TABLE]))
        worker = WorkerProcess(settings, work / "logs" / "worker.log").start()
        redis = aioredis.from_url(infra.redis_url, decode_responses=True)
        clips: list[dict] = []
        try:
            await worker.wait_ready(90)
            producer = await start_producer(settings, infra.kafka_bootstrap)
            publisher = Publisher(producer, topics)
            pubsub = redis.pubsub()
            await pubsub.subscribe("livelens:{%s}:events" % ROOM)

            async def listen():
                async for msg in pubsub.listen():
                    if msg["type"] == "message":
                        ev = json.loads(msg["data"])
                        if ev.get("kind") == "clip":
                            clips.append(ev)

            listener = asyncio.create_task(listen())
            points = _script_selling_points(script, ROOM)
            live_store = _LiveMediaStore(settings.segment_store)
            live_store.speed = speed
            wall0 = live_store.wall0 = time.time()

            async def announce():  # each selling point at the moment the stream reaches its end
                for sp in points:
                    due = wall0 + sp.end_ms / 1000 / speed
                    await asyncio.sleep(max(0.0, due - time.time()))
                    sp.ingested_at = time.time()
                    await producer.send_and_wait(topics.selling_points, key=sp.key, value=sp.to_bytes())
                    stored = live_store.list_segments(ROOM)
                    media_ahead.append((stored[-1].end_ms if stored else 0) - sp.end_ms)

            announcer = asyncio.create_task(announce())
            await run_ingest(str(video), ROOM, settings, publisher.publish, realtime=True, speed=speed,
                             store=live_store)
            await publisher.flush()
            await announcer
            deadline = time.time() + 30
            while time.time() < deadline and len({c["clip_id"] for c in clips}) < 1:
                await asyncio.sleep(0.2)
            await asyncio.sleep(6)  # clips of the last selling points (and their vertical updates)
            listener.cancel()
            await pubsub.aclose()
            await producer.stop()
        finally:
            await redis.aclose()
            worker.stop()
    # clip-ready: the first event of each cut (a clip re-cut after being superseded keeps its id
    # with a new span); a later event of the same cut is its vertical variant
    seen: set[tuple] = set()
    first, updates = [], []
    for c in clips:
        cut = (c["clip_id"], c["start_ms"], c["end_ms"])
        (updates if cut in seen else first).append(c)
        seen.add(cut)
    first.sort(key=lambda c: c["start_ms"])
    latencies = [(c["emitted_at"] - c["ingested_at"]) * 1000 for c in first]
    vertical = [(c["emitted_at"] - c["ingested_at"]) * 1000 for c in updates]
    return {
        "selling_points": len(points), "clips": len(first), "clip_events": len(clips),
        "statuses": {s: sum(c["status"] == s for c in first) for s in ("ready", "shortened", "skipped")},
        "clip_seconds": [round((c["end_ms"] - c["start_ms"]) / 1000, 1) for c in first],
        "latencies_ms": [round(x) for x in latencies],
        # stored media end - selling-point end at its announcement (< 0: the clip's end is still
        # being recorded, the clipper waits for it)
        "media_ahead_ms": media_ahead,
        "latency_ms_p50": float(np.percentile(latencies, 50)) if latencies else None,
        "latency_ms_p95": float(np.percentile(latencies, 95)) if latencies else None,
        "latency_ms_max": float(np.max(latencies)) if latencies else None,
        "vertical_updates": len(updates),
        "vertical_latency_ms_p50": float(np.percentile(vertical, 50)) if vertical else None,
        "vertical_latency_ms_p95": float(np.percentile(vertical, 95)) if vertical else None,
        "speed": speed,
        "clip_settings": {k: getattr(settings.clips, k) for k in ("live_cut", "vertical_later", "preset")},
    }


def _render_one(job: dict) -> dict:
    """One render in this process (run in a child by :func:`_render_costs`): timings and peak RSS."""
    import resource

    from media.platforms import load_profile
    from media.render import render_clip
    from models.clips.subtitles import TimedWord

    profile = load_profile(job["platform"])
    profile = profile.model_copy(update={"duration": profile.duration.model_copy(update={"max_s": 600.0})})
    words = [TimedWord(*w) for w in job["words"]]
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # after the imports
    t0 = time.perf_counter()
    result = render_clip(job["video"], job["start"], job["end"], profile, job["out"], words=words,
                         lang=job["lang"], product=job.get("product"), selling_point=job.get("selling_point"))
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    meta = result.meta
    return {"platform": job["platform"], "source": job["source"], "clip_s": round(job["end"] - job["start"], 2),
            "render_s": round(wall, 2), "rtf": round(wall / (job["end"] - job["start"]), 3),
            "peak_rss_mb": round(peak_kb / 1024, 1), "render_rss_mb": round((peak_kb - before_kb) / 1024, 1),
            "lufs": meta["loudness_lufs"], "target_lufs": profile.loudness.integrated_lufs,
            "true_peak_db": meta["true_peak_db"], "reframe": meta["reframe"], "title": meta["title"]}


def _render_one_child() -> None:
    print(json.dumps(_render_one(json.loads(sys.argv[1])), ensure_ascii=False))


def _script_words(script: dict) -> list[tuple[int, int, str]]:
    from livelens.commands.clips import _spread

    return [(w.start_ms, w.end_ms, w.text) for s in script["sentences"]
            for w in _spread(s["text"], s["start"], s["end"])]


def _render_costs(work: Path, platforms: list[str], length_s: float, flat_factor: float) -> list[dict]:
    """Render jobs, each in a child process; see the module docstring (3)."""
    from livelens.sample_room import ensure_sample_room, shared_data_dir
    from media.platforms import load_profile

    jobs = []
    rooms: dict[str, dict] = {}
    for name in platforms:
        lang = load_profile(name).languages[0]
        if lang not in rooms:
            room = ensure_sample_room(Path(os.environ.get("LIVELENS_SAMPLE_DIR", "var/sample_room")), lang)
            script = json.loads((room / "script.json").read_text())
            rooms[lang] = {"video": str(room / "room.mp4"), "script": script, "words": _script_words(script)}
        room = rooms[lang]
        start = float(room["script"]["sentences"][3]["start"])  # the first selling point
        product = room["script"]["product"][f"name_{lang}"]
        jobs.append({"platform": name, "source": f"sample room ({lang})", "video": room["video"], "start": start,
                     "end": start + length_s, "lang": lang, "words": room["words"], "product": product})
        talking = shared_data_dir() / "video" / "talking_1.mp4"
        if talking.is_file():
            jobs.append({"platform": name, "source": "talking_1.mp4", "video": str(talking), "start": 0.5,
                         "end": 5.5, "lang": lang, "words": []})
    if jobs and flat_factor > 1:
        long = dict(jobs[0], end=jobs[0]["start"] + length_s * flat_factor)
        long["source"] += f" x{flat_factor:g} length"
        jobs.append(long)
    rows = []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH", "")]))
    for i, job in enumerate(jobs):
        job = dict(job, out=str(work / f"render-{i}"))
        console.print(f"render {i + 1}/{len(jobs)}: {job['platform']} from {job['source']}")
        proc = subprocess.run([sys.executable, "-c", "from livelens.bench.clips import _render_one_child; "
                               "_render_one_child()", json.dumps(job, ensure_ascii=False)],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            rows.append({"platform": job["platform"], "source": job["source"],
                         "error": (proc.stderr.strip().splitlines() or ["?"])[-1][:200]})
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


def register(app: typer.Typer) -> None:
    @app.command()
    def clips(
        video: Path = typer.Option(None, help="Media to cut from (default: the generated sample room)"),
        lengths: str = typer.Option("5,15,30", help="Clip lengths (s) for the cutting cost"),
        live: bool = typer.Option(True, help="Also measure clip-ready latency through the real pipeline"),
        speed: float = typer.Option(1.0, help="Ingest speed for the live run (1.0 = real time)"),
        json_out: bool = typer.Option(False, "--json", help="Print JSON"),
        render: bool = typer.Option(True, help="Also measure the platform renders (RTF, peak RSS, LUFS)"),
        platforms: str = typer.Option("", help="Comma-separated profiles to render (default: all)"),
        render_length: float = typer.Option(8.0, help="Seconds of sample room per platform render"),
        flat_factor: float = typer.Option(3.0, help="One more render this many times longer (memory flatness)"),
        ranking: bool = typer.Option(True, help="Also measure how well the desk's ranking predicts approvals"),
        cutting: bool = typer.Option(True, help="Measure the cutting cost per mode"),
    ) -> None:
        """Clip-ready latency (selling-point end -> clip event) and cutting cost per second of clip."""
        settings = Settings()
        script = None
        if video is None:
            from livelens.sample_room import ensure_sample_room

            room_dir = ensure_sample_room(Path(os.environ.get("LIVELENS_SAMPLE_DIR", "var/sample_room")), "en")
            video = room_dir / "room.mp4"
            script = json.loads((room_dir / "script.json").read_text())
        result: dict = {"video": str(video)}
        with tempfile.TemporaryDirectory(prefix="livelens-bench-clips-") as tmp:
            work = Path(tmp)
            if cutting:
                store = _ingest(video, work / "cut-segments", settings.segment_s)
                result["cutting"] = _cut_costs(store, work / "out", [float(x) for x in lengths.split(",")],
                                               settings.clips.preset)
            if ranking:
                from livelens.bench.clip_ranking import evaluate, generate_decisions, learning_curve

                decisions = generate_decisions()
                result["ranking"] = {**evaluate(decisions), "learning_curve": learning_curve(decisions)}
            if live and script is not None:
                (work / "logs").mkdir()
                result["live"] = asyncio.run(_live_latency(settings, video, script, speed, work))
            elif live:
                result["live"] = "skipped: the live run needs the sample room's script (no --video)"
            if render:
                from media.platforms import available_profiles

                names = [p for p in platforms.split(",") if p] or available_profiles()
                result["render"] = _render_costs(work, names, render_length, flat_factor)
        result["target"] = "clip-ready p95 <= 3000 ms"
        result["command"] = ("livelens bench clips " + " ".join(shlex.quote(a) for a in sys.argv[3:])).strip()
        if json_out:
            print(json.dumps(result, indent=2))
            return
        if result.get("cutting"):
            table = Table(title="cutting cost (wall s per s of clip, in process)")
            for col in ("mode", "clips", "p50", "max"):
                table.add_column(col)
            for row in result["cutting"]:
                table.add_row(row["mode"], str(row["clips"]), f"{row['cost_s_per_clip_s_p50'] or 0:.3f}",
                              f"{row['cost_s_per_clip_s_max'] or 0:.3f}")
            console.print(table)
        if result.get("ranking"):
            rk = result["ranking"]
            t = Table(title=(f"desk ranking: AUC predicting approvals on held-out rooms ({rk['decisions']} generated "
                             f"decisions, {rk['rooms']} rooms, {rk['folds']} folds split by room)"))
            for col in ("rooms", "model (decisions)", "baseline (clip score)", "ceiling (simulated editor)"):
                t.add_column(col)
            t.add_row("all", f"{rk['auc_model']:.3f}", f"{rk['auc_clip_score']:.3f}", f"{rk['auc_ceiling']:.3f}")
            for lang, v in rk["per_language"].items():
                t.add_row(lang, f"{v['auc_model']:.3f}", f"{v['auc_clip_score']:.3f}", "")
            console.print(t)
            curve = ", ".join(f"{p['decisions']}: {p['auc_model']}" for p in rk["learning_curve"])
            console.print(f"AUC after N training decisions: {curve}; fit p50 {rk['fit_ms_p50']} ms")
        live_result = result.get("live")
        if isinstance(live_result, dict):
            t = Table(title="clip-ready latency (selling-point end -> clip event, real broker + worker)")
            for col in ("selling points", "clips", "statuses", "p50 ms", "p95 ms", "max ms", "vertical p95 ms"):
                t.add_column(col)
            t.add_row(str(live_result["selling_points"]), str(live_result["clips"]),
                      json.dumps(live_result["statuses"]), f"{live_result['latency_ms_p50'] or 0:.0f}",
                      f"{live_result['latency_ms_p95'] or 0:.0f}", f"{live_result['latency_ms_max'] or 0:.0f}",
                      f"{live_result['vertical_latency_ms_p95'] or 0:.0f}")
            console.print(t)
        elif live_result:
            console.print(live_result)
        if result.get("render"):
            t = Table(title="platform renders (render s per clip s, peak RSS per render, loudness achieved)")
            for col in ("platform", "source", "clip s", "RTF", "peak RSS MB", "render RSS MB", "LUFS (target)",
                        "true peak dBTP", "reframe"):
                t.add_column(col)
            for row in result["render"]:
                if "error" in row:
                    t.add_row(row["platform"], row["source"], "", "error: " + row["error"], "", "", "", "", "")
                    continue
                t.add_row(row["platform"], row["source"], f"{row['clip_s']:g}", f"{row['rtf']:.2f}",
                          f"{row['peak_rss_mb']:.0f}", f"{row['render_rss_mb']:.0f}",
                          f"{row['lufs']} ({row['target_lufs']:g})", str(row["true_peak_db"]), row["reframe"])
            Console(stderr=True, width=max(console.width, 150)).print(t)  # 9 columns: never squeeze
        console.print(f"target: {result['target']}")
        console.print(f"command: {result['command']}")
