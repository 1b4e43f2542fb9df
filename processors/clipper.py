"""Clipper: closed selling points in, cut clips out (topic ``clips``), while the room is live.

:class:`ClipperProcessor` (a :class:`~processors.runtime.RoomProcessor`, ``runs_on = "thread"``:
cutting is blocking PyAV work) does, per closed :class:`SellingPoint` of a room:

1. keep it in the room's recent selling points (faust table ``clipper``, restored from its
   changelog after a crash, with the clips already cut and recent highlight scores);
2. run the pure :class:`models.clips.ClipPolicy` over them: merge neighbours of one selling
   point, snap to sentence/word boundaries, pad, min/max duration, rank, drop overlaps;
3. for each new plan: cut it while the room is live. The selling point closes before the segment
   covering the clip's end is written, so :class:`media.cutter.LiveCut` encodes the segments
   already stored at once and each new one as it lands (polling the store, bounded by
   ``max_wait_s``); only the last segment is left when it does. Anything irregular (a gap, an
   expired start, a timeout) falls back to :func:`media.cutter.cut_clips`, which shortens or
   skips with the reason. Then write SRT/WebVTT from the word timestamps and ``meta.json`` and
   yield a :class:`Clip` (``ready`` / ``shortened`` / ``skipped``): the runtime sends it at once;
   the clips sink (sinks/clips.py) indexes it in Redis and fires the optional webhook;
4. only then cut the vertical 9:16 variant (cropped on the host's face from ``vision``) and yield
   the clip again with it (``revision`` + 1): clip-ready latency is the MP4's.
   ``clips.vertical_later=false`` writes both in one pass and emits once;
5. platform renders (``clips.platforms``, those of the room's language: zh rooms get the Chinese
   platforms, en rooms TikTok / YouTube Shorts): yielded as :class:`~processors.runtime.Later`
   work, so they run after the clip is out, in a pool of ``clips.render_concurrency`` threads off
   the clipper's agent (a render takes longer than the clip; other rooms' cuts do not wait). Each
   platform is ``pending`` (``render:<platform>``) until its MP4, cover and meta.json are written
   (:func:`media.render.render_clip` renames meta.json last), then the clip is emitted again with
   the render's files (``render:douyin``, ``render:douyin:cover``, ``render:douyin:meta``, served
   by ``GET /api/rooms/{room}/clips/{clip}/files/{role}``). Revisions for them are reserved when
   the clip is cut. A render lost in a crash is not redone; the desk re-renders on demand.

Compliance: the clipper also reads ``compliance`` and keeps the room's recent host-speech
violations (with their stream time) in its table. A clip whose time range holds one carries it
(``Clip.compliance``) and ``hold=True``: the clips sink does not announce it to the webhook
(automatic publishing); it is still indexed for a person to review. A violation whose alert
arrives after the clip was cut is not attached (alerts take ~10 ms, a cut seconds). Render
titles, descriptions and tags go through the compliance rules too (flagged clauses dropped).

Clip-ready latency is recorded by the runtime as ``emitted_at − ingested_at`` of the selling
point that closed the clip (the updates are recorded too; ``livelens bench clips`` separates them).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from media.clip_files import CLIP_FILES, RENDERS_DIR, ClipFiles, render_role
from media.cutter import CutOutput, CutResult, LiveCut, cut_clips
from media.platforms import PlatformProfile, load_profile
from media.segment_store import SegmentStore, open_segment_store
from models.clips import ClipPlan, ClipPolicy, ClipPolicyConfig, CutSpan, SegmentSpan, TimedWord, to_srt, to_webvtt
from models.clips.subtitles import is_cjk
from processors.runtime import Input, Later, Output, RoomProcessor, attach
from streams.app import AppContext
from streams.schemas import Clip, ComplianceAlert, ComplianceViolation, FusedWindow, SellingPoint, VisionFeatures

log = logging.getLogger(__name__)

NAME = "clipper"
TABLE = "clipper"
MAX_HIGHLIGHTS = 200  # per room, newest kept
MAX_CUT = 500  # already-cut spans remembered per room
MAX_VIOLATIONS = 200  # recent host-speech compliance violations per room


def _span(sp: dict[str, Any]) -> SegmentSpan:
    words = tuple(TimedWord(int(w["start_ms"]), int(w["end_ms"]), str(w["text"])) for w in sp.get("words", []))
    return SegmentSpan(sp["label"], int(sp["start_ms"]), int(sp["end_ms"]), sp.get("text", ""),
                       float(sp.get("confidence", 1.0)), words, sp.get("segment_id", ""))


class RoomClipState:
    """The table value of one room, as plain JSON-able data."""

    def __init__(self, raw: dict | None):
        raw = raw or {}
        self.points: list[dict] = list(raw.get("points", []))
        self.cut: list[list] = list(raw.get("cut", []))  # [clip_id, start_ms, end_ms, score]
        self.highlights: list[list] = list(raw.get("highlights", []))  # [start_ms, end_ms, score]
        # clip_id -> last revision emitted: a superseded clip can be planned again, trimmed, under
        # the same id (sha1 of room, label, start); its new cut must outrank the old events
        self.revisions: dict[str, int] = dict(raw.get("revisions", {}))
        self.violations: list[dict] = list(raw.get("violations", []))  # host speech, ComplianceViolation dicts

    def to_raw(self) -> dict:
        revisions = dict(list(self.revisions.items())[-MAX_CUT:])
        return {"points": self.points, "cut": self.cut[-MAX_CUT:], "highlights": self.highlights[-MAX_HIGHLIGHTS:],
                "revisions": revisions, "violations": self.violations[-MAX_VIOLATIONS:]}

    def add_violations(self, alert: ComplianceAlert, history_ms: int) -> None:
        """Remember a host-speech compliance alert's violations (chat ones are not in a clip)."""
        if alert.source != "host":
            return
        for v in alert.violations:
            raw = v.model_dump(mode="json")
            if raw not in self.violations:  # a redelivered alert
                self.violations.append(raw)
        horizon = alert.end_ms - history_ms
        self.violations = [v for v in self.violations if v["end_ms"] >= horizon]

    def violations_in(self, start_ms: int, end_ms: int) -> list[ComplianceViolation]:
        """Violations whose phrase overlaps ``[start_ms, end_ms)`` of stream time."""
        return [ComplianceViolation(**v) for v in self.violations if v["start_ms"] < end_ms and v["end_ms"] > start_ms]

    def add_point(self, sp: SellingPoint, history_ms: int) -> bool:
        """False for a redelivered selling point."""
        if any(p["segment_id"] == sp.segment_id for p in self.points):
            return False
        self.points.append(sp.model_dump(mode="json", include={
            "segment_id", "category", "label", "label_zh", "label_en", "start_ms", "end_ms", "text",
            "confidence", "words", "product_id", "product_name_zh", "product_name_en"}))
        horizon = sp.end_ms - history_ms
        self.points = [p for p in self.points if p["end_ms"] >= horizon]
        return True

    def already_cut(self) -> list[CutSpan]:
        return [CutSpan(c[0], int(c[1]), int(c[2]), float(c[3])) for c in self.cut]


