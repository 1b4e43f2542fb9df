"""``livelens bench load``: N simulated rooms at realistic rates through the real broker and the
full processor set; end-to-end latency of recommendations and alerts, CPU and memory.

Per step (one N), on fresh topics and app ids (Tansu keeps everything in memory):

1. the light worker pool (metrics, chat, selling_points, fusion, anomaly, recommender + the Redis
   sink) and, with ``--asr``, a heavy pool (asr) start as ``livelens worker`` subprocesses;
2. a warm-up room loads the lazily loaded models (sentence encoder, ASR) before measuring;
3. N rooms are offered for ``--seconds`` through :class:`streams.ingest.publisher.Publisher`
   (watermarks included): chat sampled from the sample room's chat.jsonl (one room in
   ``1/--hot-every`` is hot at ``--hot-rate`` messages/s, the others 2-10/s, Poisson arrivals),
   recurring bursts of size / price / complaint questions per room (every ``--burst-every`` s),
   commerce (viewers every 2 s with occasional drops, likes, carts, orders, stock, failed
   payments) and a final transcript sentence of the sample room's script every ~3 s — published
   straight onto the transcripts topic, or, with ``--asr``, real audio chunks of the sample room
   for ``--asr-rooms`` rooms so the ASR stage produces them. Fused windows come from the fusion
   processor itself.
4. a consumer on every output topic records latency = emitted_at − ingested_at (the triggering
   input's ingest time) per processor; percentiles use inputs ingested after ``--settle`` s;
5. worker CPU (% of one core) and peak RSS from /proc; offered vs processed rates.

Recommendations fire rarely by design (cooldowns and dedup); the benchmark lowers every rule's
cooldown and ttl to ``--rec-cooldown`` s through a derived rules file
(``LIVELENS_RECOMMEND__RULES_FILE``) so there are enough samples, and says so in its output.
``--find-max`` runs increasing N and reports the largest N that keeps recommendation p99 within
``--p99-limit-ms`` (and the chat stage kept up).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import shlex
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import typer
import yaml
from pydantic import SecretStr
from rich.table import Table

from livelens.bench import table_console
from livelens.bench.machine import reference_ms
from livelens.workers import WorkerProcess
from streams.embedded import infrastructure
from streams.ingest.publisher import Publisher
from streams.kafka import ensure_topics, faust_internal_topics, start_producer, watch_events
from streams.schemas import AudioChunk, ChatMessage, CommerceEvent, Transcript
from streams.settings import Settings
from streams.topics import OUTPUT_TOPICS, TopicNames

console = table_console(160, stderr=True)
log = logging.getLogger(__name__)

LIGHT_POOL = ["metrics", "chat", "selling_points", "fusion", "anomaly", "recommender", "compliance"]
HEAVY_POOL = ["asr"]
#: chat intents of the sample room whose lines make up the recurring bursts (labels.json names)
BURST_INTENTS = ("size_question", "price_question", "complaint")
DEFAULT_STEPS = [5, 10, 20, 35, 50, 80, 120]
WARMUP_ROOM = "load-warmup"
CLK_TCK = os.sysconf("SC_CLK_TCK")
AUDIO_CHUNK_MS = 250
BURST_S = 4.0  # a burst of questions lasts this long


# ------------------------------------------------------------------ the simulated rooms


@dataclass
class SampleMaterial:
    """Real-looking text and audio from the sample room (``livelens sample-room``)."""

    chat_lines: list[str]
    burst_lines: dict[str, list[str]]
    sentences: list[dict]  # script.json sentences: text, start, end (s)
    pcm16k: bytes = b""  # the room's audio, 16 kHz mono PCM16 (only with --asr)

    @classmethod
    def load(cls, room_dir: Path, with_audio: bool) -> "SampleMaterial":
        chat = [json.loads(x) for x in (room_dir / "chat.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
        intents = json.loads((room_dir / "labels.json").read_text(encoding="utf-8"))["chat_intents"]
        by_intent: dict[str, list[str]] = defaultdict(list)
        for line, intent in zip(chat, intents):
            by_intent[intent].append(line["text"])
        sentences = json.loads((room_dir / "script.json").read_text(encoding="utf-8"))["sentences"]
        pcm = _decode_pcm16k(room_dir / "room.mp4") if with_audio else b""
        return cls([c["text"] for c in chat], {k: by_intent[k] for k in BURST_INTENTS if by_intent[k]},
                   sentences, pcm)


def _decode_pcm16k(path: Path) -> bytes:
    import av  # noqa: PLC0415 - only with --asr

    out = bytearray()
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16_000)
        for frame in container.decode(audio=0):
            for f in resampler.resample(frame):
                out += f.to_ndarray().tobytes()
        for f in resampler.resample(None):
            out += f.to_ndarray().tobytes()
    return bytes(out)


@dataclass
class RoomPlan:
    """One simulated room's rates and its next due time per stream (seconds since the start)."""

    room_id: str
    chat_rate: float
    hot: bool
    asr: bool
    next_chat: float = 0.0
    next_like: float = 0.0
    next_cart: float = 0.0
    next_order: float = 0.0
    next_payment_failed: float = 0.0
    next_viewers: float = 0.0
    next_stock: float = 0.0
    next_transcript: float = 0.0
    next_burst: float = 0.0
    burst_left: int = 0
    burst_kind: str = ""
    burst_gap: float = 0.0
    next_burst_msg: float = 0.0
    burst_every: float = 25.0
    bursts: int = 0
    viewers: int = 500
    stock: int = 200
    sentence: int = 0
    audio_pos: int = 0  # bytes into the sample room's PCM
    audio_seq: int = 0
    next_audio: float = 0.0


