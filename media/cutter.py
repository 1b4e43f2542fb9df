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

from media.segment_store import SegmentInfo

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
        x0 = min(max(0, x0), src_w - col_w) // 2 * 2  # even: whole chroma samples
        crop = (x0, col_w)
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
    if frame.format.name == "yuv420p" and x0 % 2 == 0 and col_w % 2 == 0:
        column = _crop_yuv420p(frame, x0, col_w)  # no RGB round trip: a third of the vertical's cost
        if column.width == out.width and column.height == out.height:
            return column
        return column.reformat(width=out.width, height=out.height, format="yuv420p")
    rgb = frame.to_ndarray(format="rgb24")[:, x0:x0 + col_w]
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
        width=out.width, height=out.height, format="yuv420p")


def _crop_yuv420p(frame: av.VideoFrame, x0: int, col_w: int) -> av.VideoFrame:
    """The column ``[x0, x0 + col_w)`` of a yuv420p frame, plane by plane (x0, col_w even)."""
    column = av.VideoFrame(col_w, frame.height, "yuv420p")
    for i, (src, dst) in enumerate(zip(frame.planes, column.planes)):
        sx, sw = (x0, col_w) if i == 0 else (x0 // 2, col_w // 2)
        rows = np.frombuffer(src, np.uint8).reshape(src.height, src.line_size)[:dst.height, sx:sx + sw]
        buf = np.zeros((dst.height, dst.line_size), np.uint8)
        buf[:, :sw] = rows
        dst.update(buf)
    return column


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


class _AudioBuffer:
    """The run's audio as float32 (channels, samples), decoded segment by segment: a live cut
    adds each segment as it arrives, a batch cut all of them first."""

    def __init__(self) -> None:
        self.decoder: av.CodecContext | None = None  # opened on the first segment with audio
        self.rate: int | None = None
        self.layout = "stereo"
        self.t0: float | None = None  # time of the first sample
        self.chunks: list[np.ndarray] = []
        self.expected = 0  # samples so far; a later packet starting beyond it is a hole -> silence
        self._joined: np.ndarray | None = None

    def add(self, seg: _Loaded) -> None:
        if self.decoder is None and seg.audio:
            src = seg.container.streams.audio[0].codec_context
            self.decoder = av.CodecContext.create(src.name, "r")
            self.decoder.sample_rate, self.decoder.layout = src.sample_rate, src.layout
            self.rate, self.layout = src.sample_rate, src.layout.name
        for packet in seg.audio:
            pt = seg.audio_span(packet)[0]
            try:
                frames = self.decoder.decode(packet)
            except (av.FFmpegError, ValueError):
                continue  # one bad AAC frame: the gap check below fills it with silence
            for frame in frames:
                data = frame.to_ndarray()
                if frame.format.name not in ("fltp", "flt"):
                    data = data.astype(np.float32) / (np.iinfo(data.dtype).max if data.dtype.kind == "i" else 1)
                if not frame.format.is_planar:
                    data = data.reshape(-1, frame.layout.nb_channels).T
                if self.t0 is None:
                    self.t0 = pt
                at = int(round((pt - self.t0) * self.rate / 1000))
                if at > self.expected + self.rate // 100:  # a hole of > 10 ms: keep timing with silence
                    self.chunks.append(np.zeros((data.shape[0], at - self.expected), np.float32))
                    self.expected = at
                self.chunks.append(data.astype(np.float32, copy=False))
                self.expected += data.shape[1]
                self.rate = frame.sample_rate
        self._joined = None

    @property
    def samples(self) -> np.ndarray:
        if self._joined is None:
            self._joined = np.concatenate(self.chunks, axis=1) if self.chunks else np.zeros((1, 0), np.float32)
            self.chunks = [self._joined]
        return self._joined


def _frame_rate(run: _Run) -> Fraction:
    times = [seg.video_ms(p) for seg in run.segments for p in seg.video]
    if len(times) < 2:
        return Fraction(25)
    step = float(np.median(np.diff(np.array(sorted(times)))))
    return Fraction(round(1000 / step * 1000), 1000).limit_denominator(1001) if step > 0 else Fraction(25)


class _Encoder:
    """The re-encoding pass over the run's segments, fed in order: decode, keep the frames in
    ``[start_ms, end_ms)``, encode every output (and the matching audio), pick the thumbnail.
    A batch cut feeds the whole run at once; :class:`LiveCut` feeds each segment as it arrives."""

    def __init__(self, first: _Loaded, start_ms: float, end_ms: float, has_audio: bool, fps: Fraction,
                 outputs: Sequence[CutOutput], thumbnail: Path | None, preset: str, crf: int):
        self.start_ms, self.end_ms, self.fps = start_ms, end_ms, fps
        self.specs, self.thumbnail, self.preset, self.crf = list(outputs), thumbnail, preset, crf
        self.audio = _AudioBuffer() if has_audio else None
        src = first.container.streams.video[0].codec_context
        self.decoder = av.CodecContext.create(src.name, "r")
        self.outs: list[_VideoOut] = []
        self.kept_first: float | None = None
        self.kept_last = 0.0
        self.frames_out = 0
        self.frame_ms = 1000 / float(fps)
        self.middle = (start_ms + end_ms) / 2
        self.thumb_frame: tuple[float, av.VideoFrame] | None = None
        self.audio_cursor = 0  # samples of the audio buffer already encoded
        self.video_done = False  # a segment starting at/after end_ms was reached
        self.last_tb_ms = first.video_tb_ms

    def _encode_audio_until(self, t_ms: float) -> None:
        audio = self.audio
        if audio is None or self.kept_first is None or audio.t0 is None or audio.rate is None:
            return
        samples, rate = audio.samples, audio.rate
        start_idx = int(round((self.kept_first - audio.t0) * rate / 1000))
        stop_idx = min(samples.shape[1], int(round((t_ms - audio.t0) * rate / 1000)))
        lo = max(start_idx + self.audio_cursor, 0)
        if stop_idx <= lo:
            return  # a live cut: the rest of this audio comes with the next segment
        chunk = np.ascontiguousarray(samples[:, lo:stop_idx])
        af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=audio.layout)
        af.sample_rate, af.pts, af.time_base = rate, self.audio_cursor, Fraction(1, rate)
        self.audio_cursor += chunk.shape[1]
        for out in self.outs:
            if out.audio is not None:
                out.container.mux(out.audio.encode(af))

    def _on_frame(self, frame: av.VideoFrame, t: float) -> None:
        if not (self.start_ms - 0.5 <= t < self.end_ms - 0.5):
            return
        if self.kept_first is None:
            self.kept_first = t
            a = self.audio
            self.outs = [_open_output(spec, frame.width, frame.height, self.fps, a.rate if a else None,
                                      a.layout if a else "stereo", self.preset, self.crf) for spec in self.specs]
        self.kept_last = t
        self.frames_out += 1
        if self.thumbnail is not None and (
                self.thumb_frame is None or abs(t - self.middle) < abs(self.thumb_frame[0] - self.middle)):
            self.thumb_frame = (t, frame)
        pts = int(round((t - self.kept_first) * 90))
        for out in self.outs:
            f = _fit_frame(out, frame)
            f.pts, f.time_base = pts, _OUT_CLOCK
            out.container.mux(out.stream.encode(f))
        self._encode_audio_until(t + self.frame_ms)

    def feed(self, seg: _Loaded, add_audio: bool = True) -> None:
        if add_audio and self.audio is not None:
            self.audio.add(seg)
        if self.video_done:
            return
        if seg.video and seg.video_ms(seg.video[0]) >= self.end_ms:
            self.video_done = True
            return
        if seg.video and seg.info.end_ms <= self.start_ms:
            return  # wholly before the cut; every segment starts with a keyframe
        self.last_tb_ms = seg.video_tb_ms
        for packet in seg.video:
            for frame in self.decoder.decode(packet):
                self._on_frame(frame, float(frame.pts) * seg.video_tb_ms)

    def finish(self) -> tuple[int, int, int, bool, list[dict]]:
        for frame in self.decoder.decode(None):
            self._on_frame(frame, float(frame.pts) * self.last_tb_ms)
        if self.kept_first is None:
            raise CutError("no video frame inside the clip span")
        end_ms = self.kept_last + self.frame_ms
        self._encode_audio_until(end_ms)
        for out in self.outs:
            out.container.mux(out.stream.encode(None))
            if out.audio is not None:
                out.container.mux(out.audio.encode(None))
            out.container.close()
        infos = [_finish(out.tmp, Path(out.spec.path)) for out in self.outs]
        if self.thumbnail is not None and self.thumb_frame is not None:
            _write_jpeg(self.thumb_frame[1], self.thumbnail)
        return int(round(self.kept_first)), int(round(end_ms)), self.frames_out, self.audio is not None, infos

    def close(self) -> None:
        """Drop unfinished temporary files (after an error, or a live cut given up)."""
        for out in self.outs:
            if out.tmp.exists():
                try:
                    out.container.close()
                except Exception:  # noqa: BLE001 - already failing; clean up the temp file
                    pass
                out.tmp.unlink(missing_ok=True)


