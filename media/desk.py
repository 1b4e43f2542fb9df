"""The clip editors' desk, without the page: decisions on a room's clips and batch export.

Decisions are files beside the clip (the clip folder of :mod:`media.clip_files`), so the API and
the CLI see the same thing without Redis::

    <clips_dir>/<room>/<clip_id>/decision.json     {"decision": "approved"|"rejected", "reason": "",
                                                    "trim": {"start_ms": .., "end_ms": ..} | null,
                                                    "decided_at": 1767225600.0}
    <clips_dir>/<room>/<clip_id>/renders/<platform>/clip.mp4, cover.jpg, meta.json

A trim is stored in clip time (ms from the clip's start), snapped to the clip's subtitle cue
boundaries (cues are runs of words that end at sentence punctuation, pauses or the cue length)
when one is near, else to a word boundary, so a trimmed clip never starts or ends inside a word. A platform render that is missing (or older
than the decision that trimmed it) is made at export time from the clip's own MP4.

Export: ``<room>-<platform>.zip`` with ``<clip_id>.mp4`` and ``<clip_id>.jpg`` per clip and
``metadata.csv`` (one row per clip: id, decision, title, description, tags, times, loudness,
reframe), written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from media.platforms import PlatformProfile
from media.render import RenderError, probe, render_clip
from models.clips.subtitles import Cue, TimedWord, is_cjk
from media.clip_files import check_clip_id
from media.segment_store import check_room_id

Decision = Literal["approved", "rejected"]
DECISION_FILE = "decision.json"
CSV_FIELDS = ["clip_id", "decision", "platform", "title", "description", "tags", "clip_start_ms", "clip_end_ms",
              "stream_start_ms", "stream_end_ms", "duration_s", "loudness_lufs", "reframe", "video", "cover"]


class DeskError(ValueError):
    """An unknown room or clip, or a trim that leaves nothing (the message is one line)."""


@dataclass(frozen=True)
class ClipEntry:
    room_id: str
    clip_id: str
    folder: Path
    meta: dict
    decision: dict | None

    @property
    def status(self) -> str:
        return (self.decision or {}).get("decision", "pending")


class Desk:
    """Decisions and exports over the clip folders under ``clips_dir``."""

    def __init__(self, clips_dir: Path | str):
        self.root = Path(clips_dir)

    # ---- reading -------------------------------------------------------------------------------

    def folder(self, room_id: str, clip_id: str) -> Path:
        try:
            folder = self.root / check_room_id(room_id) / check_clip_id(clip_id)
        except ValueError as exc:
            raise DeskError(str(exc)) from None
        if not (folder / "meta.json").is_file():
            raise DeskError(f"no clip {clip_id} in room {room_id}")
        return folder

    def clip(self, room_id: str, clip_id: str) -> ClipEntry:
        folder = self.folder(room_id, clip_id)
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        decision_path = folder / DECISION_FILE
        decision = json.loads(decision_path.read_text(encoding="utf-8")) if decision_path.is_file() else None
        return ClipEntry(room_id, clip_id, folder, meta, decision)

    def clips(self, room_id: str) -> list[ClipEntry]:
        """The room's clips in time order (skipped clips, which have no MP4, are left out)."""
        try:
            room = self.root / check_room_id(room_id)
        except ValueError as exc:
            raise DeskError(str(exc)) from None
        out = []
        for folder in sorted(room.iterdir()) if room.is_dir() else []:
            if (folder / "meta.json").is_file() and (folder / "clip.mp4").is_file():
                out.append(self.clip(room_id, folder.name))
        return sorted(out, key=lambda c: c.meta.get("start_ms", 0))

    def cues(self, room_id: str, clip_id: str) -> list[Cue]:
        """The clip's subtitle cues (clip time), from its clip.srt."""
        srt = self.folder(room_id, clip_id) / "clip.srt"
        return parse_srt(srt.read_text(encoding="utf-8")) if srt.is_file() else []

    # ---- decisions -----------------------------------------------------------------------------

    def _write_decision(self, entry: ClipEntry, decision: dict) -> dict:
        path = entry.folder / DECISION_FILE
        tmp = path.with_name(f".{DECISION_FILE}.{os.getpid()}.part")
        tmp.write_text(json.dumps(decision, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, path)
        return decision

    def decide(self, room_id: str, clip_id: str, decision: Decision, reason: str = "") -> dict:
        if decision not in ("approved", "rejected"):
            raise DeskError(f"decision must be approved or rejected, not {decision!r}")
        entry = self.clip(room_id, clip_id)
        previous = entry.decision or {}
        return self._write_decision(entry, {"decision": decision, "reason": reason[:500],
                                            "trim": previous.get("trim"), "decided_at": time.time()})

    def trim(self, room_id: str, clip_id: str, start_ms: int, end_ms: int,
             words: list[TimedWord] | None = None) -> dict:
        """Keep ``[start_ms, end_ms)`` of the clip (clip time), snapped to sentence (cue) or word
        boundaries. ``words``: the transcript's timed words in clip time, when known (else the
        words are spread over their cue)."""
        entry = self.clip(room_id, clip_id)
        duration = int(entry.meta.get("end_ms", 0)) - int(entry.meta.get("start_ms", 0))
        start, end = snap_trim(self.cues(room_id, clip_id), start_ms, end_ms, duration, words)
        previous = entry.decision or {}
        decision = {"decision": previous.get("decision", "pending"), "reason": previous.get("reason", ""),
                    "trim": {"start_ms": start, "end_ms": end}, "decided_at": time.time()}
        return self._write_decision(entry, decision)

    # ---- renders and export --------------------------------------------------------------------

    def render(self, room_id: str, clip_id: str, profile: PlatformProfile, *, force: bool = False,
               progress: Callable | None = None, variant: int = 0) -> Path:
        """The clip's render for ``profile`` (made now if missing or older than its trim): its folder.
        ``variant`` k > 0: the clip matrix's k-th variant (own hook, title and cover), in ``v<k>/``."""
        entry = self.clip(room_id, clip_id)
        out = entry.folder / "renders" / profile.name / (f"v{variant}" if variant else "")
        decided = float((entry.decision or {}).get("decided_at", 0)) if (entry.decision or {}).get("trim") else 0
        meta_path = out / "meta.json"
        if not force and meta_path.is_file() and meta_path.stat().st_mtime >= decided:
            return out
        duration = int(entry.meta["end_ms"]) - int(entry.meta["start_ms"])
        trim = (entry.decision or {}).get("trim") or {"start_ms": 0, "end_ms": duration}
        cues = self.cues(room_id, clip_id)
        text = entry.meta.get("transcript", "")
        lang = "zh" if is_cjk(text) else "en"
        end_s = trim["end_ms"] / 1000
        if not (entry.decision or {}).get("trim"):  # the whole clip: as long as its MP4 really is
            end_s = min(end_s, probe([entry.folder / "clip.mp4"]).duration_s)
        render_clip(entry.folder / "clip.mp4", trim["start_ms"] / 1000, end_s, profile, out,
                    words=cue_words(cues), lang=lang, selling_point=_label_name(entry.meta, lang),
                    product=(entry.meta.get(f"product_name_{lang}") or entry.meta.get("product_name_en")
                             or entry.meta.get("product_name_zh") or None),
                    progress=progress, variant=variant)
        return out

    def export(self, room_id: str, profile: PlatformProfile, out_dir: Path | str, *, approved_only: bool = False,
               on_clip: Callable[[ClipEntry, int, int], None] | None = None) -> tuple[Path, list[dict]]:
        """Zip the room's clips rendered for ``profile`` (only approved ones with ``approved_only``;
        rejected ones never) with metadata.csv; returns the zip's path and the CSV rows."""
        entries = [c for c in self.clips(room_id) if c.status != "rejected"
                   and (c.status == "approved" or not approved_only)]
        if not entries:
            which = "approved clips" if approved_only else "clips"
            raise DeskError(f"room {room_id} has no {which} to export")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{room_id}-{profile.name}.zip"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        rows = []
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:  # MP4/JPEG: already compressed
                for i, entry in enumerate(entries):
                    if on_clip is not None:
                        on_clip(entry, i, len(entries))
                    try:
                        folder = self.render(room_id, entry.clip_id, profile)
                    except RenderError as exc:
                        raise DeskError(f"clip {entry.clip_id}: {exc}") from None
                    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
                    video, cover = f"{entry.clip_id}.mp4", f"{entry.clip_id}.jpg"
                    archive.write(folder / "clip.mp4", video)
                    archive.write(folder / "cover.jpg", cover)
                    rows.append({
                        "clip_id": entry.clip_id, "decision": entry.status, "platform": profile.name,
                        "title": meta["title"], "description": meta["description"], "tags": " ".join(meta["tags"]),
                        "clip_start_ms": int(round(meta["start"] * 1000)), "clip_end_ms": int(round(meta["end"] * 1000)),
                        "stream_start_ms": int(entry.meta["start_ms"]) + int(round(meta["start"] * 1000)),
                        "stream_end_ms": int(entry.meta["start_ms"]) + int(round(meta["end"] * 1000)),
                        "duration_s": meta["duration"], "loudness_lufs": meta["loudness_lufs"],
                        "reframe": meta["reframe"], "video": video, "cover": cover})
                buffer = io.StringIO()
                writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS)
                writer.writeheader()
                writer.writerows(rows)
                # utf-8 with a BOM: spreadsheet programs then read the Chinese titles correctly
                archive.writestr("metadata.csv", "\ufeff" + buffer.getvalue())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path, rows


