"""``livelens demo``: the whole pipeline on the embedded default, with a live view and a summary.

1. broker + Redis: the configured ones, or embedded Tansu + Valkey on free loopback ports;
2. the sample room(s) generated if missing (``livelens sample-room``);
3. a worker process (``livelens worker``) with every configured processor;
4. ingest of each sample room (media + chat/commerce replay), paced at ``speed`` × real time;
5. a consumer on every output topic that measures latency (emitted_at − ingested_at);
6. the platform renders of the sample rooms' clips (``clips.platforms``, douyin for zh rooms and
   tiktok for en rooms unless configured): waited for, bounded, with a progress line;
7. a summary: events per topic, latency p50/p99 per processor, what landed in Redis, and where
   each clip's renders are.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from pydantic import SecretStr
from rich.table import Table

from livelens.workers import WorkerProcess
from sinks.redis import RedisSink
from streams.embedded import infrastructure
from streams.ingest.privacy import ViewerPrivacy
from streams.ingest.publisher import Publisher
from streams.kafka import ensure_topics, start_producer, watch_events
from streams.settings import Settings
from streams.topics import OUTPUT_TOPICS, TopicNames

#: the products of the sample rooms (livelens/sample_room.py), for the demo's product linking
SAMPLE_CATALOG = Path(__file__).resolve().parents[1] / "models" / "understanding" / "catalogs" / "sample_room.yaml"

console = Console(stderr=True)


@dataclass
class OutputWatch:
    """Everything seen on the output topics."""

    counts: Counter = field(default_factory=Counter)
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    final_rooms: set[str] = field(default_factory=set)
    last_event_at: float = 0.0
    notable: Counter = field(default_factory=Counter)  # "alert open audio_silence", "rec explain_size_fit", …

    def add(self, event) -> None:
        self.counts[event.kind] += 1
        self.last_event_at = time.time()
        if hasattr(event, "emitted_at") and event.kind != "dead_letter":
            self.latencies_ms[event.processor or event.kind].append(event.latency_ms)
        if event.kind == "room_metrics" and event.final:
            self.final_rooms.add(event.room_id)
        elif event.kind == "alert":
            self.notable[f"alert {event.state} {event.alert_type} ({event.severity})"] += 1
        elif event.kind == "recommendation":
            self.notable[f"recommendation {event.rec_type}"] += 1
        elif event.kind == "clip":
            self.notable[f"clip {event.status}: {event.title[:60]}"] += 1
        elif event.kind == "compliance":
            terms = ", ".join(v.term for v in event.violations)[:60]
            self.notable[f"compliance {event.severity} ({event.source}): {terms}"] += 1

    def latency_table(self) -> Table:
        t = Table(title="latency per processor (emitted − ingested, ms)")
        for col in ("processor", "events", "p50", "p95", "p99", "max"):
            t.add_column(col, justify="right" if col != "processor" else "left")
        for proc, values in sorted(self.latencies_ms.items()):
            a = np.asarray(values)
            t.add_row(proc, str(len(a)), *(f"{np.percentile(a, q):.1f}" for q in (50, 95, 99)), f"{a.max():.1f}")
        return t


#: what the demo renders each clip for (those of the room's language): a zh and an en platform
DEMO_PLATFORMS = ("douyin", "tiktok")

#: CPU-heavy stages get their own worker process (as in production: docker-compose's worker-heavy)
HEAVY = ("asr", "vision")


def worker_pools(processors: list[str]) -> dict[str, list[str]]:
    """Split the processors into a light pool (with the Redis sink) and a heavy pool."""
    pools = {"light": [p for p in processors if p not in HEAVY], "heavy": [p for p in processors if p in HEAVY]}
    return {name: procs for name, procs in pools.items() if procs}


async def run_demo(settings: Settings, langs: list[str], speed: float, realtime: bool,
                   sample_dir: Path, timeout_s: float = 600) -> int:
    from livelens.sample_room import ensure_sample_room
    from livelens.worker import build_context
    from streams.ingest.runner import run_ingest
    from streams.kafka import faust_internal_topics

    if "platforms" not in settings.clips.model_fields_set:  # LIVELENS_CLIPS__PLATFORMS set (even empty) wins
        settings = settings.model_copy(update={"clips": settings.clips.model_copy(
            update={"platforms": list(DEMO_PLATFORMS)})})
    rooms = {}
    for lang in langs:
        with console.status(f"preparing the sample room ({lang}) …"):
            rooms[f"sample-{lang}"] = ensure_sample_room(sample_dir, lang)
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    redis_cfg = settings.redis_url.get_secret_value() if settings.redis_url else None
    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # group-join chatter would bury the live view
    with infrastructure(settings.kafka_bootstrap, redis_cfg, log_dir=log_dir) as infra:
        where = "embedded" if infra.embedded else "configured"
        console.print(f"[bold]broker[/] {infra.kafka_bootstrap}  [bold]redis[/] {infra.redis_url.split('@')[-1]}  ({where})")
        if infra.kafka_external_bootstrap != infra.kafka_bootstrap:
            console.print(f"other Kafka clients (kcat, confluent-kafka): {infra.kafka_external_bootstrap}")
        run = uuid.uuid4().hex[:6]  # fresh consumer groups + changelogs per run
        topics = TopicNames(settings.topic_prefix)
        pools = worker_pools(settings.processors)
        workers: list[tuple[str, WorkerProcess]] = []
        try:
            for i, (pool, procs) in enumerate(pools.items()):
                pool_settings = settings.model_copy(update={
                    "app_id": f"{settings.app_id}-demo-{run}-{pool}", "processors": procs,
                    # the sample rooms sell the sample catalog's products: selling points name them
                    "understanding": settings.understanding.model_copy(update={
                        "catalog": settings.understanding.catalog or SAMPLE_CATALOG}),
                    "sinks": settings.sinks if i == 0 else [], "metrics_port": 0,
                    "kafka_bootstrap": infra.kafka_bootstrap, "redis_url": SecretStr(infra.redis_url)})
                ctx = build_context(pool_settings, infra.kafka_bootstrap, infra.redis_url)  # learns its tables
                await ensure_topics(pool_settings, infra.kafka_bootstrap,
                                    topics.all() + faust_internal_topics(pool_settings, ctx.tables))
                workers.append((pool, WorkerProcess(pool_settings, log_dir / f"worker-{pool}.log").start()))
            with console.status("starting the workers (each joins its consumer group) …"):
                for pool, worker in workers:
                    ready_s = await worker.wait_ready(90)
                    console.print(f"worker [bold]{pool}[/] ready in {ready_s:.1f} s: {', '.join(pools[pool])} "
                                  f"(log {worker.log_path})")
            return await _stream_rooms(settings, infra, topics, rooms, speed, realtime, run_ingest, timeout_s)
        finally:
            for _pool, worker in workers:
                worker.stop()


async def _stream_rooms(settings, infra, topics, rooms, speed, realtime, run_ingest, timeout_s) -> int:
    watch = OutputWatch()
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_events(
        settings, infra.kafka_bootstrap, [topics.full(n) for n in OUTPUT_TOPICS], watch.add, stop,
        on_undecodable=lambda _raw: watch.counts.update(["undecodable"]), group_prefix="livelens-demo-watch"))
    producer = await start_producer(settings, infra.kafka_bootstrap)
    publisher = Publisher(producer, topics, privacy=ViewerPrivacy.from_settings(settings))
    progress: dict[str, int] = {room: 0 for room in rooms}
    durations = {room: _duration_ms(path) for room, path in rooms.items()}

    def view():
        t = Table(title=f"livelens demo — {len(rooms)} room(s) at {'real time' if realtime else 'full speed'}"
                        f"{f' ×{speed:g}' if realtime and speed != 1 else ''}")
        t.add_column("room")
        t.add_column("stream time", justify="right")
        for room in rooms:
            t.add_row(room, f"{progress[room]/1000:6.1f} / {durations[room]/1000:.1f} s")
        io = Table(title="events")
        io.add_column("topic")
        io.add_column("count", justify="right")
        for topic, n in sorted(publisher.counts.items()):
            io.add_row(f"in  {topic}", str(n))
        for kind, n in sorted(watch.counts.items()):
            io.add_row(f"out {kind}", str(n))
        return Group(t, io, watch.latency_table())

    def on_progress(room):
        def update(stats):
            progress[room] = stats.last_stream_ms
        return update

    t0 = time.time()
    with Live(view(), console=console, refresh_per_second=4) as live:
        async def refresh():
            while not stop.is_set():
                live.update(view())
                await asyncio.sleep(0.25)
        refresher = asyncio.create_task(refresh())
        await asyncio.gather(*[
            run_ingest(str(path / "room.mp4"), room, settings, publisher.publish,
                       replay=[path / "chat.jsonl", path / "commerce.jsonl"],
                       realtime=realtime, speed=speed, on_progress=on_progress(room),
                       language=_room_language(path))  # the sample room declares its language
            for room, path in rooms.items()])
        await publisher.flush()
        ingest_s = time.time() - t0
        # drain: every room's final metrics window, then outputs quiet for a moment
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            quiet = time.time() - watch.last_event_at > 3.0
            if watch.final_rooms >= set(rooms) and quiet:
                break
            await asyncio.sleep(0.2)
        stop.set()
        await refresher
        live.update(view())
    await watcher
    await producer.stop()
    renders = await wait_for_renders(infra.redis_url, list(rooms), time.time() + timeout_s) \
        if settings.clips.platforms and "clipper" in settings.processors else None
    return await _summary(settings, infra, rooms, publisher, watch, ingest_s, renders)


def _is_render(role: str) -> bool:
    """A render's MP4 role (``render:douyin``, a variant's ``render:douyin:v2``), not its cover or meta."""
    return role.startswith("render:") and not role.endswith((":cover", ":meta"))


def render_progress(clips: list[dict]) -> tuple[int, int]:
    """(platform renders finished or given up, renders asked for) over the newest revision of each clip."""
    latest: dict[str, dict] = {}
    for c in clips:
        if c.get("revision", 0) >= latest.get(c["clip_id"], {}).get("revision", -1):
            latest[c["clip_id"]] = c
    done = total = 0
    for c in latest.values():
        pending = sum(p.startswith("render:") for p in c.get("pending", []))
        finished = sum(_is_render(k) for k in c.get("files", {}))
        failed = c.get("reason", "").count(" render: ")
        done += finished + failed
        total += pending + finished + failed
    return done, total


async def wait_for_renders(redis_url: str, rooms: list[str], deadline: float) -> dict[str, list[dict]]:
    """Until every clip of ``rooms`` has its platform renders (or ``deadline``), showing progress;
    the newest revision of each clip per room."""
    sink = RedisSink(redis_url)
    t0 = time.time()
    try:
        with console.status("platform renders …") as status:
            while True:
                clips = {room: await sink.events(room, "clip", count=5000) for room in rooms}
                done, total = map(sum, zip(*(render_progress(c) for c in clips.values())))
                status.update(f"platform renders: {done} of {total} done ({time.time() - t0:.0f} s)")
                if done >= total or time.time() >= deadline:
                    break
                await asyncio.sleep(1.0)
        if done < total:
            console.print(f"[yellow]{total - done} platform render(s) still running at the deadline[/]")
        else:
            console.print(f"platform renders: {total} done in {time.time() - t0:.1f} s after ingest")
        latest: dict[str, list[dict]] = {}
        for room, events in clips.items():
            newest: dict[str, dict] = {}
            for c in events:
                if c.get("revision", 0) >= newest.get(c["clip_id"], {}).get("revision", -1):
                    newest[c["clip_id"]] = c
            latest[room] = [c for c in newest.values() if c.get("status") != "skipped"]
        return latest
    finally:
        await sink.close()


def _print_renders(settings, renders: dict[str, list[dict]]) -> None:
    """One line per render (paths and URLs are long: a table would cut them)."""
    console.rule(f"platform renders under {settings.clips_dir}")
    for room, clips in renders.items():
        for c in clips:
            from media.clip_files import role_file

            for role, url in sorted(c.get("files", {}).items()):
                if _is_render(role):
                    console.print(f"{room} {role.split(':', 1)[1]}: {Path(room) / c['clip_id'] / role_file(role)}"
                                  f"  (API {url})", markup=False, soft_wrap=True)
            for role in c.get("pending", []):
                if role.startswith("render:"):
                    console.print(f"{room} {role.split(':', 1)[1]}: clip {c['clip_id']} still rendering",
                                  markup=False, soft_wrap=True)


def _room_language(room_dir: Path) -> str:
    return json.loads((room_dir / "script.json").read_text(encoding="utf-8")).get("lang", "")


def _duration_ms(room_dir: Path) -> int:
    manifest = room_dir / "manifest.json"
    if manifest.exists():
        return int(float(json.loads(manifest.read_text()).get("duration", 0)) * 1000)
    return 0


async def _summary(settings, infra, rooms, publisher, watch, ingest_s, renders=None) -> int:
    sink = RedisSink(infra.redis_url)
    console.rule("summary")
    console.print(f"ingest took {ingest_s:.1f} s for {len(rooms)} room(s)")
    t = Table(title="what landed in Redis")
    for col in ("room", "state", "streams (entries)"):
        t.add_column(col)
    for room in rooms:
        st = await sink.state(room)
        shown = {k: v for k, v in sorted(st.items()) if not k.startswith("last:") and not k.startswith("alert:")}
        keys = await sink.client.keys(f"livelens:{{{room}}}:stream:*")
        lens = {k.rsplit(":", 1)[-1]: await sink.client.xlen(k) for k in sorted(keys)}
        t.add_row(room, "\n".join(f"{k}={v}" for k, v in shown.items()), "\n".join(f"{k}: {n}" for k, n in lens.items()))
    console.print(t)
    for room, path in rooms.items():
        events = {kind: await sink.events(room, kind, count=5000)
                  for kind in ("transcript", "selling_point", "clip", "recommendation")}
        events["forecast"] = await sink.events(room, "forecast", count=1, latest_first=True)  # the latest only
        report = room_report(path, events)
        _print_room_report(room, report)
    await sink.close()
    if renders is not None:
        _print_renders(settings, renders)
    if watch.notable:
        console.print("alerts, recommendations and clips:")
        for what, n in sorted(watch.notable.items()):
            console.print(f"  {n:3d} × {what}", markup=False)
    missing = set(rooms) - watch.final_rooms
    if missing:
        console.print(f"[red]no final metrics window for {sorted(missing)}[/]")
        return 1
    console.print("[green]all rooms streamed through the pipeline[/]")
    return 0


def room_report(room_dir: Path, events: dict[str, list[dict]]) -> dict:
    """How well the pipeline understood a sample room, from what landed in Redis, against the
    room's own ground truth (script.json: each sentence's text, timing and selling-point class)."""
    from livelens.bench.asr import sample_room_error

    script = json.loads((room_dir / "script.json").read_text(encoding="utf-8"))
    lang = script.get("lang", "en")
    sentences = script["sentences"]
    finals = sorted((e for e in events.get("transcript", []) if e.get("is_final") and e.get("text")),
                    key=lambda e: e["start_ms"])
    error = sample_room_error(room_dir, ("" if lang == "zh" else " ").join(e["text"] for e in finals))
    points = [e for e in events.get("selling_point", []) if e.get("closed", True) and not e.get("chit_chat")]
    selling = [s for s in sentences if s["label"] != "chit_chat"]

    def classes(point) -> set[str]:
        # a final often spans several of the host's sentences ("纯棉的，垂感好，今天到手价99"):
        # each class the multi-label classifier gave it counts, not only the top one
        return {point["label"]} | {label["class"] for label in point.get("labels") or []}

    def found(sentence) -> bool:
        start, end = sentence["start"] * 1000, sentence["end"] * 1000
        return any(sentence["label"] in classes(p) and p["start_ms"] < end and p["end_ms"] > start for p in points)

    clips = {}
    for c in events.get("clip", []):  # the newest revision of each clip
        if c.get("status") != "skipped" and c.get("revision", 0) >= clips.get(c["clip_id"], {}).get("revision", -1):
            clips[c["clip_id"]] = c
    recs = events.get("recommendation", [])
    return {
        "language": lang,
        "transcript_languages": sorted({e.get("language", "") for e in finals}),
        "error_metric": "CER" if lang == "zh" else "WER", "error": round(error, 3), "finals": len(finals),
        "selling_sentences": len(selling), "selling_found": sum(found(s) for s in selling),
        "selling_points": [(p.get("label_zh") if lang == "zh" else p.get("label_en")) or p["label"] for p in points],
        "selling_examples": [p["text"] for p in points[:3]],
        "multi_label": multi_label_report(points, lang),
        "clip_titles": [c.get("title", "") for c in clips.values()],
        "recommendations": [r.get("message_zh" if lang == "zh" else "message_en", "") for r in recs[:3]],
        "explain_next": explain_next_report(recs, lang),
        "forecast": forecast_report((events.get("forecast") or [None])[-1]),
    }


def multi_label_report(points: list[dict], lang: str, limit: int = 5) -> list[dict]:
    """The selling points with more than one class first, then those naming a product, each
    with its classes in the room's language, the product it is about and its text."""
    from models.taxonomy import TaxonomyError, load_taxonomy

    def name_of(category: str, cls: str) -> str:
        try:
            c = load_taxonomy(category).get(cls)
        except (TaxonomyError, KeyError):
            return cls
        return (c.name_zh if lang == "zh" else c.name_en) or cls

    ranked = sorted(points, key=lambda p: (-min(len(p.get("labels") or []), 2), not p.get("product_id")))
    return [{"classes": [name_of(p.get("category", "apparel"), label["class"]) for label in p.get("labels") or []],
             "product": (p.get("product_name_zh") if lang == "zh" else p.get("product_name_en")) or p.get("product_id", ""),
             "product_id": p.get("product_id", ""), "text": p.get("text", "")}
            for p in ranked[:limit] if p.get("labels")]