def _reencode(plan: _Plan, outputs: Sequence[CutOutput], thumbnail: Path | None, preset: str,
              crf: int) -> tuple[int, int, int, bool, list[dict]]:
    run = plan.run
    encoder = _Encoder(run.segments[0], plan.start_ms, plan.end_ms, plan.has_audio, _frame_rate(run),
                       outputs, thumbnail, preset, crf)
    try:
        if encoder.audio is not None:  # all the audio first: each frame's audio is there at once
            for seg in run.segments:
                encoder.audio.add(seg)
        for seg in run.segments:
            encoder.feed(seg, add_audio=False)
            if encoder.video_done:
                break
        return encoder.finish()
    finally:
        encoder.close()


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


class LiveCut:
    """A re-encoded cut started while the stream is live, fed the segments as they are written.

    The clip's end is usually still being recorded when its selling point closes; instead of
    waiting for the last segment and then encoding everything, the caller feeds what the store
    has now and again each time it grows, so only the last segment is left when it lands::

        cut = LiveCut(start_ms, end_ms, [CutOutput("clip.mp4")], thumbnail_path="thumb.jpg")
        while not cut.covered:
            cut.feed(store.segments_between(room, start_ms, end_ms))  # only new ones are read
            ...wait...
        result = cut.finish() or cut_clips(store.segments_between(...), start_ms, end_ms, ...)

    It only handles the clean case: consecutive readable segments covering the whole request,
    audio without holes. On anything else it stops, and :meth:`finish` returns None so the caller
    runs :func:`cut_clips` (which shortens or skips with the reason). A clean live cut writes the
    same frames and samples as :func:`cut_clips` would.
    """

    def __init__(self, start_ms: float, end_ms: float, outputs: Sequence[CutOutput], *,
                 thumbnail_path: Path | str | None = None, min_duration_ms: float = 1000.0,
                 preset: str = "veryfast", crf: int = 23):
        self.start_ms, self.end_ms = float(start_ms), float(end_ms)
        self.outputs = list(outputs)
        self.thumbnail = Path(thumbnail_path) if thumbnail_path is not None else None
        self.min_duration_ms, self.preset, self.crf = min_duration_ms, preset, crf
        self.loaded: list[_Loaded] = []
        self.encoder: _Encoder | None = None
        self.failed = ""  # why the live path stopped ("" while it is fine)
        self.has_audio: bool | None = None
        self.audio_cover: list[float] | None = None  # [first, last] ms of gap-free audio so far
        self.busy_s = 0.0  # time spent decoding/encoding (the cut's cost, without the waits)
        self._closed = False

    @property
    def covered(self) -> bool:
        """The fed segments reach the requested end."""
        return bool(self.loaded) and self.loaded[-1].info.end_ms >= self.end_ms - _TOLERANCE_MS

    def feed(self, segments: Sequence[SegmentInfo]) -> None:
        """Encode the segments not fed yet, in order (``segments``: what overlaps the request)."""
        if self.failed:
            return
        t0 = time.perf_counter()
        try:
            last = self.loaded[-1].info.seq if self.loaded else None
            new = [s for s in sorted(segments, key=lambda s: s.seq) if last is None or s.seq > last]
            for info in new:
                if not self._accept(info):
                    return
        except (CutError, av.FFmpegError, ValueError, OSError) as exc:
            self._fail(f"live cut failed: {str(exc)[:160]}")
        finally:
            self.busy_s += time.perf_counter() - t0

    def _accept(self, info: SegmentInfo) -> bool:
        prev = self.loaded[-1].info if self.loaded else None
        if prev is None and info.start_ms > self.start_ms + _TOLERANCE_MS:
            return self._fail("no media at the start")
        if prev is not None and (info.seq != prev.seq + 1 or info.start_ms > prev.end_ms + _TOLERANCE_MS):
            return self._fail("segments not consecutive")
        seg, why = _load(info)
        if seg is None:
            return self._fail(why)
        self.loaded.append(seg)
        if not seg.video:
            return self._fail("a segment without video")
        if self.has_audio is None:
            self.has_audio = bool(seg.audio)
        elif self.has_audio != bool(seg.audio):
            return self._fail("audio comes and goes")
        for a, b in sorted(seg.audio_span(p) for p in seg.audio):
            if self.audio_cover is None:
                self.audio_cover = [a, b]
            elif a > self.audio_cover[1] + _AUDIO_GAP_MS:
                return self._fail("a hole in the audio")
            else:
                self.audio_cover[1] = max(self.audio_cover[1], b)
        if self.encoder is None:  # the frame rate of what is there already (checked again at the end)
            self.encoder = _Encoder(seg, max(self.start_ms, float(seg.info.start_ms)), self.end_ms,
                                    self.has_audio, _frame_rate(_Run(self.loaded)), self.outputs,
                                    self.thumbnail, self.preset, self.crf)
        self.encoder.feed(seg)
        return True

    def _fail(self, why: str) -> bool:
        self.failed = why
        self.abort()
        return False

    def finish(self) -> CutResult | None:
        """The result of a clean live cut, or None: run :func:`cut_clips` instead."""
        t0 = time.perf_counter()
        result = None
        try:
            result = self._finish()
            if result is None and not self.failed:
                self.failed = "not finished"
            if result is None:
                self.abort()
            return result
        finally:
            self.busy_s += time.perf_counter() - t0
            self.close()
            if result is not None:
                result.cost_s = self.busy_s

    def _finish(self) -> CutResult | None:
        if self.failed or self.encoder is None:
            return None
        s = max(self.start_ms, float(self.loaded[0].info.start_ms))
        e = min(self.end_ms, float(self.loaded[-1].info.end_ms))
        if e < self.end_ms - _TOLERANCE_MS:
            self.failed = "the segments do not reach the end (yet)"
            return None
        if self.has_audio and (self.audio_cover is None or self.audio_cover[0] > s + _TOLERANCE_MS
                               or self.audio_cover[1] < e - _TOLERANCE_MS):
            self.failed = "the audio does not cover the clip"
            return None
        if e - s < self.min_duration_ms or _frame_rate(_Run(self.loaded)) != self.encoder.fps:
            self.failed = "too short, or the frame rate changed"
            return None
        try:
            s_out, e_out, frames, audio_ok, _infos = self.encoder.finish()
        except (CutError, av.FFmpegError, ValueError, OSError) as exc:
            self.failed = f"live cut failed: {str(exc)[:160]}"
            return None
        return CutResult("ready", s_out, e_out, e_out - s_out, frames, audio_ok,
                         "" if audio_ok else "no audio in the source", int(self.start_ms), int(self.end_ms),
                         "reencode", [Path(o.path) for o in self.outputs],
                         self.thumbnail if self.thumbnail is not None and self.thumbnail.exists() else None)

    def abort(self) -> None:
        """Drop temporary files and close the segments (safe to call more than once)."""
        if self.encoder is not None:
            self.encoder.close()
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for seg in self.loaded:
                seg.container.close()