def plan_rooms(prefix: str, n: int, rng: random.Random, hot_every: int, hot_rate: float, asr_rooms: int,
               burst_every: float, settle_s: float) -> list[RoomPlan]:
    plans = []
    for i in range(n):
        hot = hot_every > 0 and i % hot_every == 0
        p = RoomPlan(room_id=f"{prefix}-{i}", chat_rate=hot_rate if hot else rng.uniform(2.0, 10.0), hot=hot,
                     asr=i < asr_rooms, burst_every=burst_every, viewers=rng.randint(2000, 9000) if hot else
                     rng.randint(80, 1500), stock=rng.randint(25, 200))
        p.next_burst = settle_s + rng.uniform(0.0, burst_every)  # staggered so bursts don't align
        p.next_transcript = rng.uniform(0.0, 3.0)
        p.sentence = rng.randrange(1000)
        p.next_stock = rng.uniform(0.0, 5.0)
        plans.append(p)
    return plans


@dataclass
class Offered:
    counts: Counter = field(default_factory=Counter)
    chat_by_room: Counter = field(default_factory=Counter)


async def offer(publisher: Publisher, plans: list[RoomPlan], material: SampleMaterial, seconds: float,
                rng: random.Random, t0: float, offered: Offered, unique_chat: bool = False) -> None:
    """Send every room's events when due for ``seconds`` (stream time = wall time since ``t0``)."""
    exp = rng.expovariate
    tick = 0.02
    while (now := time.time() - t0) < seconds:
        for p in plans:
            ms = int(now * 1000)
            # chat (Poisson), plus a burst of one question kind spread over ~4 s
            while p.next_chat <= now:
                p.next_chat += exp(p.chat_rate)
                await _chat(publisher, p, rng.choice(material.chat_lines), ms, rng, offered, unique_chat)
            if now >= p.next_burst and material.burst_lines:
                kinds = list(material.burst_lines)
                p.burst_kind = kinds[p.bursts % len(kinds)]
                p.burst_left = max(12, int(0.6 * p.chat_rate * BURST_S))  # ≥3 % of a hot room's minute of chat
                p.burst_gap = BURST_S / p.burst_left
                p.next_burst_msg = now
                p.bursts += 1
                p.next_burst += p.burst_every * rng.uniform(0.8, 1.2)
            while p.burst_left > 0 and p.next_burst_msg <= now:
                p.burst_left -= 1
                p.next_burst_msg += p.burst_gap
                await _chat(publisher, p, rng.choice(material.burst_lines[p.burst_kind]), ms, rng, offered, unique_chat)
            # commerce
            scale = 4.0 if p.hot else 1.0
            while p.next_like <= now:
                p.next_like += exp(1.0 * scale)
                await _commerce(publisher, p, "like", ms, offered, count=rng.randint(1, 5))
            while p.next_cart <= now:
                p.next_cart += exp(0.3 * scale)
                await _commerce(publisher, p, "cart", ms, offered, count=1)
            while p.next_order <= now:
                p.next_order += exp(0.2 * scale)
                units = rng.randint(1, 2)
                p.stock = max(0, p.stock - units)
                await _commerce(publisher, p, "order", ms, offered, count=units, amount=129.0 * units)
            while p.next_payment_failed <= now:
                p.next_payment_failed += exp(0.03 * scale)
                await _commerce(publisher, p, "payment_failed", ms, offered)
            while p.next_viewers <= now:
                p.next_viewers += 2.0
                # a random walk with an occasional sharp drop (viewers_falling / anomaly alerts)
                p.viewers = max(10, int(p.viewers * (0.55 if rng.random() < 0.04 else rng.uniform(0.97, 1.04))))
                await _commerce(publisher, p, "viewers", ms, offered, count=p.viewers)
            while p.next_stock <= now:
                p.next_stock += 5.0
                await _commerce(publisher, p, "stock", ms, offered, count=p.stock)
            # host speech: a final transcript sentence every ~3 s, or real audio for ASR rooms
            if p.asr and material.pcm16k:
                while p.next_audio <= now:
                    p.next_audio += AUDIO_CHUNK_MS / 1000
                    await _audio(publisher, p, material.pcm16k, ms, offered)
            else:
                while p.next_transcript <= now:
                    p.next_transcript += rng.uniform(2.5, 3.5)
                    await _transcript(publisher, p, material.sentences, ms, offered)
        await asyncio.sleep(tick)
    await publisher.flush()