def explain_next_report(recs: list[dict], lang: str) -> dict | None:
    """The newest explain-next recommendation: its message and evidence (None if there was none)."""
    picks = [r for r in recs if r.get("rec_type") == "explain_next"]
    if not picks:
        return None
    r = max(picks, key=lambda r: r.get("stream_ms", 0))
    e = r.get("evidence", {})
    return {"message": r.get("message_zh" if lang == "zh" else "message_en", ""), "label": e.get("label", ""),
            "uplift": e.get("uplift"), "uplift_lo": e.get("uplift_lo"), "uplift_hi": e.get("uplift_hi"),
            "minutes_since_explained": e.get("minutes_since_explained"),
            "top_question": e.get("top_question") or e.get("room_top_question") or "", "stream_ms": r.get("stream_ms", 0),
            "why": e.get("fusion_why_zh" if lang == "zh" else "fusion_why_en", "")}


def forecast_report(forecast: dict | None) -> dict | None:
    """The latest forecast as {metric: [(horizon, mean, lo80, hi80), ...]} plus enough_data."""
    if not forecast:
        return None
    return {"enough_data": forecast.get("enough_data", False), "stream_ms": forecast.get("stream_ms", 0),
            **{metric: [(p["horizon_min"], p.get("mean"), p.get("lo80"), p.get("hi80")) for p in forecast.get(metric, [])]
               for metric in ("orders_per_min", "gmv", "viewers")}}


