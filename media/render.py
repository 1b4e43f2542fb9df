"""The platform renderer: a span of a room's media -> an MP4, a cover and a meta.json a clip
editor can post on one platform (its :class:`~media.platforms.PlatformProfile`).

    result = render_clip("room.mp4", 8.5, 23.0, load_profile("douyin"), "out/",
                         words=words, lang="zh", product="桑蚕丝中长款连衣裙", selling_point="面料材质")
    result.video, result.cover, result.meta["loudness_lufs"]

Two passes over the span, both streaming (one decoded frame at a time, so memory does not grow
with the clip's length; the clip's audio is held, ~23 MB per minute of 48 kHz stereo):

1. **analysis**: decode the span; every ``detect_every_s`` a downscaled frame goes to the subject
   detector (:mod:`media.reframe`) and is scored as a cover candidate (a face, its size, and
   sharpness = variance of the Laplacian); the audio is decoded, resampled to the profile's rate
   and channels and kept.
2. **render**: the audio is normalised to the profile's loudness (:mod:`media.loudness`); the span
   is decoded again and each output tick (the profile's fps; source frames are repeated or
   dropped) is cropped along the smoothed subject path (or letterboxed over a blurred copy of
   itself when no subject was found), scaled to the profile's size, the active subtitle cue drawn
   inside the safe area (Pillow, a CJK font, lines broken by rendered width), and encoded with
   libx264 (capped CRF) together with the AAC audio.

Then the cover (the best candidate frame, reframed to the cover size, the title drawn on it) and
meta.json. Every file is written to a temporary name and renamed at the end, meta.json last, so a
folder with a meta.json is a finished render; a failed render leaves nothing that looks done.

Sources: a local media file, or the segment store's segments (``SegmentInfo`` list; their
timestamps are stream time, so ``start_s``/``end_s`` are stream seconds).
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw

from media.loudness import normalize
from media.platforms import PlatformProfile
from media.reframe import CropPath, SubjectDetector, SubjectPoint, crop_box, plan_path
from media.text import cjk_font, wrap_text
from models.clips.listing import drop_flagged, write_listing
from models.clips.subtitles import Cue, as_word, group_words, is_cjk, join_tokens

#: A span that reaches past the media's end by less than this is clamped, not refused.
END_TOLERANCE_S = 0.25
ANALYSIS_WIDTH = 320

Progress = Callable[[str, float, float], None]  # (stage, done, total)


class RenderError(RuntimeError):
    """The render could not be made (bad input); the message is one line for the user."""


@dataclass
class RenderResult:
    video: Path
    cover: Path
    meta_path: Path
    meta: dict[str, Any]


@dataclass
class _Probe:
    width: int
    height: int
    fps: float
    has_audio: bool
    duration_s: float


# ------------------------------------------------------------------ reading the source


def _source_paths(source: Any) -> list[Path]:
    if isinstance(source, (str, Path)):
        return [Path(source)]
    paths = [Path(s.path) for s in sorted(source, key=lambda s: s.seq)]
    if not paths:
        raise RenderError("no media for this span in the segment store (expired or not yet written)")
    return paths


def probe(paths: Sequence[Path]) -> _Probe:
    """Size, frame rate, audio presence and end time of the media; RenderError if it does not open."""
    end = 0.0
    info: _Probe | None = None
    for path in paths:
        if not path.is_file():
            raise RenderError(f"{path}: no such file")
        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise RenderError(f"{path}: no video stream")
                stream = container.streams.video[0]
                ctx = stream.codec_context
                if not ctx.width or not ctx.height:
                    raise RenderError(f"{path}: the video stream has no picture size (corrupt?)")
                start = float(container.start_time or 0) / av.time_base
                length = float(container.duration or 0) / av.time_base
                if length <= 0 and stream.duration:
                    length = float(stream.duration * stream.time_base)
                end = max(end, start + length)
                if info is None:
                    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
                    info = _Probe(ctx.width, ctx.height, float(rate), bool(container.streams.audio), 0.0)
        except av.FFmpegError as exc:
            raise RenderError(f"{path}: cannot decode: {str(exc).splitlines()[0][:120]}") from None
    assert info is not None
    info.duration_s = end
    return info


def _decode(paths: Sequence[Path], start_s: float, end_s: float, audio: bool) -> Iterator[av.frame.Frame]:
    """Video (and audio) frames of the media that may touch ``[start_s, end_s)``, in file order.
    A single file is sought to the keyframe before the start; segments are read whole."""
    for path in paths:
        with av.open(str(path)) as container:
            streams = [container.streams.video[0]]
            if audio and container.streams.audio:
                streams.append(container.streams.audio[0])
            if len(paths) == 1 and start_s > 1.0:
                container.seek(int((start_s - 1.0) * av.time_base), backward=True, any_frame=False)
            video_past = audio_past = False
            try:
                for frame in container.decode(*streams):
                    t = frame.time
                    if t is None:
                        continue
                    if isinstance(frame, av.VideoFrame):
                        video_past = t >= end_s
                    else:
                        audio_past = t >= end_s
                    if video_past and (audio_past or len(streams) == 1):
                        return
                    yield frame
            except av.FFmpegError as exc:
                raise RenderError(f"{path}: cannot decode: {str(exc).splitlines()[0][:120]}") from None


# ------------------------------------------------------------------ analysis pass


@dataclass
class _Analysis:
    samples: list[tuple[float, SubjectPoint | None]] = field(default_factory=list)
    audio: np.ndarray | None = None  # (channels, n) float32 at the profile's rate, clip time 0 = start
    cover_t: float = 0.0
    cover_frame: np.ndarray | None = None  # BGR, source resolution
    cover_score: float = -1.0
    video_frames: int = 0
    #: the best cover candidates, (score, t, frame), at least COVER_GAP_S apart (clip variants)
    covers: list = field(default_factory=list)


COVER_GAP_S = 1.0


def _sharpness(grey: np.ndarray) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _analyse(paths: Sequence[Path], start_s: float, end_s: float, profile: PlatformProfile, has_audio: bool,
             detect_every_s: float, subject_track: Sequence[SubjectPoint] | None,
             progress: Progress | None, covers: int = 1) -> _Analysis:
    result = _Analysis()
    detector = SubjectDetector() if subject_track is None else None
    rate, channels = profile.audio.sample_rate, profile.audio.channels
    resampler = av.AudioResampler(format="fltp", layout="stereo" if channels == 2 else "mono", rate=rate)
    total = max(1, int(round((end_s - start_s) * rate)))
    audio = np.zeros((channels, total), np.float32) if has_audio else None
    audio_seen = 0
    next_sample = start_s
    duration = end_s - start_s
    for frame in _decode(paths, start_s, end_s, has_audio):
        if isinstance(frame, av.AudioFrame):
            for out in resampler.resample(frame):
                data = out.to_ndarray()
                at = int(round((float(out.time if out.time is not None else frame.time) - start_s) * rate))
                lo, hi = max(0, -at), min(data.shape[1], total - at)
                if hi > lo:
                    audio[:, at + lo:at + hi] = data[:, lo:hi]
                    audio_seen += hi - lo
            continue
        t = float(frame.time)
        if t < start_s - 1e-3 or t >= end_s:
            continue
        result.video_frames += 1
        if t + 1e-6 < next_sample:
            continue
        next_sample = t + detect_every_s
        small = frame.to_ndarray(format="bgr24", width=ANALYSIS_WIDTH,
                                 height=max(2, int(round(ANALYSIS_WIDTH * frame.height / frame.width))))
        point = detector.detect(small, t - start_s) if detector is not None else _track_at(subject_track, t - start_s)
        result.samples.append((t - start_s, point))
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        sharp = _sharpness(grey)
        score = sharp / (sharp + 150.0)  # 0..1, half at a moderately sharp frame
        if point is not None and point.kind == "face":
            score += 1.0 + min(1.0, point.box[2] * point.box[3] * 20)  # a face, the bigger the better
        # avoid the very first and last moments (a cut mid-gesture, a transition)
        if 0.1 * duration <= t - start_s <= 0.9 * duration and score > result.cover_score:
            result.cover_score, result.cover_t = score, t - start_s
            result.cover_frame = frame.to_ndarray(format="bgr24")
        if covers > 1 and 0.1 * duration <= t - start_s <= 0.9 * duration:
            kept = sorted(result.covers + [(score, t - start_s, None, frame)], key=lambda c: -c[0])
            result.covers = []
            for cand in kept:  # greedy: the best ones, apart in time (different moments, not the same frame)
                if len(result.covers) < covers and all(abs(cand[1] - c[1]) >= COVER_GAP_S for c in result.covers):
                    result.covers.append(cand if cand[2] is not None else (cand[0], cand[1], cand[3].to_ndarray(
                        format="bgr24"), None))
        if progress is not None:
            progress("analyse", t - start_s, duration)
    if result.cover_frame is None and result.video_frames:
        result.cover_t = 0.0  # a clip too short for the 10-90 % window: its first frame is in _render
    if audio is not None and audio_seen > 0:
        result.audio = audio
    return result


def _track_at(track: Sequence[SubjectPoint], t: float, max_gap_s: float = 1.5) -> SubjectPoint | None:
    """The given subject box nearest to ``t`` (clip time), if one is within ``max_gap_s``."""
    if not track:
        return None
    best = min(track, key=lambda p: abs(p.t_s - t))
    return best if abs(best.t_s - t) <= max_gap_s else None


# ------------------------------------------------------------------ composing frames


def compose(src: np.ndarray, out_w: int, out_h: int, centre: tuple[float, float] | None) -> np.ndarray:
    """One output picture (BGR): the window around ``centre`` scaled to the output, or (None) the
    whole frame fitted to the width over a darkened, blurred fill of itself (letterbox)."""
    h, w = src.shape[:2]
    if centre is not None:
        x0, y0, cw, ch = crop_box(w, h, out_w, out_h, centre)
        window = src[y0:y0 + ch, x0:x0 + cw]
        interp = cv2.INTER_AREA if cw > out_w else cv2.INTER_LINEAR
        return cv2.resize(window, (out_w, out_h), interpolation=interp)
    # background: the middle of the frame filling the output, blurred by a down-and-up scale, darkened
    x0, y0, cw, ch = crop_box(w, h, out_w, out_h, (0.5, 0.5))
    tiny = cv2.resize(src[y0:y0 + ch, x0:x0 + cw], (max(1, out_w // 24), max(1, out_h // 24)),
                      interpolation=cv2.INTER_AREA)
    out = cv2.convertScaleAbs(cv2.resize(tiny, (out_w, out_h), interpolation=cv2.INTER_LINEAR), alpha=0.45)
    fit = min(out_w / w, out_h / h)
    fw, fh = int(round(w * fit)) // 2 * 2, int(round(h * fit)) // 2 * 2
    fg = cv2.resize(src, (fw, fh), interpolation=cv2.INTER_AREA if fit < 1 else cv2.INTER_LINEAR)
    y, x = (out_h - fh) // 2, (out_w - fw) // 2
    out[y:y + fh, x:x + fw] = fg
    return out


@dataclass
class _Overlay:
    """A pre-drawn text block: BGR colour and alpha for the rectangle at (x0, y0)."""

    x0: int
    y0: int
    bgr: np.ndarray  # uint16, premultiplied by alpha
    inv_alpha: np.ndarray  # uint16, 255 - alpha, shape (h, w, 1)

    def draw(self, frame: np.ndarray) -> None:
        h = min(self.inv_alpha.shape[0], frame.shape[0] - self.y0)
        w = min(self.inv_alpha.shape[1], frame.shape[1] - self.x0)
        region = frame[self.y0:self.y0 + h, self.x0:self.x0 + w]
        region[:] = ((region.astype(np.uint16) * self.inv_alpha[:h, :w] + self.bgr[:h, :w]) // 255).astype(np.uint8)


def _hex(colour: str) -> tuple[int, int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), int(c[6:8], 16) if len(c) == 8 else 255


def text_block(lines: list[str], size_px: int, frame_w: int, left: int, right: int, *, top: int | None = None,
               bottom: int | None = None, colour: str = "#FFFFFF", outline_colour: str = "#000000",
               outline: float = 0.1, background: str | None = None, line_spacing: float = 0.25) -> _Overlay:
    """Centred lines drawn between ``left`` and ``right``, their block starting at ``top`` or ending at ``bottom``."""
    font = cjk_font(size_px)
    stroke = max(1, int(round(size_px * outline))) if outline > 0 else 0
    ascent, descent = font.getmetrics()
    line_h = ascent + descent
    gap = int(round(size_px * line_spacing))
    pad = stroke + int(round(size_px * 0.25)) if background else stroke + 2
    block_h = len(lines) * line_h + (len(lines) - 1) * gap + 2 * pad
    block_w = right - left
    image = Image.new("RGBA", (block_w, block_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    widths = [font.getlength(line) for line in lines]
    if background:
        bw = int(max(widths) + 2 * pad)
        bx = (block_w - bw) // 2
        draw.rounded_rectangle((bx, 0, bx + bw, block_h - 1), radius=pad, fill=_hex(background))
    y = pad
    for line, width in zip(lines, widths):
        draw.text(((block_w - width) / 2, y), line, font=font, fill=_hex(colour),
                  stroke_width=stroke, stroke_fill=_hex(outline_colour))
        y += line_h + gap
    rgba = np.asarray(image, dtype=np.uint16)
    alpha = rgba[:, :, 3:4]
    bgr = rgba[:, :, 2::-1] * alpha
    y0 = top if top is not None else (bottom or 0) - block_h
    return _Overlay(left, max(0, y0), bgr, 255 - alpha)


OPENING_S = 2.5  # how long a variant's opening hook stays on screen


def _opening_overlay(text: str, profile: PlatformProfile, until_s: float) -> list[tuple[float, float, _Overlay]]:
    """A variant's hook as a banner at the top of the safe area, for its first ``until_s`` seconds."""
    v, safe, style = profile.video, profile.safe_area, profile.subtitles
    left, right = int(v.width * safe.left), int(v.width * (1 - safe.right))
    size = int(round(style.font_size * v.height * 1.1))
    lines = wrap_text(text, cjk_font(size), (right - left) * 0.96)[:3]
    banner = text_block(lines, size, v.width, left, right, top=int(v.height * safe.top), outline=0.08,
                        background="#000000A0")
    return [(0.0, until_s, banner)]