async def _chat(publisher: Publisher, p: RoomPlan, text: str, ms: int, rng: random.Random, offered: Offered,
                unique: bool = False) -> None:
    uid = rng.randrange(3000 if p.hot else 300)
    if unique:
        text = f"{text} {offered.counts['chat']}"
    await publisher.publish("chat", ChatMessage(room_id=p.room_id, stream_ms=ms, user_id=f"u{uid}",
                                                user_name=f"viewer{uid}", text=text))
    offered.counts["chat"] += 1
    offered.chat_by_room[p.room_id] += 1


async def _commerce(publisher: Publisher, p: RoomPlan, kind: str, ms: int, offered: Offered, count: int = 1,
                    amount: float = 0.0) -> None:
    await publisher.publish("commerce", CommerceEvent(room_id=p.room_id, stream_ms=ms, type=kind, count=count,
                                                      amount=amount, product_id="dress-01"))
    offered.counts["commerce"] += 1


async def _transcript(publisher: Publisher, p: RoomPlan, sentences: list[dict], ms: int, offered: Offered) -> None:
    s = sentences[p.sentence % len(sentences)]
    p.sentence += 1
    length = int((s["end"] - s["start"]) * 1000)
    start = max(0, ms - length)
    # an ASR stage's output, injected: publish() stamps ingested_at = now, the latency origin downstream
    await publisher.publish("transcripts", Transcript(
        room_id=p.room_id, event_id=f"{p.room_id}:tr:{p.sentence}", stream_ms=ms, segment_id=f"{p.room_id}:s{p.sentence}",
        is_final=True, start_ms=start, end_ms=ms, text=s["text"], language="en", processor="bench-load"))
    offered.counts["transcripts"] += 1


async def _audio(publisher: Publisher, p: RoomPlan, pcm: bytes, ms: int, offered: Offered) -> None:
    size = 16_000 * 2 * AUDIO_CHUNK_MS // 1000
    if p.audio_pos + size > len(pcm):
        p.audio_pos = 0  # loop the sample room's speech
    chunk = pcm[p.audio_pos:p.audio_pos + size]
    p.audio_pos += size
    await publisher.publish("audio", AudioChunk(room_id=p.room_id, stream_ms=p.audio_seq * AUDIO_CHUNK_MS,
                                                seq=p.audio_seq, duration_ms=AUDIO_CHUNK_MS, pcm=chunk))
    p.audio_seq += 1
    offered.counts["audio"] += 1


# ------------------------------------------------------------------ measurement


@dataclass
class OutputLog:
    """What came out on the output topics for the measured rooms."""

    room_prefix: str
    settle_at: float  # wall clock; latency samples count inputs ingested after it
    counts: Counter = field(default_factory=Counter)
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    #: chat insight latencies by second of ingest since the settle point (where a tail came from)
    insight_by_second: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    rec_types: Counter = field(default_factory=Counter)
    #: recommendation latencies per rec_type: a type reached through more broker hops (room
    #: metrics windows, fused windows) can set the p99 while being a few % of the samples
    rec_latency_by_type: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    alert_types: Counter = field(default_factory=Counter)
    final_rooms: set[str] = field(default_factory=set)
    warmup_kinds: set[str] = field(default_factory=set)
    last_event_at: float = 0.0
    last_insight_at: float = 0.0

    def add(self, ev) -> None:
        if ev.kind == "chat_insights":  # a room's batch: count and time each message's insight
            for item in ev.items:
                self.add(item)
            return
        if ev.room_id == WARMUP_ROOM:
            self.warmup_kinds.add(ev.kind)
            return
        if not ev.room_id.startswith(self.room_prefix) or ev.kind == "dead_letter":
            self.counts[f"other:{ev.kind}"] += 1
            return
        self.counts[ev.kind] += 1
        self.last_event_at = time.time()
        if ev.kind == "chat_insight":
            self.last_insight_at = self.last_event_at
            if ev.refined_by:  # re-decided by the encoder heads (understanding.chat_encoder)
                self.counts["chat_insight_refined"] += 1
        if ev.kind == "recommendation":
            self.rec_types[ev.rec_type] += 1
        if ev.kind == "alert":
            self.alert_types[f"{ev.alert_type}:{ev.state}"] += 1
        if ev.kind == "room_metrics" and ev.final:
            self.final_rooms.add(ev.room_id)
        if ev.kind == "alert" and ev.evidence.get("raised_by") == "clock":
            return  # raised by the wall clock (a gap, a stall), not by an input: no ingest-to-emit latency
        if ev.ingested_at >= self.settle_at and getattr(ev, "processor", "") != "bench-load":
            self.latencies_ms[f"{ev.processor}/{ev.kind}"].append(ev.latency_ms)
            if ev.kind == "chat_insight":
                self.insight_by_second[int(ev.ingested_at - self.settle_at)].append(ev.latency_ms)
            elif ev.kind == "recommendation":
                self.rec_latency_by_type[ev.rec_type].append(ev.latency_ms)


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (field 3 onwards), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def with_children(pid: int) -> list[int]:
    """``pid`` and its descendants (a worker's child processes: the chat encoder's refiner)."""
    parents: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            parents[int(fields[1])].append(int(entry.name))
    family, todo = [], [pid]
    while todo:
        family.append(todo.pop())
        todo.extend(parents.get(family[-1], ()))
    return family


