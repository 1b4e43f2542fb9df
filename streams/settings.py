"""One settings object for all of livelens.

Every field is an environment variable ``LIVELENS_<FIELD>`` (nested sections use a double
underscore: ``LIVELENS_ASR__MODEL=base``), optionally from a ``.env`` file in the working
directory. ``livelens config`` prints the effective values (secrets masked).

Settings that hold several values take the form people type as well as JSON:
``LIVELENS_PROCESSORS=chat,metrics`` or ``'["chat","metrics"]'``;
``LIVELENS_ASR__ROOM_LANGUAGES=room-a=zh,room-b=en`` or ``'{"room-a":"zh","room-b":"en"}'``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, PositiveInt, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def split_list(value: Any) -> Any:
    """An environment value for a list: a JSON list, or comma-separated items (blank: none)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [item.strip() for item in text.split(",") if item.strip()]


def split_mapping(value: Any) -> Any:
    """An environment value for a mapping: a JSON object, or ``key=value`` pairs separated by commas."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("{"):
        return json.loads(text)
    pairs = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value pairs separated by commas (or a JSON object), got {item!r}")
        pairs[key.strip()] = val.strip()
    return pairs


# NoDecode: pydantic-settings would otherwise insist on JSON for these and fail before validation.
StrList = Annotated[list[str], NoDecode, BeforeValidator(split_list)]
StrMap = Annotated[dict[str, str], NoDecode, BeforeValidator(split_mapping)]


class LatencyBudgets(BaseModel):
    """Per-stage latency budgets in ms (emitted − ingested). A breach is a metric and an alert."""

    metrics: float = 300
    asr: float = 1500  # final transcript after the utterance's last audio
    understanding: float = 100
    chat: float = 100
    vision: float = 300
    fusion: float = 300
    clips: float = 3000
    anomaly: float = 300
    recommend: float = 300
    compliance: float = 300  # compliance alert after the final transcript / chat message
    forecast: float = 300


class AsrSettings(BaseModel):
    #: "tiny.en" / "base" (packaged, offline), or any faster-whisper model id or local path.
    model_en: str = "tiny.en"
    model_multi: str = "base"
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    beam_size: int = 1
    threads: int = 2
    #: Language of a room that does not declare one (at ingest or in the rooms file): zh, en or auto.
    language: Literal["zh", "en", "auto"] = "en"
    #: Per-room override, beating what the room declares: ``room-zh=zh,room-b=en`` (or a JSON object)
    #: in the env var; each value zh, en or auto.
    room_languages: StrMap = Field(default_factory=dict)
    #: auto: speech heard before a room's language is decided (one very sure utterance decides sooner)
    language_id_speech_ms: int = Field(default=3_000, ge=500, le=60_000)

    @field_validator("room_languages")
    @classmethod
    def _known_languages(cls, v: dict[str, str]) -> dict[str, str]:
        from streams.schemas import parse_room_language

        return {room: parse_room_language(lang) for room, lang in v.items()}
    #: Seconds between partial updates when keeping up with real time.
    update_interval_s: float = 1.0
    #: Where the assembled multilingual model lives (built by ``livelens setup-models``).
    model_dir: Path = Path("var/models")
    #: Streaming policy: "vad" (VAD-bounded utterances, measured better) or "local_agreement".
    policy: Literal["vad", "local_agreement"] = "vad"
    #: Silence that closes an utterance; final latency ≈ this (the decode is speculative, below).
    end_silence_ms: int = 500
    #: The same in English rooms (None: end_silence_ms). 700: pauses between a host's sentences
    #: do not close it; longer utterances came nearer the offline error (BENCHMARKS.md, session 11).
    en_end_silence_ms: int | None = 700
    #: After this much silence the utterance is decoded as its final candidate, emitted without a
    #: new decode once end_silence_ms confirms it (only for the identical audio). 0 = off.
    spec_silence_ms: int = 250
    #: Audio before a VAD region decoded with it (never an earlier region's): soft onsets.
    lead_in_ms: int = 500
    #: Audio kept while nobody speaks (VAD onset pad + lead-in come from it).
    vad_keep_ms: int = 1000
    #: Partials of a longer open utterance re-decode only its last ~this many seconds (the words
    #: before are kept from the previous partial): a partial's cost stops growing. 0 = off.
    partial_window_s: float = 4.0
    max_utterance_s: float = 15.0
    #: Encoder context of a final's decode: "full" (Whisper's 30 s window, as offline), "fit"
    #: (max(10 s, utterance + 1 s), as partials: a third of the cost, higher error on Chinese) or
    #: "auto": full in English rooms, fit in Chinese ones (full put zh finals over budget on CPU).
    final_encoder_context: Literal["fit", "full", "auto"] = "auto"
    #: Lag (audio waiting + compute) above which a session degrades; an alert condition.
    lag_budget_ms: float = 1000.0
    #: Compute/audio ratio above which a session degrades too (a slow or loaded machine).
    degrade_rtf: float = 0.8
    #: Threads of the ASR decode pool (Whisper runs there, never on the event loop).
    workers: int = 1
    #: Speech biased to the room (models/asr/bias.py), English rooms with a ``catalog`` only:
    #: "both" (hotwords + a prompt naming the products) and "hotwords", from the catalog and the
    #: category taxonomy (``understanding.category``), lowered WER and raised term recall in
    #: ``livelens bench asr --bias``; a prompt alone raised WER. On Chinese rooms every mode raised
    #: the streaming CER, so they are never biased (BENCHMARKS.md).
    bias: Literal["none", "hotwords", "both"] = "both"
    #: The rooms' catalog (product names and aliases, models/understanding/catalogs/*.yaml);
    #: None: no biasing.
    catalog: Path | None = None
    #: Hint phrases at most (they share Whisper's 224-token prompt window with the decode).
    bias_max_terms: int = Field(default=40, ge=1, le=200)


class UnderstandingSettings(BaseModel):
    category: str = "apparel"
    #: "use-multilingual" (packaged, offline), "minilm" (packaged), or any transformers path / hub id.
    encoder: str = "use-multilingual"
    #: USE-multilingual's arithmetic, for selling points and the chat encoder heads: "float32" (the
    #: package's numpy forward), "bfloat16" (torch on oneDNN, models/understanding/use_bf16.py:
    #: faster on CPUs with AMX / AVX512-BF16, slower elsewhere; embeddings within cosine 0.9999)
    #: or "auto" (bfloat16 where the CPU has those units). Figures in BENCHMARKS.md
    encoder_precision: Literal["float32", "bfloat16", "auto"] = "float32"
    #: classify transcript sentences on the event loop (the packaged encoder: ~2 ms a sentence)
    #: rather than in a thread, whose hand-offs and GIL turns cost the loop more than that
    #: (BENCHMARKS.md, session 8); False for a slow encoder (a transformers model: 10 ms and up)
    classify_on_loop: bool = True
    taxonomy_dir: Path | None = None  # None -> the taxonomies shipped in models/taxonomy
    chat_window_ms: int = 10_000
    #: below this best score a sentence is the taxonomy's fallback (chit-chat)
    min_score: float = 0.3
    #: a selling-point segment closes after this much silence, or at this length
    segment_max_gap_ms: int = 3_000
    segment_max_ms: int = 60_000
    #: live selling points list every class above its threshold (selling_point_thresholds.yaml),
    #: each with its evidence span; costs one encoder pass per clause of a sentence
    multi_label: bool = True
    #: the rooms' product catalog (YAML/JSON: id, names zh/en, aliases; models/understanding/
    #: catalogs/sample_room.yaml) for rooms whose rooms-file entry names none; None: no linking
    catalog: Path | None = None
    #: None -> the chat weights shipped in models/understanding/weights/chat.npz
    chat_weights: Path | None = None
    #: sentence encoder whose heads refine the live chat insights: "none" = the lexicon + n-gram
    #: decision alone (~0.07 ms a message, on the loop); "use-multilingual" = that decision first,
    #: then the encoder heads (weights/chat_encoder.npz; better emotion and intents,
    #: docs/UNDERSTANDING.md) re-decide each insight batch before it is sent
    #: (chat_encoder_batch messages per encoder call); figures in BENCHMARKS.md
    chat_encoder: str = "none"
    #: the encoder heads run in a child process of the worker (the loop's core stays free;
    #: +~200 MB); false: in a thread of the worker
    chat_encoder_process: bool = True
    #: the child's CPU niceness (0–19): when the cores are busy the worker's loop runs first and
    #: the flush budget sheds the refinements the child could not finish in time
    chat_encoder_nice: int = Field(default=10, ge=0, le=19)
    chat_encoder_batch: int = Field(default=64, ge=1, le=256)
    #: insights go to the encoder as they come, once the oldest waiting is this old (or a batch
    #: waits), so a flush only waits for its last few; 0: a flush hands all of its insights over
    chat_encoder_prefetch_ms: int = Field(default=20, ge=0, le=5_000)
    #: the most one flush spends refining (a call started before it finishes): insights beyond
    #: keep the fast decision (refined_by ""), so a busy machine sheds encoder work rather than
    #: holding insights back
    chat_encoder_budget_ms: int = Field(default=100, ge=1, le=10_000)
    top_questions: int = 5
    #: chat insights of a room go out as one record per this interval (0: one per message);
    #: a busy room's messages share a record, at the cost of up to this much insight latency
    insight_batch_ms: int = Field(default=100, ge=0, le=5_000)
    #: a room's batch goes out early at this many insights
    insight_batch_max: int = Field(default=200, ge=1, le=1_000)


class VisionSettings(BaseModel):
    ocr: bool = False  # on-screen price text via rapidocr (pip install livelens[ocr])
    max_frame_ms: float = 300.0
    person_every: int = 5  # HOG people detector every Nth frame (~5-10 ms at 320 px); 0 = never


class FusionSettings(BaseModel):
    window_ms: int = 4_000
    hop_ms: int = 2_000
    checkpoint_dir: Path | None = None  # None -> <data_dir>/fusion
    learning_rate: float = 1e-3
    #: the documented prior answers until a room's model has made this many updates
    min_updates: int = 50
    checkpoint_every: int = 100  # online updates between a room's checkpoints
    #: shared model new rooms warm-start from (``livelens train-fusion --out``); None = cold start
    shared_checkpoint: Path | None = None
    #: learn from every Nth closed window (a training step costs ~5-10 ms of CPU; prediction ~1 ms)
    learn_every: int = 4
    #: skip the learning step of a window whose cause waited longer than this (the worker is
    #: behind): learning can wait, the fused window cannot (counted in livelens_dropped_total)
    learn_max_lag_ms: float = 150.0
    #: torch threads in a worker: the default (one per core) fights the event loop for the CPU
    torch_threads: int = 1


class ClipSettings(BaseModel):
    out_dir: Path | None = None  # None -> <data_dir>/clips
    mode: Literal["reencode", "copy"] = "reencode"
    min_s: float = 3.0
    max_s: float = 60.0
    pad_s: float = 0.3
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    #: Also write a 9:16 vertical variant (cropped on the host's face when vision saw one).
    vertical: bool = True
    vertical_max_height: int = 1280
    #: libx264 preset/CRF for re-encoded clips (veryfast: ~1 s per 5 s of 720p here).
    preset: str = "veryfast"
    crf: int = 23
    #: Cuts running at once per worker (they share the CPU with ASR and vision).
    concurrency: int = 1
    #: Start encoding a clip from the segments already stored while its last one is still being
    #: recorded (reencode mode): only the last segment is left to cut when it lands.
    live_cut: bool = True
    #: Announce a clip as soon as its MP4 (+ subtitles, thumbnail, meta) is written; the vertical
    #: variant follows as an update event (``Clip.pending`` / ``revision``). False: one event, both.
    vertical_later: bool = True
    #: How long to wait for the segment store to cover a closed selling point's end
    #: (its last segment is still being written); None -> segment_s + 1 s.
    max_wait_s: float | None = None
    #: Selling points kept per room for merging neighbours, and how far back (stream ms).
    history_ms: int = 120_000
    #: Platform profiles (media/profiles/*.yaml) each clip is rendered for after its first MP4,
    #: those posting in the room's language only (``douyin,tiktok``: zh rooms douyin, en rooms tiktok).
    platforms: StrList = Field(default_factory=list)
    #: Platform renders running at once per worker, off the clipper's agent (~1-2 s per clip second each).
    render_concurrency: int = Field(default=1, ge=1, le=8)
    #: The clip matrix: renders per platform of one moment, each with its own opening hook, title
    #: and cover (brands post one stream from several accounts; platforms penalise duplicates).
    variants: int = Field(default=1, ge=1, le=9)


class AnomalySettings(BaseModel):
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    cooldown_s: float = 30.0
    #: an open alert that stays breached is re-sent as "updated" at most this often
    update_interval_s: float = 10.0


class RecommendSettings(BaseModel):
    rules_file: Path | None = None  # None -> models/recommend rules shipped with the package
    #: per-brand / per-room overrides: YAML {brands: {name: {...}}, rooms: {room_id: {...}}}
    overrides_file: Path | None = None
    #: room -> brand, for brand overrides: ``room-a=brandx,room-b=brandy`` (or a JSON object)
    room_brands: StrMap = Field(default_factory=dict)
    #: per-category attribution priors (models/attribution/prior_store.py): a new room starts from
    #: its category's, a room that ends adds to it. None -> <data_dir>/attribution
    prior_dir: Path | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None


class ComplianceSettings(BaseModel):
    """Which rule packs check a room (models/compliance/rules: ``livelens compliance --help`` lists them)."""

    #: the room's product category ("" = common rules only); the rooms file's ``category`` wins
    category: str = ""
    #: the platform the room streams on ("" = none); the rooms file's ``platform`` wins
    platform: str = "douyin"
    #: per-room overrides, e.g. {"room-1": {"category": "food", "platform": "kuaishou"}} (JSON in the env var)
    rooms: dict[str, dict[str, str]] = Field(default_factory=dict)
    rules_dir: Path | None = None  # None -> the packs shipped in models/compliance/rules
    #: check chat messages too (diversion by viewers: 加微信, phone numbers)
    chat: bool = True


class PrivacySettings(BaseModel):
    """Viewer data: pseudonymised ids, masked chat text, how long per-room data is kept."""

    #: HMAC key of pseudonymised viewer ids. Unset -> generated into data_dir/privacy-secret.
    secret: SecretStr | None = None
    #: per-room Redis data kept this long after its last write (seconds), by kind of key:
    #: ``state``, ``stream:<kind>`` (e.g. ``stream:chat_insight``), ``clips``; ``default`` for the rest
    retention_s: dict[str, int] = Field(default_factory=lambda: {
        "default": 7 * 24 * 3600, "stream:chat_insight": 24 * 3600, "stream:compliance": 30 * 24 * 3600,
        "clips": 30 * 24 * 3600})

    def retention_for(self, kind: str) -> int:
        """Seconds a key of ``kind`` (``state``, ``stream:chat_insight`` …) lives after its last write."""
        return int(self.retention_s.get(kind, self.retention_s.get("default", 7 * 24 * 3600)))


class ForecastSettings(BaseModel):
    #: early-warning rules (YAML); None -> models/forecast/early_warning.yaml
    warnings_file: Path | None = None
    #: horizons forecast per room, in minutes
    horizons_min: tuple[float, ...] = (5.0, 15.0, 45.0)
    #: minutes left in the current product segment, for the stock-out warning (None: that rule
    #: is off; room_metrics does not say when a segment ends)
    segment_left_min: float | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LIVELENS_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    # --- broker -------------------------------------------------------------------------
    #: Kafka bootstrap servers ("host:port,host:port"). Unset -> the embedded Tansu broker.
    kafka_bootstrap: str | None = None
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    #: Idempotent producer: off for Tansu (it rejects InitProducerId v0); turn on for real Kafka
    #: so producer retries cannot duplicate input.
    kafka_idempotent_producer: bool = False
    topic_prefix: str = "livelens"
    #: Partitions per topic; rooms spread over them by key. All topics share it (co-partitioning).
    partitions: int = 8
    replication_factor: int = 1
    app_id: str = "livelens"
    #: Consumer fetch wait. Tansu never answers a fetch early and faust hard-codes 1500 ms,
    #: which costs ~370 ms per hop; 10 ms gives ~12 ms per hop (docs/ARCHITECTURE.md).
    fetch_max_wait_ms: int = 10
    #: How long a starting worker, ``livelens ingest``, ``topics`` or ``api`` waits for an
    #: unreachable broker or Redis before it gives up with a one-line error (a worker may start first).
    connect_wait_s: float = Field(default=300.0, gt=0)
    #: A new consumer group's first join waits session_timeout/2 on Tansu: keep it short.
    session_timeout_s: float = 6.0
    heartbeat_interval_s: float = 1.0
    commit_interval_s: float = 1.0
    #: Also commit after this many acknowledged records (faust's ``broker_commit_every``, 10,000
    #: by default); 0: only every ``commit_interval_s``. faust runs that commit inside its fetch
    #: loop, which delivers no record until the commit is done (~300 ms here: room states go to
    #: their changelog first, see streams/state.py), every ~7 s at 50 rooms (BENCHMARKS.md).
    commit_every: int = Field(default=0, ge=0)
    #: Back pressure: unprocessed messages an agent's stream may buffer (faust's default 4096);
    #: a slow sink (or a slow Redis) makes the backlog wait in Kafka, not in worker memory.
    stream_buffer_maxsize: int = 1024
    #: Records per consumer poll (aiokafka's default is unbounded within its fetch size).
    max_poll_records: int = 500
    #: Producer linger: how long a produce batch waits for more records. Each produce request
    #: costs the worker a socket write and the broker a request; a few ms batches bursts.
    producer_linger_ms: int = 2

    # --- worker -------------------------------------------------------------------------
    #: Processors this worker runs (processors/<name>.py); split CPU-heavy ones into their own pool.
    processors: StrList = Field(default_factory=lambda: [
        "metrics", "asr", "vision", "chat", "selling_points", "fusion", "clipper", "anomaly", "recommender",
        "compliance", "forecast"])
    #: Sinks this worker runs (sinks/<name>.py with a register(ctx)).
    sinks: StrList = Field(default_factory=lambda: ["redis", "clips", "webhook"])
    metrics_port: int = 9464  # Prometheus /metrics of the worker (on bind_host)
    #: event loop of a worker: uvloop (libuv, in C) or Python's asyncio
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    #: move the objects alive after model loading out of the garbage collector's full passes
    #: (gc.freeze): the loaded libraries and weights are ~430k objects, and walking them paused the
    #: light worker 150-240 ms every few seconds under load (bench load, BENCHMARKS.md)
    gc_freeze: bool = True
    #: Python's collector thresholds (``gc.set_threshold``: gen0, gen1, gen2), set with the freeze.
    #: The third is 10 in Python: a full pass, which walks every unfrozen object, ran every ~6 s
    #: while a light worker drained a backlog (~115 ms each on a slow hour, 2 % of its CPU); at 100
    #: none ran in 30 s (scripts/bench_catchup.py with gc.callbacks, BENCHMARKS.md session 7). A
    #: full pass still runs when gen1 has run 100 times and the survivors grew by a quarter.
    gc_thresholds: Annotated[tuple[PositiveInt, PositiveInt, PositiveInt], NoDecode,
                             BeforeValidator(split_list)] = (700, 10, 100)  # 0 would switch it off

    # --- redis --------------------------------------------------------------------------
    #: Redis URL (redis://, rediss:// with TLS, user:password@ for auth). Unset -> embedded Valkey.
    redis_url: SecretStr | None = None
    redis_stream_maxlen: int = 10_000

    # --- limits -------------------------------------------------------------------------
    max_event_bytes: int = 512 * 1024
    metrics_window_ms: int = 5_000
    #: retention around a selling point (models/retention.py): viewers are followed this long after its end
    metrics_retention_after_ms: int = Field(default=60_000, ge=0)
    #: A room with no chat/commerce for this long (wall clock) has its open window flushed.
    idle_flush_s: float = 10.0

    # --- storage ------------------------------------------------------------------------
    data_dir: Path = Path("var")
    segment_store: str = "var/segments"  # local folder, or s3://bucket/prefix
    segment_s: float = 2.0
    segment_retention_s: float = 1800.0

    # --- ingest -------------------------------------------------------------------------
    #: Optional YAML of rooms declared ahead of time (language, category): streams/rooms.py.
    rooms_file: Path | None = None
    audio_chunk_ms: int = 250
    frame_fps: float = 1.0
    frame_width: int = 320

    # --- web / http ---------------------------------------------------------------------
    bind_host: str = "127.0.0.1"
    api_port: int = 8088
    worker_web_port: int = 6066
    #: Token for HTTP ingest, the API and the dashboard. Unset -> generated into data_dir/api-token.
    api_token: SecretStr | None = None
    http_max_body_bytes: int = 256 * 1024
    #: Lifetime of a browser session (signing in at /signin exchanges the token for a cookie).
    session_ttl_s: int = Field(default=12 * 3600, ge=60, le=30 * 24 * 3600)
    #: Sign-in attempts allowed per client address and minute (a burst of as many, then refilled).
    signin_rate_per_min: float = Field(default=10.0, gt=0, le=10_000)
    #: The desk ranks clips by a model of editors' decisions once this many are stored (both kinds).
    desk_ranking_min_decisions: int = Field(default=20, ge=2)
    http_rate_per_s: float = 200.0

    budgets: LatencyBudgets = Field(default_factory=LatencyBudgets)
    asr: AsrSettings = Field(default_factory=AsrSettings)
    understanding: UnderstandingSettings = Field(default_factory=UnderstandingSettings)
    vision: VisionSettings = Field(default_factory=VisionSettings)
    fusion: FusionSettings = Field(default_factory=FusionSettings)
    clips: ClipSettings = Field(default_factory=ClipSettings)
    anomaly: AnomalySettings = Field(default_factory=AnomalySettings)
    recommend: RecommendSettings = Field(default_factory=RecommendSettings)
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    forecast: ForecastSettings = Field(default_factory=ForecastSettings)

    @property
    def clips_dir(self) -> Path:
        return self.clips.out_dir or self.data_dir / "clips"

    def redacted(self) -> dict:
        """The effective settings with every secret masked (safe to log)."""
        return self.model_dump(mode="json")  # SecretStr dumps as "**********"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