def _subtitle_overlays(cues: Sequence[Cue], profile: PlatformProfile) -> list[tuple[float, float, _Overlay]]:
    """Each cue (clip-relative ms) drawn once: (start_s, end_s, overlay), inside the safe area."""
    v, style, safe = profile.video, profile.subtitles, profile.safe_area
    left, right = int(v.width * safe.left), int(v.width * (1 - safe.right))
    bottom = int(v.height * (1 - safe.bottom))
    out = []
    for cue in cues:
        size = int(round(style.font_size * v.height))
        lines = wrap_text(cue.text, cjk_font(size), (right - left) * 0.96)
        while len(lines) > style.max_lines and size > 12:  # a long cue: smaller text, never off the safe area
            size = int(size * 0.9)
            lines = wrap_text(cue.text, cjk_font(size), (right - left) * 0.96)
        overlay = text_block(lines[:style.max_lines + 1], size, v.width, left, right, bottom=bottom,
                             colour=style.color, outline_colour=style.outline_color, outline=style.outline,
                             background=style.background, line_spacing=style.line_spacing)
        out.append((cue.start_ms / 1000, cue.end_ms / 1000, overlay))
    return out


def subtitle_cues(words: Sequence[Any], start_s: float, end_s: float, profile: PlatformProfile) -> list[Cue]:
    """Cues of the words inside the span, times relative to the clip start (ms), sized for the
    profile: about as many characters as ``max_lines`` lines of the subtitle width hold."""
    start_ms, end_ms = int(round(start_s * 1000)), int(round(end_s * 1000))
    inside = [w for w in words if w.end_ms > start_ms and w.start_ms < end_ms and w.text.strip()]
    if not inside:
        return []
    v, style, safe = profile.video, profile.subtitles, profile.safe_area
    width_px = v.width * (1 - safe.left - safe.right) * 0.96
    size = style.font_size * v.height
    text = join_tokens(w.text for w in inside)
    per_line = width_px / (size if is_cjk(text) else size * 0.5)  # CJK glyphs are square; Latin ~half
    cues: list[Cue] = []
    for c in group_words(inside, max_chars=max(4, int(per_line * style.max_lines * 0.9))):
        text = c.text.rstrip("。，、,.;；")  # subtitles end without a full stop or comma
        if not re.sub(r"\W", "", text):  # punctuation alone: it belongs to the cue before
            if cues:
                cues[-1] = Cue(cues[-1].start_ms, max(cues[-1].end_ms, c.end_ms - start_ms), cues[-1].text)
            continue
        cues.append(Cue(max(0, c.start_ms - start_ms), min(end_ms, c.end_ms) - start_ms, text))
    return cues