def proc_cpu_s(pid: int, children: bool = False) -> float:
    """utime + stime of a process in seconds (/proc/<pid>/stat fields 14 and 15); with its
    descendants' when ``children``; NaN when it is gone."""
    stats = [f for f in map(_stat_fields, with_children(pid) if children else [pid]) if f is not None]
    return sum(int(f[11]) + int(f[12]) for f in stats) / CLK_TCK if stats else float("nan")


def _vm_rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _proc_rss_mb(pid: int, children: bool = False) -> float:
    """Resident memory in MB (with its descendants' when ``children``); NaN when it is gone."""
    sizes = [kb for kb in map(_vm_rss_kb, with_children(pid) if children else [pid]) if kb is not None]
    return sum(sizes) / 1024 if sizes else float("nan")


class ResourceSampler:
    """CPU % (of one core) over the measured interval and peak RSS, per named process (a worker's
    with its child processes: the chat encoder's refiner counts as the worker's); also CPU % per
    ``timeline_s`` interval (the embedded broker's grows through a run: its cost per fetch grows
    with a partition's record batches, streams/kafka.py quirk 5)."""

    def __init__(self, pids: dict[str, int], timeline_s: float = 5.0):
        self.pids = pids
        self.timeline_s = timeline_s
        self.peak_rss: dict[str, float] = {name: 0.0 for name in pids}
        self._cpu0: dict[str, float] = {}
        self._t0 = 0.0
        self.cpu_pct: dict[str, float] = {}
        self.cpu_timeline: dict[str, list[float]] = {name: [] for name in pids}
        self._mark: tuple[float, dict[str, float]] = (0.0, {})
        self._stopped = False

    @staticmethod
    def _cpu(name: str, pid: int) -> float:
        return proc_cpu_s(pid, children=name.startswith("worker"))  # the generator's children are the rest

    def start(self) -> None:
        self._t0 = time.time()
        self._cpu0 = {name: self._cpu(name, pid) for name, pid in self.pids.items()}
        self._mark = (self._t0, dict(self._cpu0))

    def sample(self) -> None:
        """Called about once a second: peak RSS, and a timeline point every ``timeline_s``."""
        for name, pid in self.pids.items():
            self.peak_rss[name] = max(self.peak_rss[name], _proc_rss_mb(pid, name.startswith("worker")))
        t_mark, cpu_mark = self._mark
        now = time.time()
        if not self._stopped and now - t_mark >= self.timeline_s:
            cpu = {name: self._cpu(name, pid) for name, pid in self.pids.items()}
            for name in self.pids:
                self.cpu_timeline[name].append(round((cpu[name] - cpu_mark[name]) / (now - t_mark) * 100, 1))
            self._mark = (now, cpu)

    def stop(self) -> None:
        self._stopped = True  # the timeline covers the offered interval, like cpu_pct
        dt = max(time.time() - self._t0, 1e-6)
        self.cpu_pct = {name: (self._cpu(name, pid) - self._cpu0[name]) / dt * 100 for name, pid in self.pids.items()}


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def latency_summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": _pct(values, 50), "p95_ms": _pct(values, 95), "p99_ms": _pct(values, 99),
            "max_ms": round(max(values), 1) if values else None}


# ------------------------------------------------------------------ one step


@dataclass
class LoadOptions:
    seconds: float = 30.0
    asr: bool = False
    asr_rooms: int = 4
    hot_every: int = 5
    hot_rate: float = 50.0
    burst_every: float = 25.0
    rec_cooldown_s: float = 10.0
    settle_s: float = 5.0
    p99_limit_ms: float = 300.0
    seed: int = 1
    #: OMP/MKL threads of the workers' torch (0: leave the default, one per core)
    torch_threads: int = 0
    #: the Redis sink in its own worker process (a "sinks" pool) rather than in the light worker;
    #: measured slower on 2 cores (the extra consumer's fetches load the broker more than it relieves)
    sink_pool: bool = False
    #: every chat message made distinct (a running number appended), so no embedding cache hits:
    #: the sample room has 134 distinct chat lines, a real room many more
    unique_chat: bool = False
    #: the light worker's processors; a subset compares like with like, e.g. against code that
    #: had fewer processors
    light_processors: list[str] = field(default_factory=lambda: list(LIGHT_POOL))
    #: light processors that run in a worker process of their own (pool named after the
    #: processor) instead of in the light worker, e.g. ["chat"]: its loop, and the encoder
    #: hand-offs, off the light worker's core
    own_pools: list[str] = field(default_factory=list)


