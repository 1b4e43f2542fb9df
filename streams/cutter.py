"""Cut a clip out of the rolling segment store: MP4 (H.264 + AAC), a vertical 9:16 variant, a thumbnail.

Pure media I/O with PyAV (no Kafka, no asyncio): the clipper processor calls it in a worker thread.

    result = cut_clip(store.segments_between(room, start_ms, end_ms), start_ms, end_ms, "clip.mp4")
    results = cut_clips(segments, start_ms, end_ms,
                        [CutOutput("clip.mp4"), CutOutput("vertical.mp4", vertical=True, crop_center_x=0.4)],
                        thumbnail_path="thumb.jpg")       # one decode pass, several outputs

Modes:

* ``reencode`` (default, frame-exact): decode the covering segments in order, keep the video frames
  whose presentation time lies in ``[start_ms, end_ms)``, cut the audio to the sample at the first
  kept frame, and encode H.264 (libx264, yuv420p) + AAC with timestamps starting at 0. The result's
  ``start_ms`` is the first kept frame (at most one frame after the requested start) and ``end_ms``
  the end of the last kept frame.
* ``copy`` (fast, no encoding): remux the packets from the keyframe at or before ``start_ms``;
  the clip therefore starts up to one segment early, and the result says so in ``reason``.

Bad input never produces a broken file: each segment is demuxed and checked first (missing seq,
time holes, pruned files, unreadable data, audio that stops or drifts away from the video), the
cut is limited to the longest clean stretch of the request (``status="shortened"`` with the
reason) or refused (``status="skipped"``), and every output is written to a temporary name,
verified by decoding it completely, and only then renamed into place.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal, Sequence

import av
import cv2
import numpy as np

from streams.segment_store import SegmentInfo

CutMode = Literal["reencode", "copy"]
CutStatus = Literal["ready", "shortened", "skipped"]

_OUT_CLOCK = Fraction(1, 90_000)
#: Two segments whose times differ by less than this are contiguous; a span that misses the
#: request by less is not called "shortened" (a frame at 25 fps is 40 ms).
_TOLERANCE_MS = 50.0
#: Audio packets further apart than this are a hole in the audio.
_AUDIO_GAP_MS = 100.0


@dataclass(frozen=True)
class CutOutput:
    """One file to write from the cut. ``vertical``: a 9:16 column centred on ``crop_center_x``
    (a fraction of the frame width, e.g. the host's face from vision; the centre when None)."""

    path: Path | str
    vertical: bool = False
    crop_center_x: float | None = None
    max_height: int = 1280  # vertical: keep the source height up to this (1280 -> 720x1280)


@dataclass
class CutResult:
    status: CutStatus
    start_ms: int  # what the clip really covers, in stream time
    end_ms: int
    duration_ms: int
    video_frames: int
    audio_ok: bool
    reason: str = ""  # why shortened/skipped, or what the mode changed (copy: earlier start)
    requested_start_ms: int = 0
    requested_end_ms: int = 0
    mode: CutMode = "reencode"
    paths: list[Path] = field(default_factory=list)  # the files written (none when skipped)
    thumbnail: Path | None = None
    cost_s: float = 0.0  # wall time of the cut

    @property
    def ok(self) -> bool:
        return self.status != "skipped"


class CutError(RuntimeError):
    """A cut that produced no valid file (the reason is in the message)."""


# ------------------------------------------------------------------ reading segments


@dataclass
class _Loaded:
    info: SegmentInfo
    container: av.container.InputContainer
    video: list[av.Packet]
    audio: list[av.Packet]
    video_tb_ms: float  # ms per pts unit
    audio_tb_ms: float

    def video_ms(self, p: av.Packet) -> float:
        return p.pts * self.video_tb_ms

    def audio_span(self, p: av.Packet) -> tuple[float, float]:
        t = p.pts * self.audio_tb_ms
        return t, t + (p.duration or 0) * self.audio_tb_ms


def _load(info: SegmentInfo) -> tuple[_Loaded | None, str]:
    """Demux one segment completely; (None, reason) if it is missing or unreadable."""
    try:
        container = av.open(str(info.path), "r")
    except FileNotFoundError:
        return None, f"segment {info.seq} expired (pruned from the store)"
    except (av.FFmpegError, OSError, ValueError) as exc:
        return None, f"segment {info.seq} unreadable: {str(exc)[:120]}"
    video_in = container.streams.video[0] if container.streams.video else None
    audio_in = container.streams.audio[0] if container.streams.audio else None
    video: list[av.Packet] = []
    audio: list[av.Packet] = []
    try:
        streams = [s for s in (video_in, audio_in) if s is not None]
        if not streams:
            raise ValueError("no audio or video stream")
        for packet in container.demux(*streams):
            if packet.pts is None or packet.size == 0:
                continue
            (video if packet.stream is video_in else audio).append(packet)
    except (av.FFmpegError, OSError, ValueError) as exc:
        container.close()
        return None, f"segment {info.seq} unreadable: {str(exc)[:120]}"
    if info.has_video and (not video or not video[0].is_keyframe):
        container.close()
        return None, f"segment {info.seq} corrupt: its video does not start with a keyframe"
    if info.has_audio and not audio and not video:
        container.close()
        return None, f"segment {info.seq} corrupt: no packets"
    video.sort(key=lambda p: p.pts)
    audio.sort(key=lambda p: p.pts)
    vtb = float(video_in.time_base) * 1000 if video_in is not None else 0.0
    atb = float(audio_in.time_base) * 1000 if audio_in is not None else 0.0
    return _Loaded(info, container, video, audio, vtb, atb), ""


@dataclass
class _Run:
    """Consecutive readable segments without a hole in time."""

    segments: list[_Loaded]

    @property
    def start_ms(self) -> float:
        return float(self.segments[0].info.start_ms)

    @property
    def end_ms(self) -> float:
        return float(self.segments[-1].info.end_ms)


def _runs(segments: Sequence[SegmentInfo]) -> tuple[list[_Run], list[str], list[_Loaded]]:
    """Group readable segments into gap-free runs; the reasons for every break."""
    runs: list[_Run] = []
    notes: list[str] = []
    loaded_all: list[_Loaded] = []
    prev: SegmentInfo | None = None
    for info in sorted(segments, key=lambda s: s.seq):
        loaded, why = _load(info)
        if loaded is None:
            notes.append(why)
            prev = None
            continue
        loaded_all.append(loaded)
        contiguous = prev is not None and runs
        if contiguous and info.seq != prev.seq + 1:
            notes.append(f"segments {prev.seq + 1}..{info.seq - 1} missing ({prev.end_ms}-{info.start_ms} ms)")
            contiguous = False
        elif contiguous and info.start_ms > prev.end_ms + _TOLERANCE_MS:
            notes.append(f"time hole in the segments {prev.end_ms}-{info.start_ms} ms")
            contiguous = False
        if contiguous:
            runs[-1].segments.append(loaded)
        else:
            runs.append(_Run([loaded]))
        prev = info
    return runs, notes, loaded_all


def _audio_cover(run: _Run) -> list[tuple[float, float]]:
    """Stretches of stream time the run's audio covers (holes > ``_AUDIO_GAP_MS`` split them)."""
    spans = sorted(seg.audio_span(p) for seg in run.segments for p in seg.audio)
    out: list[list[float]] = []
    for a, b in spans:
        if out and a <= out[-1][1] + _AUDIO_GAP_MS:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


@dataclass
class _Plan:
    run: _Run
    start_ms: float
    end_ms: float
    has_audio: bool
    notes: list[str]


def _plan(segments: Sequence[SegmentInfo], start_ms: float, end_ms: float,
          min_duration_ms: float) -> tuple[_Plan | None, str, list[_Loaded]]:
    """The clean part of the request to cut, or (None, why not)."""
    if not segments:
        return None, "no media for this span in the segment store (expired or not yet written)", []
    runs, notes, loaded = _runs(segments)
    if not runs:
        return None, "; ".join(notes) or "no readable segment", loaded
    run = max(runs, key=lambda r: _overlap(r.start_ms, r.end_ms, start_ms, end_ms))
    s, e = max(start_ms, run.start_ms), min(end_ms, run.end_ms)
    if s > start_ms + _TOLERANCE_MS:
        notes.append(f"no media before {s:.0f} ms (expired, missing or unreadable)")
    if e < end_ms - _TOLERANCE_MS:
        notes.append(f"no media after {e:.0f} ms (missing, unreadable or not yet written)")
    has_audio = any(seg.audio for seg in run.segments)
    has_video = any(seg.video for seg in run.segments)
    if not has_video:
        return None, "no video in the segments", loaded
    if has_audio:
        cover = _audio_cover(run)
        a0, a1 = max(cover, key=lambda c: _overlap(c[0], c[1], s, e))
        if _overlap(a0, a1, s, e) <= 0:
            return None, "audio/video drift: no audio inside the clip span", loaded
        if a0 > s + _TOLERANCE_MS or a1 < e - _TOLERANCE_MS:
            notes.append(f"audio/video drift or audio gap: audio covers only {max(a0, s):.0f}-{min(a1, e):.0f} ms")
            s, e = max(s, a0), min(e, a1)
    if e - s < min_duration_ms:
        reason = f"only {max(0.0, e - s) / 1000:.1f} s of clean media (< {min_duration_ms / 1000:.1f} s)"
        return None, "; ".join([reason, *notes]), loaded
    return _Plan(run, s, e, has_audio, notes), "", loaded


# ------------------------------------------------------------------ writing


@dataclass
class _VideoOut:
    spec: CutOutput
    tmp: Path
    container: av.container.OutputContainer
    stream: av.stream.Stream
    audio: av.stream.Stream | None
    width: int
    height: int
    crop: tuple[int, int] | None  # x0, width of the vertical column in source pixels


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def _tmp_path(path: Path) -> Path:
    # same folder (so the rename is atomic), a name no reader will take for a finished clip
    return path.with_name(f".{path.stem}.{os.getpid()}.part{path.suffix}")


def _open_output(spec: CutOutput, src_w: int, src_h: int, fps: Fraction, audio_rate: int | None,
                 audio_layout: str, preset: str, crf: int) -> _VideoOut:
    path = Path(spec.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    crop = None
    width, height = _even(src_w - 1) if src_w % 2 else src_w, _even(src_h - 1) if src_h % 2 else src_h
    if spec.vertical:
        col_w = min(src_w, _even(src_h * 9 / 16))
        centre = 0.5 if spec.crop_center_x is None else min(1.0, max(0.0, float(spec.crop_center_x)))
        x0 = int(round(centre * src_w - col_w / 2))
        crop = (min(max(0, x0), src_w - col_w), col_w)
        height = _even(min(src_h, spec.max_height))
        width = _even(height * 9 / 16)
    container = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.time_base = _OUT_CLOCK
    stream.options = {"preset": preset, "crf": str(crf)}
    audio = None
    if audio_rate:
        audio = container.add_stream("aac", rate=audio_rate, layout=audio_layout)
    return _VideoOut(spec, tmp, container, stream, audio, width, height, crop)


def _fit_frame(out: _VideoOut, frame: av.VideoFrame) -> av.VideoFrame:
    if out.crop is None:
        if frame.width == out.width and frame.height == out.height and frame.format.name == "yuv420p":
            return frame
        return frame.reformat(width=out.width, height=out.height, format="yuv420p")
    x0, col_w = out.crop
    rgb = frame.to_ndarray(format="rgb24")[:, x0:x0 + col_w]
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
        width=out.width, height=out.height, format="yuv420p")


def probe_clip(path: Path | str) -> dict:
    """Decode a whole file; its frame count, first/last video times and audio extent (ms).

    Raises :class:`CutError` if it does not decode or has no video frame.
    """
    try:
        with av.open(str(path), "r") as container:
            streams = [*container.streams.video[:1], *container.streams.audio[:1]]
            frames, first, last, audio_first, audio_end, audio_samples = 0, None, None, None, None, 0
            width = height = 0
            for frame in container.decode(*streams):
                t = float(frame.time or 0.0) * 1000
                if isinstance(frame, av.VideoFrame):
                    frames += 1
                    width, height = frame.width, frame.height
                    first = t if first is None else min(first, t)
                    last = t if last is None else max(last, t)
                else:
                    audio_first = t if audio_first is None else min(audio_first, t)
                    end = t + frame.samples * 1000 / frame.sample_rate
                    audio_end = end if audio_end is None else max(audio_end, end)
                    audio_samples += frame.samples
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise CutError(f"output does not decode: {str(exc)[:120]}") from exc
    if frames == 0:
        raise CutError("output has no video frames")
    return {"video_frames": frames, "first_ms": first, "last_ms": last, "width": width, "height": height,
            "audio_first_ms": audio_first, "audio_end_ms": audio_end, "audio_samples": audio_samples}


def _finish(tmp: Path, final: Path) -> dict:
    """Verify the temporary file by decoding it, then rename it into place."""
    try:
        info = probe_clip(tmp)
    except CutError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    return info


def _write_jpeg(frame: av.VideoFrame, path: Path, quality: int = 85) -> None:
    bgr = frame.to_ndarray(format="bgr24")
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise CutError("thumbnail JPEG encoding failed")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    tmp.write_bytes(data.tobytes())
    os.replace(tmp, path)


def _decode_audio(run: _Run) -> tuple[np.ndarray, float, int, str] | None:
    """All audio of the run as float32 (channels, samples), its first sample's time, rate, layout."""
    first = next((seg for seg in run.segments if seg.audio), None)
    if first is None:
        return None
    src = first.container.streams.audio[0].codec_context
    decoder = av.CodecContext.create(src.name, "r")
    decoder.sample_rate, decoder.layout = src.sample_rate, src.layout
    chunks: list[np.ndarray] = []
    t0: float | None = None
    rate, layout = src.sample_rate, src.layout.name
    expected = 0  # samples so far; a later packet starting beyond it is a hole -> silence
    for seg in run.segments:
        for packet in seg.audio:
            pt = seg.audio_span(packet)[0]
            try:
                frames = decoder.decode(packet)
            except (av.FFmpegError, ValueError):
                continue  # one bad AAC frame: the gap check below fills it with silence
            for frame in frames:
                data = frame.to_ndarray()
                if frame.format.name not in ("fltp", "flt"):
                    data = data.astype(np.float32) / (np.iinfo(data.dtype).max if data.dtype.kind == "i" else 1)
                if not frame.format.is_planar:
                    data = data.reshape(-1, frame.layout.nb_channels).T
                if t0 is None:
                    t0 = pt
                at = int(round((pt - t0) * rate / 1000))
                if at > expected + rate // 100:  # a hole of > 10 ms: keep timing with silence
                    chunks.append(np.zeros((data.shape[0], at - expected), np.float32))
                    expected = at
                chunks.append(data.astype(np.float32, copy=False))
                expected += data.shape[1]
                rate = frame.sample_rate
    if not chunks or t0 is None:
        return None
    return np.concatenate(chunks, axis=1), t0, rate, layout


def _frame_rate(run: _Run) -> Fraction:
    times = [seg.video_ms(p) for seg in run.segments for p in seg.video]
    if len(times) < 2:
        return Fraction(25)
    step = float(np.median(np.diff(np.array(sorted(times)))))
    return Fraction(round(1000 / step * 1000), 1000).limit_denominator(1001) if step > 0 else Fraction(25)


def _reencode(plan: _Plan, outputs: Sequence[CutOutput], thumbnail: Path | None, preset: str,
              crf: int) -> tuple[int, int, int, bool, list[dict]]:
    run = plan.run
    audio = _decode_audio(run) if plan.has_audio else None
    fps = _frame_rate(run)
    src = run.segments[0].container.streams.video[0].codec_context
    decoder = av.CodecContext.create(src.name, "r")
    outs: list[_VideoOut] = []
    kept_first: float | None = None
    kept_last = 0.0
    frames_out = 0
    frame_ms = 1000 / float(fps)
    middle = (plan.start_ms + plan.end_ms) / 2
    thumb_frame: tuple[float, av.VideoFrame] | None = None
    audio_cursor = 0  # samples of the audio buffer already encoded
    try:
        def encode_audio_until(t_ms: float) -> None:
            nonlocal audio_cursor
            if audio is None or kept_first is None:
                return
            samples, a_t0, rate, layout = audio
            start_idx = int(round((kept_first - a_t0) * rate / 1000))
            stop_idx = min(samples.shape[1], int(round((t_ms - a_t0) * rate / 1000)))
            lo = max(start_idx + audio_cursor, 0)
            if stop_idx <= lo:
                return
            chunk = np.ascontiguousarray(samples[:, lo:stop_idx])
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            af.sample_rate, af.pts, af.time_base = rate, audio_cursor, Fraction(1, rate)
            audio_cursor += chunk.shape[1]
            for out in outs:
                if out.audio is not None:
                    out.container.mux(out.audio.encode(af))

        def on_frame(frame: av.VideoFrame, t: float) -> None:
            nonlocal kept_first, kept_last, frames_out, thumb_frame, outs
            if not (plan.start_ms - 0.5 <= t < plan.end_ms - 0.5):
                return
            if kept_first is None:
                kept_first = t
                outs = [_open_output(spec, frame.width, frame.height, fps,
                                     audio[2] if audio else None, audio[3] if audio else "stereo", preset, crf)
                        for spec in outputs]
            kept_last = t
            frames_out += 1
            if thumbnail is not None and (thumb_frame is None or abs(t - middle) < abs(thumb_frame[0] - middle)):
                thumb_frame = (t, frame)
            pts = int(round((t - kept_first) * 90))
            for out in outs:
                f = _fit_frame(out, frame)
                f.pts, f.time_base = pts, _OUT_CLOCK
                out.container.mux(out.stream.encode(f))
            encode_audio_until(t + frame_ms)

        for seg in run.segments:
            if seg.video and seg.video_ms(seg.video[0]) >= plan.end_ms:
                break
            if seg.video and seg.info.end_ms <= plan.start_ms:
                continue  # wholly before the cut; every segment starts with a keyframe
            for packet in seg.video:
                for frame in decoder.decode(packet):
                    on_frame(frame, float(frame.pts) * seg.video_tb_ms)
        for frame in decoder.decode(None):
            on_frame(frame, float(frame.pts) * run.segments[-1].video_tb_ms)
        if kept_first is None:
            raise CutError("no video frame inside the clip span")
        end_ms = kept_last + frame_ms
        encode_audio_until(end_ms)
        for out in outs:
            out.container.mux(out.stream.encode(None))
            if out.audio is not None:
                out.container.mux(out.audio.encode(None))
            out.container.close()
        infos = [_finish(out.tmp, Path(out.spec.path)) for out in outs]
        if thumbnail is not None and thumb_frame is not None:
            _write_jpeg(thumb_frame[1], thumbnail)
        return int(round(kept_first)), int(round(end_ms)), frames_out, audio is not None, infos
    finally:
        for out in outs:
            if out.tmp.exists():
                try:
                    out.container.close()
                except Exception:  # noqa: BLE001 - already failing; clean up the temp file
                    pass
                out.tmp.unlink(missing_ok=True)


def _copy(plan: _Plan, outputs: Sequence[CutOutput], thumbnail: Path | None) -> tuple[int, int, int, bool, list[dict]]:
    """Stream copy from the keyframe at or before the start (vertical outputs are refused)."""
    if any(o.vertical for o in outputs):
        raise CutError("a vertical crop needs re-encoding (mode='reencode')")
    run = plan.run
    keyframes = [(seg.video_ms(p), i) for i, seg in enumerate(run.segments) for p in seg.video if p.is_keyframe]
    before = [k for k in keyframes if k[0] <= plan.start_ms + 0.5]
    origin = max(before)[0] if before else keyframes[0][0]
    first_seg = run.segments[0]
    v_in = first_seg.container.streams.video[0]
    a_in = next((seg.container.streams.audio[0] for seg in run.segments if seg.audio), None)
    results = []
    start_out = end_out = 0
    frames_out = 0
    for spec in outputs:
        path = Path(spec.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_path(path)
        try:
            with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
                v_out = out.add_stream_from_template(v_in)
                a_out = out.add_stream_from_template(a_in) if (a_in is not None and plan.has_audio) else None
                packets: list[tuple[float, av.Packet, av.stream.Stream, float]] = []
                last_v = origin
                frames_out = 0
                for seg in run.segments:
                    for p in seg.video:
                        t = seg.video_ms(p)
                        if origin - 0.5 <= t < plan.end_ms - 0.5:
                            packets.append((t, p, v_out, seg.video_tb_ms))
                            last_v, frames_out = max(last_v, t), frames_out + 1
                    if a_out is not None:
                        for p in seg.audio:
                            t = seg.audio_span(p)[0]
                            if origin - 0.5 <= t < plan.end_ms - 0.5:
                                packets.append((t, p, a_out, seg.audio_tb_ms))
                packets.sort(key=lambda x: x[0])
                for t, p, stream, tb_ms in packets:
                    shift = int(round(origin / tb_ms))
                    p.pts -= shift
                    if p.dts is not None:
                        p.dts -= shift
                    p.stream = stream
                    out.mux(p)
                    p.pts += shift  # packets are reused by the next output
                    if p.dts is not None:
                        p.dts += shift
            results.append(_finish(tmp, path))
        finally:
            tmp.unlink(missing_ok=True)
        start_out, end_out = int(round(origin)), int(round(last_v + 1000 / float(_frame_rate(run))))
    if thumbnail is not None and outputs:
        _thumbnail_from_file(Path(outputs[0].path), thumbnail)
    return start_out, end_out, frames_out, plan.has_audio, results


def _thumbnail_from_file(clip: Path, thumbnail: Path) -> None:
    with av.open(str(clip)) as container:
        frames = list(container.decode(video=0))
    _write_jpeg(frames[len(frames) // 2], thumbnail)


# ------------------------------------------------------------------ public


def cut_clips(
    segments: Sequence[SegmentInfo],
    start_ms: float,
    end_ms: float,
    outputs: Sequence[CutOutput],
    mode: CutMode = "reencode",
    *,
    thumbnail_path: Path | str | None = None,
    min_duration_ms: float = 1000.0,
    preset: str = "veryfast",
    crf: int = 23,
) -> CutResult:
    """Cut ``[start_ms, end_ms)`` (stream time) from ``segments`` into every output in one pass."""
    t0 = time.perf_counter()
    result = CutResult("skipped", int(start_ms), int(start_ms), 0, 0, False, "",
                       int(start_ms), int(end_ms), mode)
    if end_ms <= start_ms:
        result.reason = "empty span"
        return result
    plan, why, loaded = _plan(segments, start_ms, end_ms, min_duration_ms)
    try:
        if plan is None:
            result.reason = why
            return result
        thumb = Path(thumbnail_path) if thumbnail_path is not None else None
        try:
            if mode == "copy":
                s, e, frames, audio_ok, _infos = _copy(plan, outputs, thumb)
            else:
                s, e, frames, audio_ok, _infos = _reencode(plan, outputs, thumb, preset, crf)
        except (CutError, av.FFmpegError, ValueError, OSError) as exc:
            result.reason = "; ".join([f"cut failed: {str(exc)[:160]}", *plan.notes])
            return result
        notes = list(plan.notes)
        if not audio_ok:
            notes.append("no audio in the source")
        if mode == "copy" and s < start_ms - _TOLERANCE_MS:
            notes.insert(0, f"copy mode: starts at the keyframe {start_ms - s:.0f} ms before the requested start")
        result.status = "shortened" if plan.notes else "ready"
        result.start_ms, result.end_ms, result.duration_ms = s, e, e - s
        result.video_frames, result.audio_ok = frames, audio_ok
        result.reason = "; ".join(notes)
        result.paths = [Path(o.path) for o in outputs]
        result.thumbnail = thumb if thumb is not None and thumb.exists() else None
        return result
    finally:
        for seg in loaded:
            seg.container.close()
        result.cost_s = time.perf_counter() - t0


def cut_clip(
    segments: Sequence[SegmentInfo],
    start_ms: float,
    end_ms: float,
    out_path: Path | str,
    mode: CutMode = "reencode",
    vertical: bool = False,
    crop_center_x: float | None = None,
    **kwargs,
) -> CutResult:
    """Cut one file; see :func:`cut_clips` (keyword arguments pass through)."""
    return cut_clips(segments, start_ms, end_ms, [CutOutput(out_path, vertical, crop_center_x)], mode, **kwargs)