# ------------------------------------------------------------------ the render pass


def _open_video(path: Path, profile: PlatformProfile) -> tuple[Any, Any, Any]:
    v, a = profile.video, profile.audio
    container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
    rate = Fraction(v.fps).limit_denominator(1001)
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = v.width, v.height, "yuv420p"
    stream.codec_context.time_base = 1 / rate
    stream.options = {"preset": v.preset, "crf": str(v.crf), "maxrate": f"{v.bitrate_kbps}k",
                      "bufsize": f"{2 * v.bitrate_kbps}k", "profile": v.profile, "level": v.level,
                      "g": str(int(round(v.fps * 2)))}
    audio = container.add_stream("aac", rate=a.sample_rate, layout="stereo" if a.channels == 2 else "mono")
    audio.bit_rate = a.bitrate_kbps * 1000
    return container, stream, audio


def _render(paths: Sequence[Path], start_s: float, end_s: float, profile: PlatformProfile, path: Path,
            crop: CropPath | None, overlays: list[tuple[float, float, _Overlay]], audio: np.ndarray,
            progress: Progress | None) -> tuple[int, np.ndarray | None]:
    v = profile.video
    duration = end_s - start_s
    n_out = max(1, int(round(duration * v.fps)))
    container, stream, audio_stream = _open_video(path, profile)
    layout = "stereo" if profile.audio.channels == 2 else "mono"
    rate = profile.audio.sample_rate
    audio_cursor = 0
    emitted = 0
    first_bgr: np.ndarray | None = None

    def encode_audio_until(t: float) -> None:
        nonlocal audio_cursor
        stop = min(audio.shape[1], int(round(t * rate)))
        if stop <= audio_cursor:
            return
        chunk = np.ascontiguousarray(audio[:, audio_cursor:stop])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, audio_cursor, Fraction(1, rate)
        audio_cursor = stop
        container.mux(audio_stream.encode(frame))

    def emit(src: av.VideoFrame, until_s: float) -> None:
        """Encode the output ticks before ``until_s`` (clip time) from the source frame ``src``."""
        nonlocal emitted, first_bgr
        bgr = None
        while emitted < n_out and emitted / v.fps < until_s - 1e-6:
            t = emitted / v.fps
            if bgr is None:
                bgr = src.to_ndarray(format="bgr24")
                if first_bgr is None:
                    first_bgr = bgr
            picture = compose(bgr, v.width, v.height, crop.at(t) if crop is not None else None)
            for a, b, overlay in overlays:
                if a <= t < b:
                    overlay.draw(picture)
            out = av.VideoFrame.from_ndarray(cv2.cvtColor(picture, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
            out.pts = emitted
            container.mux(stream.encode(out))
            emitted += 1
            encode_audio_until((emitted) / v.fps)
            if progress is not None:
                progress("render", emitted, n_out)

    try:
        pending: av.VideoFrame | None = None
        for frame in _decode(paths, start_s, end_s, False):
            t = float(frame.time) - start_s
            if pending is not None:
                emit(pending, t)
            pending = frame
            if emitted >= n_out:
                break
        if pending is None:
            raise RenderError("no video frame inside the span")
        emit(pending, duration + 1.0)
        encode_audio_until(duration)
        container.mux(stream.encode(None))
        container.mux(audio_stream.encode(None))
    finally:
        container.close()
    return emitted, first_bgr


# ------------------------------------------------------------------ public


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.part{path.suffix}")


def render_clip(
    source: Path | str | Sequence[Any],
    start_s: float,
    end_s: float,
    profile: PlatformProfile,
    out_dir: Path | str,
    *,
    words: Sequence[Any] = (),
    lang: str = "zh",
    product: str | None = None,
    selling_point: str | None = None,
    selling_text: str | None = None,
    subject_track: Sequence[SubjectPoint] | None = None,
    detect_every_s: float = 0.33,
    names: tuple[str, str, str] = ("clip.mp4", "cover.jpg", "meta.json"),
    progress: Progress | None = None,
    check_listing: bool = True,
    variant: int = 0,
) -> RenderResult:
    """Render ``[start_s, end_s)`` of ``source`` for ``profile`` into ``out_dir`` (see the module docstring).

    ``words``: transcript words (``TimedWord`` or anything with start_ms/end_ms/text, source
    time) for the subtitles, the title and the description. ``variant`` k > 0: one of several posts
    of the same moment: the title from the k-th best hook, opening the video as a banner for its
    first seconds, and the k-th best cover frame (another moment of the clip). ``check_listing``: drop the title's,
    description's and tags' clauses that the compliance rules flag (:func:`listing_check`). ``subject_track``: subject boxes
    already known (clip time, e.g. from the vision processor); None = detect here.
    Raises :class:`RenderError` (one line) on bad input; nothing is left that looks finished.
    """
    started = time.perf_counter()
    paths = _source_paths(source)
    info = probe(paths)
    if not end_s > start_s:
        raise RenderError(f"empty range: end {end_s:g} s is not after start {start_s:g} s")
    if start_s < 0 or start_s >= info.duration_s:
        raise RenderError(f"range {start_s:g}-{end_s:g} s is outside the video ({info.duration_s:.2f} s long)")
    if end_s > info.duration_s + END_TOLERANCE_S:
        raise RenderError(f"range {start_s:g}-{end_s:g} s ends after the video ({info.duration_s:.2f} s long)")
    end_s = min(end_s, info.duration_s)
    duration = end_s - start_s
    limits = profile.duration
    if not limits.min_s - 1e-6 <= duration <= limits.max_s + 1e-6:
        raise RenderError(f"a {duration:.1f} s clip is outside {profile.name}'s {limits.min_s:g}-{limits.max_s:g} s")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    video_path, cover_path, meta_path = (out_dir / n for n in names)
    meta_path.unlink(missing_ok=True)  # a stale meta.json must not vouch for files being replaced
    warnings: list[str] = []

    analysis = _analyse(paths, start_s, end_s, profile, info.has_audio, detect_every_s, subject_track, progress,
                        covers=variant + 1)
    if analysis.video_frames == 0:
        raise RenderError(f"no video frame between {start_s:g} and {end_s:g} s (corrupt file?)")
    crop = plan_path(analysis.samples, duration)
    if crop is None:
        found = sum(1 for _, p in analysis.samples if p is not None)
        reframe_reason = (f"no face or person found ({found} of {len(analysis.samples)} sampled frames): "
                          "letterboxed over a blurred fill")
        warnings.append(reframe_reason)
    else:
        kind = "face" if any(p and p.kind == "face" for _, p in analysis.samples) else "person"
        reframe_reason = f"{kind} found in {crop.coverage:.0%} of sampled frames"
        if crop.static:
            reframe_reason += "; the subject stays inside the dead zone, the crop holds still"
        if crop.letterbox:
            reframe_reason += (f"; letterboxed where no subject is on screen ({crop.letterbox_s:.1f} s: "
                               + ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in crop.letterbox) + ")")

    rate, channels = profile.audio.sample_rate, profile.audio.channels
    n_audio = int(round(duration * rate))
    loud = None
    if analysis.audio is None:
        warnings.append("the source has no audio: the clip has a silent track")
        samples = np.zeros((channels, n_audio), np.float32)
    else:
        loud = normalize(analysis.audio, rate, profile.loudness.integrated_lufs, profile.loudness.true_peak_db)
        samples = loud.samples
        if loud.output_lufs is None:
            warnings.append("the audio is silent or too short to measure its loudness: left as it is")

    cues = subtitle_cues([as_word(w) for w in words], start_s, end_s, profile)
    if not cues:
        warnings.append("no transcript words in the span: no subtitles")
    overlays = _subtitle_overlays(cues, profile)

    transcript = join_tokens(w.text for w in map(as_word, words)
                             if w.end_ms > start_s * 1000 and w.start_ms < end_s * 1000)
    listing = write_listing(transcript, lang=lang, product=product, selling_point=selling_point,
                            selling_text=selling_text, max_title_chars=profile.title.max_chars,
                            max_tags=profile.tags.max_count, max_description_chars=profile.description.max_chars,
                            variant=variant)
    if check_listing:
        listing, dropped = drop_flagged(listing, listing_check(profile.name, lang), fallback_title=selling_point or "",
                                        max_title_chars=profile.title.max_chars)
        if dropped:
            warnings.append("dropped from the listing by the compliance rules: " + " / ".join(dropped))
    if not listing.title:
        warnings.append("no title: neither a transcript nor a product name to write one from")
    if variant and listing.title:  # the variant's own opening: its hook over the first seconds
        overlays = [*_opening_overlay(listing.title, profile, min(OPENING_S, duration)), *overlays]
    cover_t, cover_frame = analysis.cover_t, analysis.cover_frame
    if variant and analysis.covers:
        _score, cover_t, cover_frame, _ = analysis.covers[min(variant, len(analysis.covers) - 1)]
    tmp_video, tmp_cover, tmp_meta = _tmp(video_path), _tmp(cover_path), _tmp(meta_path)
    try:
        frames, first_bgr = _render(paths, start_s, end_s, profile, tmp_video, crop, overlays, samples, progress)
        cover_src = cover_frame if cover_frame is not None else first_bgr
        centre = crop.at(cover_t) if crop is not None else None
        _write_cover(cover_src, profile, centre, listing.title, tmp_cover)
        render_s = time.perf_counter() - started
        meta = {
            "platform": profile.name, "platform_name": profile.display_name, "status": "ready",
            "title": listing.title, "description": listing.description, "tags": list(listing.tags),
            "lang": lang, "product": product, "selling_point": selling_point, "variant": variant,
            "cover_t": round(cover_t, 2),
            "start": round(start_s, 3), "end": round(end_s, 3), "duration": round(duration, 3),
            "subtitles": [{"start": c.start_ms / 1000, "end": c.end_ms / 1000, "text": c.text} for c in cues],
            "loudness_lufs": _r(loud.output_lufs) if loud else None,
            "loudness_input_lufs": _r(loud.input_lufs) if loud else None,
            "true_peak_db": _r(loud.output_true_peak_db) if loud else None,
            "loudness_target": profile.loudness.model_dump(),
            "loudness_limited": bool(loud.limited) if loud else False,
            "reframe": "letterbox" if crop is None else "mixed" if crop.letterbox else "subject",
            "letterbox_s": round(duration if crop is None else crop.letterbox_s, 2),
            "reframe_reason": reframe_reason,
            "subject_coverage": round(crop.coverage, 3) if crop is not None else
            round(sum(1 for _, p in analysis.samples if p) / max(1, len(analysis.samples)), 3),
            "video": {"width": profile.video.width, "height": profile.video.height, "fps": profile.video.fps,
                      "frames": frames, "codec": "h264", "profile": profile.video.profile},
            "source": [str(p) for p in paths],
            "files": {"video": video_path.name, "cover": cover_path.name},
            "warnings": warnings,
            "render_s": round(render_s, 3),
            "render_rtf": round(render_s / duration, 3),
        }
        tmp_meta.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp_video, video_path)
        os.replace(tmp_cover, cover_path)
        os.replace(tmp_meta, meta_path)  # last: its presence says the render is complete
    except av.FFmpegError as exc:
        raise RenderError(f"encoding failed: {str(exc).splitlines()[0][:160]}") from None
    finally:
        for tmp in (tmp_video, tmp_cover, tmp_meta):
            tmp.unlink(missing_ok=True)
    return RenderResult(video_path, cover_path, meta_path, meta)