def worker_pools(opts: LoadOptions) -> dict[str, list[str]]:
    """Pool name -> processors: the light worker, one pool per ``own_pools`` processor, the heavy
    pool with ``asr`` and an empty "sinks" pool with ``sink_pool`` (the Redis sink alone)."""
    own = [p for p in opts.own_pools if p in opts.light_processors]
    pools = {"light": [p for p in opts.light_processors if p not in own]} | {p: [p] for p in own}
    if opts.asr:
        pools["heavy"] = list(HEAVY_POOL)
    if opts.sink_pool:
        pools["sinks"] = []
    return pools


def _processor_list(names: str, option: str = "--light-processors") -> list[str]:
    """``--light-processors`` / ``--own-pool``: known processor names, comma-separated (one-line error otherwise)."""
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in LIGHT_POOL]
    if not chosen or unknown:
        raise typer.BadParameter(f"choose among {','.join(LIGHT_POOL)}" + (f"; unknown: {','.join(unknown)}" if unknown else ""),
                                 param_hint=option)
    return chosen


def bench_rules_file(path: Path, cooldown_s: float) -> Path:
    """The shipped rules with every cooldown and ttl lowered to ``cooldown_s`` (more samples)."""
    from models.recommend.rules import DEFAULT_RULES_PATH  # noqa: PLC0415 - livelens may import models

    doc = yaml.safe_load(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    defaults = doc.setdefault("defaults", {})
    defaults["cooldown_s"] = min(defaults.get("cooldown_s", cooldown_s), cooldown_s)
    defaults["ttl_s"] = min(defaults.get("ttl_s", cooldown_s), cooldown_s)
    for rule in (doc.get("rules") or {}).values():
        if isinstance(rule, dict):
            for key in ("cooldown_s", "ttl_s"):
                if key in rule:
                    rule[key] = min(rule[key], cooldown_s)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


async def run_step(settings: Settings, infra, n_rooms: int, opts: LoadOptions, material: SampleMaterial,
                   broker_pid: int | None) -> dict:
    from livelens.worker import build_context  # noqa: PLC0415

    run = uuid.uuid4().hex[:6]
    run_dir = (settings.data_dir / "bench-load" / run).resolve()
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    rules = bench_rules_file(run_dir / "rules.yaml", opts.rec_cooldown_s)
    step = settings.model_copy(update={"topic_prefix": f"load{run}", "data_dir": run_dir, "metrics_port": 0,
                                       "segment_store": str(run_dir / "segments")})
    topics = TopicNames(step.topic_prefix)
    pools = worker_pools(opts)
    workers: dict[str, WorkerProcess] = {}
    machine_before = reference_ms()  # nothing of this step runs yet
    try:
        for pool, procs in pools.items():
            sinks = ["redis"] if pool == ("sinks" if opts.sink_pool else "light") else []
            pool_settings = step.model_copy(update={
                "app_id": f"load-{run}-{pool}", "processors": procs, "sinks": sinks,
                "kafka_bootstrap": infra.kafka_bootstrap, "redis_url": SecretStr(infra.redis_url),
                "recommend": step.recommend.model_copy(update={"rules_file": rules})})
            ctx = build_context(pool_settings, infra.kafka_bootstrap, infra.redis_url)  # learns its tables
            await ensure_topics(pool_settings, infra.kafka_bootstrap,
                                topics.all() + faust_internal_topics(pool_settings, ctx.tables))
            threads = str(opts.torch_threads) if opts.torch_threads else None
            extra = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads} if threads else {}
            workers[pool] = WorkerProcess(pool_settings, run_dir / "logs" / f"worker-{pool}.log",
                                          extra_env=extra).start()
        for worker in workers.values():
            await worker.wait_ready(120)
        result = await _measure(step, infra, topics, n_rooms, opts, material, workers, broker_pid, run_dir)
    finally:
        for worker in workers.values():
            worker.stop()
    # the machine's speed before and after the step (livelens/bench/machine.py): a run on a slow
    # hour is told from a slow change
    result["machine_ref_ms"] = [machine_before, reference_ms()]
    return result


async def _warm_up(publisher: Publisher, material: SampleMaterial, out: OutputLog, asr: bool) -> float:
    """Load the lazily loaded models (encoder, ASR) before the measured rooms start."""
    t0 = time.time()
    plan = RoomPlan(room_id=WARMUP_ROOM, chat_rate=1.0, hot=False, asr=asr)
    offered = Offered()
    rng = random.Random(0)
    wanted = {"chat_insight", "selling_point"} | ({"transcript"} if asr else set())
    i = 0
    while time.time() - t0 < 90 and not wanted <= out.warmup_kinds:
        ms = int((time.time() - t0) * 1000)
        await _chat(publisher, plan, material.chat_lines[i % len(material.chat_lines)], ms, rng, offered)
        await _commerce(publisher, plan, "viewers", ms, offered, count=100)
        if i % 4 == 0:
            await _transcript(publisher, plan, material.sentences, ms, offered)
        if asr and material.pcm16k:
            for _ in range(2):
                await _audio(publisher, plan, material.pcm16k, ms, offered)
        await publisher.flush()
        i += 1
        await asyncio.sleep(0.5)
    await publisher.marker(WARMUP_ROOM, "end", int((time.time() - t0) * 1000))
    await publisher.flush()
    return time.time() - t0