class Clipper:
    """The clipping steps, blocking, independent of faust (the processor below runs them in its thread)."""

    def __init__(self, settings, store: SegmentStore, clip_store: ClipFiles):
        cfg = settings.clips
        self.settings = settings
        self.store = store
        self.clip_store = clip_store
        self.policy = ClipPolicy(ClipPolicyConfig(min_s=cfg.min_s, max_s=cfg.max_s, pad_s=cfg.pad_s))
        self.limit = threading.BoundedSemaphore(max(1, cfg.concurrency))
        self.max_wait_s = cfg.max_wait_s if cfg.max_wait_s is not None else settings.segment_s + 1.0

    def plan(self, room_id: str, state: RoomClipState) -> list[ClipPlan]:
        label_names = {p["label"]: {"zh": p.get("label_zh", ""), "en": p.get("label_en", "")} for p in state.points}
        plans = self.policy.plan(room_id, [_span(p) for p in state.points], None,
                                 [tuple(h) for h in state.highlights], state.already_cut(), label_names)
        done = {c[0] for c in state.cut}
        return [p for p in plans if p.clip_id not in done]

    def wait_for_media(self, room_id: str, end_ms: int, deadline: float | None = None) -> None:
        """Until a finished segment reaches ``end_ms`` (bounded by ``max_wait_s``)."""
        deadline = time.monotonic() + self.max_wait_s if deadline is None else deadline
        while time.monotonic() < deadline:
            segments = self.store.list_segments(room_id)
            if segments and segments[-1].end_ms >= end_ms:
                return
            time.sleep(0.05)

    def _vertical(self, folder, crop_center_x: float | None) -> CutOutput:
        return CutOutput(folder / CLIP_FILES["vertical"], vertical=True, crop_center_x=crop_center_x,
                         max_height=self.settings.clips.vertical_max_height)

    @property
    def vertical_later(self) -> bool:
        cfg = self.settings.clips
        return cfg.vertical and cfg.mode == "reencode" and cfg.vertical_later

    def cut(self, room_id: str, plan: ClipPlan, crop_center_x: float | None) -> CutResult:
        """The clip's MP4 and thumbnail (and the vertical variant unless it comes later)."""
        cfg = self.settings.clips
        folder = self.clip_store.clip_dir(room_id, plan.clip_id)
        outputs = [CutOutput(folder / CLIP_FILES["mp4"])]
        if cfg.vertical and cfg.mode == "reencode" and not self.vertical_later:
            outputs.append(self._vertical(folder, crop_center_x))
        kwargs = dict(thumbnail_path=folder / CLIP_FILES["thumb"], min_duration_ms=cfg.min_s * 1000,
                      preset=cfg.preset, crf=cfg.crf)
        with self.limit:
            if cfg.live_cut and cfg.mode == "reencode":
                result = self._live_cut(room_id, plan, outputs, kwargs)
                if result is not None:
                    return result
            else:
                self.wait_for_media(room_id, plan.end_ms)
            segments = self.store.segments_between(room_id, plan.start_ms, plan.end_ms)
            return cut_clips(segments, plan.start_ms, plan.end_ms, outputs, cfg.mode, **kwargs)

    def _live_cut(self, room_id: str, plan: ClipPlan, outputs: list[CutOutput], kwargs: dict) -> CutResult | None:
        """Encode what the store has while the clip's last segment is being recorded, then the rest
        (bounded by ``max_wait_s``); None when the batch cut must decide (gaps, expiry, timeout)."""
        live = LiveCut(plan.start_ms, plan.end_ms, outputs, **kwargs)
        deadline = time.monotonic() + self.max_wait_s
        try:
            while True:
                live.feed(self.store.segments_between(room_id, plan.start_ms, plan.end_ms))
                if live.covered or live.failed or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
            if live.failed:  # the batch cut below still has to wait for the end
                self.wait_for_media(room_id, plan.end_ms, deadline)
                return None
            return live.finish()
        finally:
            live.abort()

    def cut_vertical(self, room_id: str, clip: Clip, crop_center_x: float | None) -> CutResult:
        """The vertical variant of an announced clip: the same frames (its exact span)."""
        cfg = self.settings.clips
        folder = self.clip_store.clip_dir(room_id, clip.clip_id)
        segments = self.store.segments_between(room_id, clip.start_ms, clip.end_ms)
        with self.limit:
            return cut_clips(segments, clip.start_ms, clip.end_ms, [self._vertical(folder, crop_center_x)], cfg.mode,
                             min_duration_ms=0, preset=cfg.preset, crf=cfg.crf)

    def finish(self, sp: SellingPoint, plan: ClipPlan, result: CutResult, revision: int = 0,
               state: RoomClipState | None = None, renders: list[tuple[PlatformProfile, int]] = ()) -> Clip:
        """Subtitles + meta for a cut clip (or cleanup for a skipped one); the Clip event.
        ``revision`` > 0: the same clip_id was emitted before (a re-cut after being superseded).
        ``state``: the room's, whose compliance violations inside the clip are attached (and hold it)."""
        room, store = sp.room_id, self.clip_store
        clip = Clip(room_id=room, event_id=_event_id(room, plan.clip_id, revision), stream_ms=plan.end_ms,
                    revision=revision,
                    ingested_at=sp.ingested_at, clip_id=plan.clip_id, status=result.status,
                    reason="; ".join(r for r in (result.reason, plan.reason if result.ok else "") if r),
                    start_ms=result.start_ms if result.ok else plan.start_ms,
                    end_ms=result.end_ms if result.ok else plan.end_ms,
                    category=sp.category, label=plan.label, title=plan.title, transcript=plan.text,
                    score=plan.score)
        if state is not None:
            clip.compliance = state.violations_in(clip.start_ms, clip.end_ms)
            clip.hold = bool(clip.compliance)
        product = _clip_product(sp, state.points if state is not None else [], clip.start_ms, clip.end_ms)
        clip.product_id, clip.product_name_zh, clip.product_name_en = product
        if not result.ok:
            store.remove(room, plan.clip_id)  # nothing half-made stays behind
            return clip
        # a re-cut under the same id: renders of the old cut no longer match its media
        shutil.rmtree(store.clip_dir(room, plan.clip_id) / RENDERS_DIR, ignore_errors=True)
        # cues relative to the clip's real start (reencode: first kept frame; copy: the keyframe)
        words = [w for w in plan.words if w.end_ms > result.start_ms and w.start_ms < result.end_ms]
        store.write_text(room, plan.clip_id, CLIP_FILES["srt"], to_srt(words, offset_ms=result.start_ms))
        store.write_text(room, plan.clip_id, CLIP_FILES["vtt"], to_webvtt(words, offset_ms=result.start_ms))
        if self.vertical_later:
            clip.pending = ["vertical"]
        clip.pending += [render_role(p.name, variant=k) for p, k in renders]
        clip.files = _done(store.files_of(room, plan.clip_id), clip.pending)
        store.write_meta(clip)
        return clip

    def finish_vertical(self, clip: Clip, result: CutResult) -> Clip:
        """The update of an announced clip once its vertical variant is written (or failed)."""
        update = clip.model_copy(deep=True, update={
            "event_id": _event_id(clip.room_id, clip.clip_id, clip.revision + 1), "revision": clip.revision + 1,
            "pending": [p for p in clip.pending if p != "vertical"]})
        if not result.ok:
            update.reason = "; ".join(r for r in (clip.reason, f"no vertical variant: {result.reason}") if r)
        update.files = _done(self.clip_store.files_of(clip.room_id, clip.clip_id), update.pending)
        if not result.ok:
            update.files.pop("vertical", None)
        self.clip_store.write_meta(update)
        return update


    def superseded(self, clip: Clip, revision: int) -> Clip:
        """The update of a clip a better one replaced before its renders were made: none pending."""
        update = _superseded_update(clip, revision)
        self.clip_store.write_meta(update)
        return update

    def render(self, clip: Clip, profile: PlatformProfile, revision: int, variant: int = 0) -> Clip:
        """Render an announced clip for one platform (blocking, seconds per clip second; ``variant``
        k > 0: its k-th variant); the update that carries the render's files, or says why there is none."""
        from media.desk import Desk
        from media.render import RenderError

        error = ""
        what = profile.name + (f" variant {variant}" if variant else "")
        try:
            Desk(self.clip_store.root).render(clip.room_id, clip.clip_id, profile, force=True, variant=variant)
        except (RenderError, ValueError, OSError) as exc:  # ValueError: DeskError, a bad profile
            error = f"no {what} render: {exc}"
            log.warning("clipper: %s/%s: %s", clip.room_id, clip.clip_id, error)
        role = render_role(profile.name, variant=variant)
        update = clip.model_copy(deep=True, update={
            "event_id": _event_id(clip.room_id, clip.clip_id, revision), "revision": revision,
            "pending": [p for p in clip.pending if p != role]})
        if error:
            update.reason = "; ".join(r for r in (clip.reason, error) if r)
        update.files = _done(self.clip_store.files_of(clip.room_id, clip.clip_id), update.pending)
        self.clip_store.write_meta(update)
        return update