def _fmt_forecast(points: list) -> str:
    def num(v):
        return "-" if v is None else f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"
    return "; ".join(f"{h:g} min {num(m)} [{num(lo)}–{num(hi)}]" for h, m, lo, hi in points) or "-"


def _print_room_report(room: str, r: dict) -> None:
    t = Table(title=f"{room}: understood in {r['language']}", show_header=False)
    t.add_column("what")
    t.add_column("result")
    t.add_row("final transcripts", f"{r['finals']} in {', '.join(r['transcript_languages']) or '-'}; "
                                   f"{r['error_metric']} {r['error']:.2f} against the room's script")
    t.add_row("selling points", f"{r['selling_found']} of {r['selling_sentences']} scripted selling sentences found "
                                f"with the right class")
    t.add_row("classes", ", ".join(dict.fromkeys(r["selling_points"])) or "-")
    for text in r["selling_examples"]:
        t.add_row("  e.g.", escape(text[:80]))
    for point in r.get("multi_label") or []:
        product = point["product"] or "- (no product named)"
        t.add_row("  multi-label", escape(f"{' + '.join(point['classes'])} · {product}: {point['text'][:60]}"))
    for title in r["clip_titles"][:5]:
        t.add_row("clip title", title)
    for message in r["recommendations"]:
        t.add_row("recommendation", message[:80])
    x = r.get("explain_next")
    if x:
        t.add_row("explain next", escape(x["message"][:120]))
        since = "never" if x["minutes_since_explained"] is None else f"{x['minutes_since_explained']:.0f} min ago"
        t.add_row("  evidence", f"{x['label']}: uplift {x['uplift']:+.0%} (90 % interval {x['uplift_lo']:+.0%} to "
                                f"{x['uplift_hi']:+.0%}), last explained {since}"
                                + (f"; viewers ask: {escape(x['top_question'])}" if x["top_question"] else ""))
        if x.get("why"):
            t.add_row("  why (fusion)", escape(x["why"]))  # what moves the orders forecast now
    else:
        t.add_row("explain next", "- (no explain_next recommendation: too little chat or selling-point evidence)")
    f = r.get("forecast")
    if f:
        note = "" if f["enough_data"] else " (not enough history yet: naive, wide intervals)"
        t.add_row("forecast", f"at {f['stream_ms'] / 60_000:.1f} min of stream, 80 % intervals{note}")
        for metric, label in (("viewers", "  viewers"), ("orders_per_min", "  orders / min"), ("gmv", "  GMV / min")):
            t.add_row(label, _fmt_forecast(f[metric]))
    else:
        t.add_row("forecast", "- (no forecast: is the forecast processor running?)")
    console.print(t)