async def _measure(settings: Settings, infra, topics: TopicNames, n_rooms: int, opts: LoadOptions,
                   material: SampleMaterial, workers: dict[str, WorkerProcess], broker_pid: int | None,
                   run_dir: Path) -> dict:
    prefix = f"load-{n_rooms}r"
    out = OutputLog(room_prefix=prefix, settle_at=float("inf"))
    stop, ready = asyncio.Event(), asyncio.Event()
    watcher = asyncio.create_task(watch_events(
        settings, infra.kafka_bootstrap, [topics.full(n) for n in OUTPUT_TOPICS], out.add, stop, ready,
        on_undecodable=lambda _raw: out.counts.update(["undecodable"]), group_prefix="livelens-load-watch"))
    await ready.wait()
    producer = await start_producer(settings, infra.kafka_bootstrap)
    input_topics = ("chat", "commerce") + (("audio",) if opts.asr else ())
    publisher = Publisher(producer, topics, input_topics=input_topics)
    pids = {f"worker-{pool}": worker.pid for pool, worker in workers.items()}
    if broker_pid:
        pids["broker"] = broker_pid
    pids["load-generator"] = os.getpid()
    sampler = ResourceSampler(pids)
    try:
        warmup_s = await _warm_up(publisher, material, out, opts.asr)
        rng = random.Random(opts.seed)
        plans = plan_rooms(prefix, n_rooms, rng, opts.hot_every, opts.hot_rate,
                           opts.asr_rooms if opts.asr else 0, opts.burst_every, opts.settle_s)
        offered = Offered()
        t0 = time.time()
        out.settle_at = t0 + opts.settle_s
        for p in plans:
            await publisher.marker(p.room_id, "start", 0)
        sampler.start()

        async def sample():
            while not stop.is_set():
                sampler.sample()
                await asyncio.sleep(1.0)
        sample_task = asyncio.create_task(sample())
        await offer(publisher, plans, material, opts.seconds, rng, t0, offered, opts.unique_chat)
        offer_s = time.time() - t0
        sampler.stop()
        end_ms = int(offer_s * 1000)
        for p in plans:
            await publisher.marker(p.room_id, "end", end_ms)
        await publisher.flush()
        # drain: every chat message analysed and every room's final metrics window, or 60 s
        deadline = time.time() + 60
        while time.time() < deadline:
            done = out.counts["chat_insight"] >= offered.counts["chat"] and out.final_rooms >= {p.room_id for p in plans}
            if done and time.time() - out.last_event_at > 1.0:
                break
            await asyncio.sleep(0.2)
        drain_s = max(out.last_insight_at - t0 - offer_s, 0.0)
        stop.set()
        await sample_task
    finally:
        stop.set()
        await watcher
        await producer.stop()

    rec = out.latencies_ms.get("recommend/recommendation", [])
    alerts = out.latencies_ms.get("anomaly/alert", [])
    per_stage = {name: latency_summary(v) for name, v in sorted(out.latencies_ms.items())}
    chat_sent = offered.counts["chat"]
    insights = out.counts["chat_insight"]
    total_in = sum(offered.counts.values())
    kept_up = insights >= chat_sent and drain_s <= 5.0
    rec_p99 = _pct(rec, 99)
    return {
        "rooms": n_rooms, "hot_rooms": sum(p.hot for p in plans), "asr_rooms": sum(p.asr for p in plans),
        "seconds": round(offer_s, 1), "warmup_s": round(warmup_s, 1), "settle_s": opts.settle_s,
        "offered": dict(offered.counts), "offered_per_s": round(total_in / offer_s, 1),
        "chat_offered_per_s": round(chat_sent / offer_s, 1),
        "chat_processed": insights, "chat_processed_per_s": round(insights / (offer_s + drain_s), 1),
        "chat_refined_pct": round(100 * out.counts["chat_insight_refined"] / insights, 1) if insights else 0.0,
        "drain_s": round(drain_s, 2), "kept_up": kept_up,
        "outputs": {k: v for k, v in sorted(out.counts.items())},
        "recommendations": latency_summary(rec), "alerts": latency_summary(alerts),
        "rec_types": dict(out.rec_types), "alert_types": dict(out.alert_types),
        "rec_latency_by_type": {k: latency_summary(v) for k, v in sorted(out.rec_latency_by_type.items())},
        "per_stage": per_stage,
        # chat insight latency p99 per second of ingest after the settle point: a steady climb is
        # a stage falling behind, isolated spikes are pauses (GC, a slow fetch, a busy core)
        "insight_p99_by_second": [_pct(out.insight_by_second[i], 99) for i in sorted(out.insight_by_second)],
        "cpu_pct": {k: round(v, 1) for k, v in sampler.cpu_pct.items()},
        "cpu_timeline_s": sampler.timeline_s, "cpu_pct_timeline": sampler.cpu_timeline,
        "peak_rss_mb": {k: round(v, 1) for k, v in sampler.peak_rss.items()},
        "within_budget": bool(kept_up and rec_p99 is not None and rec_p99 <= opts.p99_limit_ms),
        "logs": str(run_dir / "logs"),
    }