@lru_cache(maxsize=32)
def listing_check(platform: str, lang: str) -> Callable[[str], bool]:
    """Text -> does it break an advertising-law or platform rule (models/compliance), for a post in
    ``lang`` on ``platform`` (its platform pack when there is one, else the common rules)."""
    from models.compliance import ComplianceChecker, list_platforms

    checker = ComplianceChecker(platform=platform if platform in list_platforms() else None,
                                language=lang if lang in ("zh", "en") else "zh")
    return lambda text: bool(checker.check(text))


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 2)


def _write_cover(src: np.ndarray | None, profile: PlatformProfile, centre: tuple[float, float] | None,
                 title: str, path: Path) -> None:
    c, safe = profile.cover, profile.safe_area
    if src is None:
        raise RenderError("no frame for the cover")
    picture = compose(src, c.width, c.height, centre)
    if title:
        size = int(round(c.title_size * c.height))
        left, right = int(c.width * safe.left), int(c.width * (1 - safe.right))
        lines = wrap_text(title, cjk_font(size), (right - left) * 0.96)
        while len(lines) > 3 and size > 16:
            size = int(size * 0.9)
            lines = wrap_text(title, cjk_font(size), (right - left) * 0.96)
        # over a reframed host the face is in the upper third: the title goes low, above the
        # platform's caption area; over a letterboxed frame it goes at the top of the safe area
        place = {"bottom": int(c.height * (1 - safe.bottom))} if centre is not None else {"top": int(c.height * safe.top)}
        text_block(lines, size, c.width, left, right, outline=0.12, background="#00000080", **place).draw(picture)
    if not cv2.imwrite(str(path), picture, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise RenderError(f"cannot write the cover {path}")