def _superseded_update(clip: Clip, revision: int) -> Clip:
    update = clip.model_copy(deep=True, update={
        "event_id": _event_id(clip.room_id, clip.clip_id, revision), "revision": revision,
        "pending": [p for p in clip.pending if not p.startswith("render:")]})
    update.reason = "; ".join(r for r in (clip.reason, "superseded before its platform renders") if r)
    update.files = _done(update.files, update.pending)
    return update


def _done(files: dict[str, str], pending: list[str]) -> dict[str, str]:
    """The files of roles not pending (``render:douyin`` pending hides ``render:douyin:cover`` too,
    not ``render:douyin:v2``, a variant of its own)."""
    def hidden(role: str) -> bool:
        return role in pending or any(role in (f"{p}:cover", f"{p}:meta") for p in pending)
    return {k: v for k, v in files.items() if not hidden(k)}


def _clip_product(sp: SellingPoint, points: list[dict], start_ms: int, end_ms: int) -> tuple[str, str, str]:
    """The product a clip is about: the one the most of its selling points name (the latest on a
    tie), else the closing selling point's; ("", "", "") when none is named."""
    named = [p for p in points if p.get("product_id") and p["start_ms"] < end_ms and p["end_ms"] > start_ms]
    if named:
        counts = Counter(p["product_id"] for p in named)
        best = max(reversed(named), key=lambda p: counts[p["product_id"]])
        return best["product_id"], best.get("product_name_zh", ""), best.get("product_name_en", "")
    return sp.product_id, sp.product_name_zh, sp.product_name_en