async def run_load(settings: Settings, room_counts: list[int], opts: LoadOptions, find_max: bool,
                   sample_dir: Path | None = None) -> dict:
    """Run one step per room count (stopping at the first over budget with ``find_max``)."""
    from livelens.sample_room import ensure_sample_room  # noqa: PLC0415

    with console.status("preparing the sample room (en) …"):
        room_dir = ensure_sample_room(sample_dir or settings.data_dir / "sample_room", "en")
    material = SampleMaterial.load(room_dir, with_audio=opts.asr)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    redis_cfg = settings.redis_url.get_secret_value() if settings.redis_url else None
    steps: list[dict] = []
    with infrastructure(settings.kafka_bootstrap, redis_cfg, log_dir=settings.data_dir / "logs") as infra:
        broker_pid = infra.broker_pid
        for n in room_counts:
            console.print(f"[bold]step[/]: {n} rooms for {opts.seconds:g} s "
                          f"({'ASR in the loop' if opts.asr else 'ASR excluded: transcripts injected'}) …")
            result = await run_step(settings, infra, n, opts, material, broker_pid)
            steps.append(result)
            if find_max:
                console.print(step_table([result]))
            if find_max and not result["within_budget"]:
                break
    holding = [s["rooms"] for s in steps if s["within_budget"]]
    return {"asr": opts.asr, "seconds_per_step": opts.seconds, "p99_limit_ms": opts.p99_limit_ms,
            "rec_cooldown_s": opts.rec_cooldown_s, "partitions": settings.partitions,
            "fetch_max_wait_ms": settings.fetch_max_wait_ms, "sink_pool": opts.sink_pool,
            "own_pools": list(opts.own_pools),
            "note": (f"recommendation rules' cooldown and ttl lowered to {opts.rec_cooldown_s:g} s for samples; "
                     f"latency percentiles use inputs ingested after the first {opts.settle_s:g} s; "
                     + ("one light worker holds every processor but asr" if opts.light_processors == LIGHT_POOL
                        else "one light worker holds " + ",".join(opts.light_processors))
                     + "".join(f"; {p} runs in a worker of its own" for p in opts.own_pools)
                     + ("; the Redis sink runs in its own worker process" if opts.sink_pool else
                        "; the Redis sink runs in the light worker")
                     + (f"; workers' torch threads = {opts.torch_threads}" if opts.torch_threads else "")
                     + ("; every chat message distinct (--unique-chat)" if opts.unique_chat else "")
                     + "; a worker's CPU and RSS include its child processes"),
            "machine_ref": "machine_ref_ms: CPU ms of a fixed workload before/after each step "
                           "(livelens/bench/machine.py; lower is faster)",
            "broker": "embedded Tansu" if broker_pid else "configured",
            "steps": steps, "max_rooms_within_budget": max(holding, default=0)}


# ------------------------------------------------------------------ output


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f}"


def step_table(steps: list[dict]) -> Table:
    t = Table(title="livelens bench load — end-to-end latency (emitted − ingested, ms), through the broker")
    for col in ("rooms", "in/s", "chat in/s", "chat done/s", "rec n", "rec p50", "rec p95", "rec p99",
                "alert n", "alert p99", "chat p99", "refined %", "metrics p99", "light CPU %", "light RSS MB",
                "machine ref ms", "ok"):
        t.add_column(col, justify="right")
    for s in steps:
        ps = s["per_stage"]
        chat = ps.get("chat/chat_insight", {})
        metrics = ps.get("metrics/room_metrics", {})
        r, a = s["recommendations"], s["alerts"]
        t.add_row(str(s["rooms"]), f"{s['offered_per_s']:.0f}", f"{s['chat_offered_per_s']:.0f}",
                  f"{s['chat_processed_per_s']:.0f}", str(r["n"]), _ms(r["p50_ms"]), _ms(r["p95_ms"]),
                  _ms(r["p99_ms"]), str(a["n"]), _ms(a["p99_ms"]), _ms(chat.get("p99_ms")),
                  f"{s.get('chat_refined_pct', 0.0):.0f}", _ms(metrics.get("p99_ms")), f"{s['cpu_pct'].get('worker-light', float('nan')):.0f}",
                  f"{s['peak_rss_mb'].get('worker-light', float('nan')):.0f}",
                  "/".join(f"{v:.0f}" for v in s.get("machine_ref_ms", [])),
                  "yes" if s["within_budget"] else "no")
    return t


def _latency_table(title: str, label: str, summaries: dict[str, dict]) -> Table:
    t = Table(title=title)
    for col in (label, "n", "p50", "p95", "p99", "max"):
        t.add_column(col, justify="left" if col == label else "right")
    for name, v in summaries.items():
        t.add_row(name, str(v["n"]), _ms(v["p50_ms"]), _ms(v["p95_ms"]), _ms(v["p99_ms"]), _ms(v["max_ms"]))
    return t