def parse_srt(text: str) -> list[Cue]:
    """Cues of an SRT file (times as written)."""
    cues = []
    stamp = r"(\d+):(\d+):(\d+)[,.](\d+)"
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.strip().splitlines()
        for i, line in enumerate(lines):
            m = re.match(stamp + r"\s*-->\s*" + stamp, line.strip())
            if m:
                g = [int(x) for x in m.groups()]
                start = ((g[0] * 60 + g[1]) * 60 + g[2]) * 1000 + g[3]
                end = ((g[4] * 60 + g[5]) * 60 + g[6]) * 1000 + g[7]
                cues.append(Cue(start, end, " ".join(lines[i + 1:]).strip()))
                break
    return cues


def cue_words(cues: list[Cue]) -> list[TimedWord]:
    """Words for the renderer from cues: a cue's characters (zh) or words (en) spread over it."""
    words = []
    for cue in cues:
        tokens = [c for c in cue.text if not c.isspace()] if is_cjk(cue.text) else cue.text.split()
        step = max(1, (cue.end_ms - cue.start_ms) // max(1, len(tokens)))
        words += [TimedWord(cue.start_ms + k * step, min(cue.end_ms, cue.start_ms + (k + 1) * step), t)
                  for k, t in enumerate(tokens)]
    return words


SENTENCE_PULL_MS = 300  # a cut this close to a cue (sentence) boundary goes there rather than to a word


def snap_trim(cues: list[Cue], start_ms: int, end_ms: int, duration_ms: int,
              words: list[TimedWord] | None = None) -> tuple[int, int]:
    """``[start_ms, end_ms)`` moved to a boundary of the transcript: the nearest cue (sentence)
    start / end when one is within :data:`SENTENCE_PULL_MS`, else the nearest word start / end
    (the transcript's timed ``words`` in clip time, else words spread over their cue by
    :func:`cue_words`), so a cut never falls inside a word. Without cues or words, clamped to the
    clip. :class:`DeskError` when nothing is left."""
    start_ms, end_ms = max(0, int(start_ms)), min(int(duration_ms), int(end_ms))
    words = [w for w in (words or []) if 0 <= w.start_ms < w.end_ms <= duration_ms] or cue_words(cues)
    if cues or words:
        start_ms = _snap(start_ms, {0, *(c.start_ms for c in cues)}, {w.start_ms for w in words})
        end_ms = _snap(end_ms, {int(duration_ms), *(c.end_ms for c in cues)}, {w.end_ms for w in words},
                       after=start_ms)
    if end_ms - start_ms < 500:
        raise DeskError(f"the trim {start_ms}-{end_ms} ms leaves less than 0.5 s of the clip")
    return start_ms, end_ms


def _snap(t: int, sentence: set[int], word: set[int], after: int | None = None) -> int:
    def nearest(points: set[int]) -> int | None:
        allowed = [p for p in points if after is None or p > after]
        return min(allowed, key=lambda p: (abs(p - t), p)) if allowed else None

    best_sentence = nearest(sentence)
    if best_sentence is not None and abs(best_sentence - t) <= SENTENCE_PULL_MS:
        return best_sentence
    best_word = nearest(word | sentence)
    return t if best_word is None else best_word


def _label_name(meta: dict, lang: str) -> str | None:
    label = meta.get("label") or ""
    if not label:
        return None
    try:
        from models.taxonomy import load_taxonomy

        cls = load_taxonomy(meta.get("category") or "apparel").get(label)
        return cls.name_zh if lang == "zh" else cls.name_en
    except Exception:  # noqa: BLE001 - an unknown category/label: the label itself reads fine
        return label.replace("_", " ")