def _event_id(room_id: str, clip_id: str, revision: int) -> str:
    # sinks dedupe by event_id: each revision of a clip is a new event
    return f"{room_id}:clip:{clip_id}" + (f":r{revision}" if revision else "")


def room_language(settings, room_id: str, text: str) -> str:
    """zh or en: the room's configured language (``asr.room_languages``), else the clip's script."""
    lang = settings.asr.room_languages.get(room_id, "")
    return lang if lang in ("zh", "en") else ("zh" if is_cjk(text) else "en")


class ClipperProcessor(RoomProcessor):
    name = NAME
    budget = "clips"
    inputs = {"selling_points": (SellingPoint,), "fused": (FusedWindow,), "vision": (VisionFeatures,),
              "compliance": (ComplianceAlert,)}
    table = TABLE
    runs_on = "thread"  # cuts are blocking PyAV work

    def __init__(self, settings, store: SegmentStore | None = None, clip_files: ClipFiles | None = None) -> None:
        super().__init__(settings)
        store = store or open_segment_store(settings.segment_store, settings.segment_retention_s)
        self.clipper = Clipper(settings, store, clip_files or ClipFiles(settings.clips_dir))
        self.later_workers = max(1, settings.clips.render_concurrency)
        # every configured profile loads now: an unknown platform is a one-line error at start
        self.profiles = [load_profile(p) for p in settings.clips.platforms]
        self.face_x: dict[str, float] = {}  # room -> latest face centre (fraction of the width), from vision

    def load_state(self, saved: Any) -> RoomClipState:
        return RoomClipState(saved)

    def dump_state(self, state: RoomClipState) -> dict:
        return state.to_raw()

    def profiles_for(self, lang: str) -> list[PlatformProfile]:
        """The configured platforms that post in the room's language."""
        return [p for p in self.profiles if lang in p.languages]

    def handle(self, inp: Input, state: RoomClipState) -> Iterator[Output | Later]:
        ev, history_ms = inp.event, self.settings.clips.history_ms
        room = ev.room_id
        if isinstance(ev, VisionFeatures):
            if ev.face_box:
                x, _y, w, _h = ev.face_box
                self.face_x[room] = min(1.0, max(0.0, x + w / 2))
            return
        if isinstance(ev, FusedWindow):
            state.highlights.append([ev.start_ms, ev.end_ms, ev.highlight_score])
            return
        if isinstance(ev, ComplianceAlert):
            state.add_violations(ev, history_ms)
            return
        if not ev.closed or not state.add_point(ev, history_ms):
            return
        clipper = self.clipper
        for plan in clipper.plan(room, state):
            result = clipper.cut(room, plan, self.face_x.get(room))
            profiles = self.profiles_for(room_language(self.settings, room, plan.text)) if result.ok else []
            renders = [(p, k) for p in profiles for k in range(self.settings.clips.variants)]
            clip = clipper.finish(ev, plan, result, state.revisions.get(plan.clip_id, -1) + 1, state, renders)
            if result.status != "ready":
                log.info("clipper: %s clip %s/%s: %s", result.status, room, plan.clip_id, result.reason)
            # a skipped plan is remembered too: its media will not come back
            state.cut.append([plan.clip_id, plan.start_ms, plan.end_ms, plan.score])
            if result.ok:
                clip.supersedes = list(plan.supersedes)
                state.cut = [c for c in state.cut if c[0] not in plan.supersedes]
            yield Output("clips", clip)
            if "vertical" in clip.pending:  # after the announcement: editors can open the MP4 meanwhile
                vertical = clipper.cut_vertical(room, clip, self.face_x.get(room))
                if not vertical.ok:
                    log.warning("clipper: no vertical for %s/%s: %s", room, plan.clip_id, vertical.reason)
                clip = clipper.finish_vertical(clip, vertical)
                yield Output("clips", clip)
            state.revisions[plan.clip_id] = clip.revision + len(renders)
            if renders:  # revisions reserved now: a re-cut of this clip must outrank its renders
                yield Later(self._render_work(clip, renders, state), f"renders of {room}/{clip.clip_id}")

    def _render_work(self, clip: Clip, renders: list[tuple[PlatformProfile, int]], state: RoomClipState):
        last = clip.revision + len(renders)

        def work() -> Iterator[Output]:
            current = clip
            for i, (profile, variant) in enumerate(renders, 1):
                # the room's state moves on while renders queue: no CPU for a clip that is gone
                if state.revisions.get(clip.clip_id) != last:
                    return  # cut again under the same id: that cut's renders follow
                if not any(c[0] == clip.clip_id for c in state.cut):
                    yield Output("clips", self.clipper.superseded(current, clip.revision + i))
                    return
                current = self.clipper.render(current, profile, clip.revision + i, variant)
                yield Output("clips", current)
        return work


def register(ctx: AppContext) -> None:
    attach(ctx, ClipperProcessor(ctx.settings))