def stage_table(step: dict) -> Table:
    return _latency_table(f"per processor — {step['rooms']} rooms", "processor/kind", step["per_stage"])


def rec_type_table(step: dict) -> Table:
    return _latency_table(f"recommendations by type — {step['rooms']} rooms (latency ms)", "rec_type",
                          step.get("rec_latency_by_type", {}))


def resource_table(step: dict) -> Table:
    t = Table(title=f"processes — {step['rooms']} rooms (CPU % of one core over the offered interval)")
    every = step.get("cpu_timeline_s", 5)
    for col in ("process", "CPU %", "peak RSS MB", f"CPU % per {every:g} s"):
        t.add_column(col, justify="right" if col in ("CPU %", "peak RSS MB") else "left")
    for name, cpu in step["cpu_pct"].items():
        timeline = " ".join(f"{v:.0f}" for v in step.get("cpu_pct_timeline", {}).get(name, []))
        t.add_row(name, f"{cpu:.0f}", f"{step['peak_rss_mb'].get(name, float('nan')):.0f}", timeline)
    return t


def register(app: typer.Typer) -> None:
    @app.command()
    def load(
        rooms: int = typer.Option(10, help="Simulated rooms (ignored with --find-max)"),
        seconds: float = typer.Option(30.0, help="Seconds of offered load per step"),
        asr: bool = typer.Option(False, "--asr/--no-asr", help="Real audio through the ASR pool for --asr-rooms rooms"),
        asr_rooms: int = typer.Option(4, help="Rooms with real audio when --asr (the others get injected transcripts)"),
        find_max: bool = typer.Option(False, "--find-max", help="Increase N until recommendation p99 exceeds the limit"),
        steps: str = typer.Option(",".join(map(str, DEFAULT_STEPS)), help="Room counts tried by --find-max"),
        hot_every: int = typer.Option(5, help="One room in this many is hot (0: none)"),
        hot_rate: float = typer.Option(50.0, help="Chat messages/s of a hot room (the others: 2-10/s)"),
        burst_every: float = typer.Option(25.0, help="Seconds between a room's size/price/complaint bursts"),
        rec_cooldown: float = typer.Option(10.0, help="Rules' cooldown and ttl for the benchmark (s)"),
        settle: float = typer.Option(5.0, help="Latency percentiles skip inputs of the first SETTLE s"),
        p99_limit_ms: float = typer.Option(300.0, help="Recommendation p99 budget"),
        seed: int = typer.Option(1),
        torch_threads: int = typer.Option(0, help="OMP/MKL threads for the workers' torch (0: default)"),
        sink_pool: bool = typer.Option(False, "--sink-pool/--no-sink-pool",
                                       help="Run the Redis sink in its own worker process"),
        unique_chat: bool = typer.Option(False, "--unique-chat/--no-unique-chat",
                                         help="Make every chat message distinct (no embedding cache hits)"),
        light_processors: str = typer.Option(",".join(LIGHT_POOL), help="The light worker's processors, "
                                             "comma-separated (a subset compares like with like)"),
        own_pool: str = typer.Option("", help="Light processors that run in a worker process of their own, "
                                     "comma-separated (e.g. chat: its encoder hand-offs off the light worker)"),
        json_out: bool = typer.Option(False, "--json", help="Print JSON"),
    ) -> None:
        """N rooms at realistic rates through the real broker and the full processor set: latency, CPU, memory."""
        settings = Settings()
        (settings.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        opts = LoadOptions(seconds=seconds, asr=asr, asr_rooms=asr_rooms, hot_every=hot_every, hot_rate=hot_rate,
                           burst_every=burst_every, rec_cooldown_s=rec_cooldown, settle_s=settle,
                           p99_limit_ms=p99_limit_ms, seed=seed, torch_threads=torch_threads,
                           sink_pool=sink_pool, unique_chat=unique_chat,
                           light_processors=_processor_list(light_processors),
                           own_pools=_processor_list(own_pool, "--own-pool") if own_pool.strip() else [])
        counts = [int(x) for x in steps.split(",") if x.strip()] if find_max else [rooms]
        result = asyncio.run(run_load(settings, counts, opts, find_max))
        result["command"] = ("livelens bench load " + " ".join(shlex.quote(a) for a in sys.argv[3:])).strip()
        if json_out:
            print(json.dumps(result, indent=2, ensure_ascii=False))
            return
        console.print(step_table(result["steps"]))
        last = result["steps"][-1] if result["steps"] else None
        if last:
            console.print(stage_table(last))
            console.print(rec_type_table(last))
            console.print(resource_table(last))
            console.print(f"alerts: {last['alert_types']}")
            console.print(f"chat insight p99 per second after settling (ms): {last['insight_p99_by_second']}")
        console.print(f"note: {result['note']}")
        if find_max:
            console.print(f"largest N per worker with recommendation p99 ≤ {p99_limit_ms:g} ms and chat kept up: "
                          f"[bold]{result['max_rooms_within_budget']}[/]")
        console.print(f"command: {result['command']}")
