"""Media ingest: one decode pass over a file or live URL → audio chunks, sampled frames, segments.

:class:`MediaIngest` opens ``source`` with PyAV (a file path, ``rtmp://``, ``http(s)://`` HLS/FLV,
``srt://``, ``rtsp://`` …), decodes audio and video once, and from that single pass produces:

* :class:`~streams.schemas.AudioChunk` — 16 kHz mono PCM16 (s16le), exactly ``audio_chunk_ms``
  each (only the last may be shorter), ``seq`` 0, 1, 2 …, ``stream_ms`` = chunk start;
* :class:`~streams.schemas.VideoFrame` — JPEG, downscaled to ``frame_width`` (aspect kept, never
  upscaled), the first frame at or after each ``1/frame_fps`` tick of presentation time;
* :class:`~streams.schemas.SegmentRef` — after each rolling segment (H.264 + AAC in MPEG-TS, a
  forced keyframe first, ~``segment_s`` long) is committed to the :class:`SegmentStore`.

Stream time is the media's presentation time relative to its start (the earliest stream
``start_time``, else the first decoded frame). Segments keep stream time as their internal
timestamps, so consecutive segments concatenate into one continuous stream.

Audio gaps (dropped packets, a stalled live feed) up to ``max_gap_fill_ms`` are filled with
silence so chunk times stay aligned with video; longer gaps restart the chunk clock at the new
timestamp (and are reported as errors). Decode errors on a packet are recorded in
:attr:`MediaIngest.errors` as ``(stream_ms, reason)`` (and passed to ``on_error``) and ingest
continues; a source that cannot be opened raises :class:`MediaOpenError`.

Why a thread: decoding and H.264 encoding are CPU-bound C calls (~tens of ms per 720p frame).
Run on the event loop they would block every other coroutine of the process — the Kafka
producer's sends, heartbeats and acks — for the whole time. ``async for event in ingest`` runs the
synchronous :meth:`MediaIngest.events` in a dedicated thread that hands events over through a
bounded ``asyncio.Queue``: the loop stays responsive, and a slow consumer back-pressures the
decoder instead of letting memory grow.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple, Union
from urllib.parse import urlparse

import av
import cv2
from av.video.frame import PictureType

from streams.ingest.pacing import Pacer, release_ms
from streams.schemas import AudioChunk, SegmentRef, VideoFrame
from media.segment_store import SegmentInfo, SegmentStore, SegmentWriter

log = logging.getLogger(__name__)

MediaEvent = Union[AudioChunk, VideoFrame, SegmentRef]

PCM_RATE = 16_000
PCM_BYTES_PER_MS = PCM_RATE * 2 // 1000  # s16 mono: 32 bytes per ms
_TS_CLOCK = Fraction(1, 90_000)  # MPEG-TS native time base for the video encoder
_AAC_RATES = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000}
_NETWORK_SCHEMES = {"rtmp", "rtmps", "rtsp", "rtsps", "srt", "http", "https", "tcp", "udp", "rtp"}


class MediaOpenError(RuntimeError):
    """The source could not be opened, or has neither audio nor video."""


class MediaError(NamedTuple):
    stream_ms: int
    reason: str


@dataclass
class MediaStats:
    audio_chunks: int = 0
    audio_ms: int = 0
    frames: int = 0  # JPEG frames emitted
    video_frames_decoded: int = 0
    segments: int = 0
    decode_errors: int = 0
    silence_filled_ms: int = 0
    last_stream_ms: int = 0


def _is_network(source: str) -> bool:
    return "://" in source and urlparse(source).scheme.lower() in _NETWORK_SCHEMES


def _open_options(source: str) -> dict[str, str]:
    """Demuxer/protocol options. (Not ``timeout`` for rtmp: there it means *listen* mode.)"""
    scheme = urlparse(source).scheme.lower() if "://" in source else ""
    options: dict[str, str] = {}
    if scheme in ("http", "https"):
        options.update(reconnect="1", reconnect_streamed="1", reconnect_delay_max="5")
    if scheme in ("rtsp", "rtsps"):
        options["rtsp_transport"] = "tcp"
    return options


class _NullSink(io.RawIOBase):
    """Byte sink for the template container that only exists to own the encoders."""

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        return len(b)


@dataclass
class _Segment:
    seq: int
    start_ms: float
    writer: SegmentWriter
    container: av.container.OutputContainer
    video_stream: av.stream.Stream | None
    audio_stream: av.stream.Stream | None
    end_ms: float | None = None  # set when the next segment starts
    max_end_ms: float = 0.0
    video_packets: int = 0
    audio_packets: int = 0


class _Segmenter:
    """Encodes once (H.264 + AAC) and splits the packets into per-segment MPEG-TS files.

    The encoders are persistent, so timestamps and audio continue seamlessly across segments;
    a keyframe is forced on the first video frame at or after each ``segment_ms`` grid line and
    a new segment starts at that keyframe. Audio packets are routed by timestamp; audio that
    runs ahead of the video cut is held until the cut. Without video, segments cut on audio.
    """

    def __init__(self, store: SegmentStore, room_id: str, segment_ms: float,
                 video_in: av.stream.Stream | None, audio_in: av.stream.Stream | None,
                 max_height: int, preset: str):
        self.store, self.room_id, self.segment_ms = store, room_id, segment_ms
        self.master = av.open(_NullSink(), "w", format="mpegts")
        self.v_enc = self.a_enc = None
        if video_in is not None:
            ctx = video_in.codec_context
            w, h = ctx.width or 640, ctx.height or 360
            if h > max_height:
                w, h = w * max_height / h, max_height
            self.width, self.height = max(2, int(w) // 2 * 2), max(2, int(h) // 2 * 2)
            rate = video_in.average_rate or video_in.guessed_rate or 25
            self.v_enc = self.master.add_stream("libx264", rate=rate)
            self.v_enc.width, self.v_enc.height, self.v_enc.pix_fmt = self.width, self.height, "yuv420p"
            self.v_enc.codec_context.time_base = _TS_CLOCK
            # zerolatency: no B-frames/lookahead, so a packet leaves per frame and the forced
            # keyframe arrives exactly when we cut; forced-idr makes it a real IDR.
            self.v_enc.options = {"preset": preset, "tune": "zerolatency", "forced-idr": "1", "crf": "23"}
        if audio_in is not None:
            src = audio_in.codec_context
            rate = src.sample_rate if src.sample_rate in _AAC_RATES else 48_000
            layout = "mono" if src.channels == 1 else "stereo"
            self.a_enc = self.master.add_stream("aac", rate=rate, layout=layout)
        self.master.start_encoding()  # opens the encoders, fills the templates' codec parameters
        self.segments: list[_Segment] = []  # open segments, oldest first
        self.next_seq = 0
        self.next_cut_ms = 0.0  # grid line the next video cut waits for
        self.cut_requested = False
        self.held_audio: list[tuple[float, av.Packet]] = []
        self.audio_out_ms = -1.0
        self.video_done = video_in is None
        self.last_video_pts = -1
        self.dropped_video_packets = 0

    # -- inputs ------------------------------------------------------------------------------

    def video_frame(self, frame: av.VideoFrame, t_ms: float) -> list[SegmentInfo]:
        out = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        pts = int(round(t_ms * 90))
        if pts <= self.last_video_pts:
            raise ValueError("non-increasing video timestamp")
        self.last_video_pts = pts
        out.pts, out.time_base = pts, _TS_CLOCK
        if t_ms >= self.next_cut_ms and not self.cut_requested:
            out.pict_type = PictureType.I
            self.cut_requested = True
        else:
            out.pict_type = PictureType.NONE  # don't inherit the source's I-frames
        return self._video_packets(self.v_enc.encode(out))

    def audio_frame(self, frame: av.AudioFrame) -> list[SegmentInfo]:
        return self._audio_packets(self.a_enc.encode(frame))

    def finish(self) -> list[SegmentInfo]:
        done: list[SegmentInfo] = []
        if self.v_enc is not None:
            done += self._video_packets(self.v_enc.encode(None))
        self.video_done = True
        if self.a_enc is not None:
            done += self._audio_packets(self.a_enc.encode(None))
        if self.held_audio:  # audio outlived the video: it gets its own segment(s)
            held, self.held_audio = self.held_audio, []
            self._open(held[0][0])
            for t, p in held:
                self._route_audio(t, p)
        while self.segments:
            done.append(self._close(self.segments[0]))
        self.master.close()
        return done

    def abort(self) -> None:
        for seg in self.segments:
            try:
                seg.container.close()
            except Exception:  # noqa: BLE001 - best effort on the error path
                pass
            seg.writer.abort()
        self.segments.clear()

    # -- packet routing ----------------------------------------------------------------------

    def _grid_after(self, t_ms: float) -> float:
        return (int(max(0.0, t_ms) // self.segment_ms) + 1) * self.segment_ms

    def _video_packets(self, packets: list[av.Packet]) -> list[SegmentInfo]:
        done: list[SegmentInfo] = []
        for p in packets:
            t = float(p.pts * p.time_base * 1000)
            if self.cut_requested and p.is_keyframe and t >= self.next_cut_ms:
                self.cut_requested = False
                # the first segment also covers audio that started before the first picture
                self._open(t if self.segments else min([t] + [ht for ht, _ in self.held_audio]))
                self.next_cut_ms = self._grid_after(t)
                held, self.held_audio = self.held_audio, []
                for ht, hp in held:
                    done += self._audio_packet(ht, hp)
            seg = self._segment_for(t)
            if seg is None or (seg.video_packets == 0 and not p.is_keyframe):
                self.dropped_video_packets += 1  # a segment's video must start with a keyframe
                continue
            p.stream = seg.video_stream
            seg.container.mux(p)
            seg.video_packets += 1
            seg.max_end_ms = max(seg.max_end_ms, t + float((p.duration or 0) * p.time_base * 1000))
        return done

    def _audio_packets(self, packets: list[av.Packet]) -> list[SegmentInfo]:
        done: list[SegmentInfo] = []
        for p in packets:
            t = float(p.pts * p.time_base * 1000)
            if t + float((p.duration or 0) * p.time_base * 1000) <= 0:
                # AAC priming before stream time 0: the TS muxer would shift the whole first
                # segment by it, breaking "timestamps inside a segment are stream time"
                continue
            done += self._audio_packet(t, p)
        return done

    def _audio_packet(self, t: float, p: av.Packet) -> list[SegmentInfo]:
        if self.v_enc is None:
            if not self.segments or t >= self.next_cut_ms:
                self._open(t)
                self.next_cut_ms = self._grid_after(t)
        elif not self.video_done and (t >= self.next_cut_ms or not self.segments):
            self.held_audio.append((t, p))  # wait for the video cut it belongs after
            if t - self.next_cut_ms < 2 * self.segment_ms:
                return []
            # video stalled for two segments: cut on audio; the video resumes with a keyframe
            held, self.held_audio = self.held_audio, []
            self._open(held[0][0])
            self.next_cut_ms = self._grid_after(held[-1][0])
            self.cut_requested = False
            for ht, hp in held:
                self._route_audio(ht, hp)
            return self._close_passed()
        self._route_audio(t, p)
        return self._close_passed()

    def _route_audio(self, t: float, p: av.Packet) -> None:
        seg = self._segment_for(t) or self.segments[0]
        p.stream = seg.audio_stream
        seg.container.mux(p)
        seg.audio_packets += 1
        seg.max_end_ms = max(seg.max_end_ms, t + float((p.duration or 0) * p.time_base * 1000))
        self.audio_out_ms = max(self.audio_out_ms, t)

    def _segment_for(self, t: float) -> _Segment | None:
        for seg in reversed(self.segments):
            if t >= seg.start_ms:
                return seg
        return self.segments[0] if self.segments else None  # early packets join the first

    def _open(self, start_ms: float) -> None:
        start_ms = max(0.0, start_ms)  # AAC priming packets carry slightly negative times
        if self.segments and self.segments[-1].end_ms is None:
            self.segments[-1].end_ms = start_ms
        seq = self.next_seq
        self.next_seq += 1
        writer = self.store.open_writer(self.room_id, seq, int(start_ms))
        container = av.open(str(writer.path), "w", format="mpegts")
        v = container.add_stream_from_template(self.v_enc) if self.v_enc is not None else None
        a = container.add_stream_from_template(self.a_enc) if self.a_enc is not None else None
        self.segments.append(_Segment(seq, start_ms, writer, container, v, a, max_end_ms=start_ms))

    def _close_passed(self) -> list[SegmentInfo]:
        """Close older segments whose end the audio output has passed."""
        done = []
        while len(self.segments) > 1 and self.segments[0].end_ms is not None and (
            self.a_enc is None or self.audio_out_ms >= self.segments[0].end_ms
        ):
            done.append(self._close(self.segments[0]))
        return done

    def _close(self, seg: _Segment) -> SegmentInfo:
        self.segments.remove(seg)
        seg.container.close()
        end = seg.end_ms if seg.end_ms is not None else seg.max_end_ms
        return seg.writer.commit(max(1, int(round(end - seg.start_ms))),
                                 has_audio=seg.audio_packets > 0, has_video=seg.video_packets > 0)


class MediaIngest:
    """Decode ``source`` once into audio chunks, sampled JPEG frames and rolling segments.

    Use ``for ev in ingest.events()`` (blocking, on the calling thread) or
    ``async for ev in ingest`` (decoding in a worker thread). ``errors`` collects
    ``(stream_ms, reason)`` for every decode problem; ``stats`` the counters.
    """

    def __init__(
        self,
        source: str,
        room_id: str,
        store: SegmentStore,
        audio_chunk_ms: int = 250,
        frame_fps: float = 1.0,
        frame_width: int = 320,
        segment_s: float = 2.0,
        realtime: bool = True,
        speed: float = 1.0,
        *,
        on_error: Callable[[MediaError], None] | None = None,
        segment_max_height: int = 720,
        video_preset: str = "ultrafast",  # veryfast: ~30% smaller, but ~3x slower (720p30 < real time on 2 busy cores)
        jpeg_quality: int = 80,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        max_gap_fill_ms: int = 10_000,
        prune: bool = True,
        queue_size: int = 64,
    ):
        if audio_chunk_ms <= 0 or frame_fps <= 0 or frame_width <= 0 or segment_s <= 0:
            raise ValueError("audio_chunk_ms, frame_fps, frame_width and segment_s must be positive")
        self.source, self.room_id, self.store = str(source), room_id, store
        self.audio_chunk_ms, self.frame_fps, self.frame_width = int(audio_chunk_ms), frame_fps, frame_width
        self.segment_ms = segment_s * 1000.0
        self.pacer = Pacer(realtime, speed)
        self.on_error = on_error
        self.segment_max_height, self.video_preset = segment_max_height, video_preset
        self.jpeg_quality = jpeg_quality
        self.open_timeout_s, self.read_timeout_s = open_timeout_s, read_timeout_s
        self.max_gap_fill_ms, self.prune, self.queue_size = max_gap_fill_ms, prune, queue_size
        self.errors: list[MediaError] = []
        self.stats = MediaStats()
        self.has_audio = self.has_video = False
        self._stop = threading.Event()
        self._container: av.container.InputContainer | None = None

    def stop(self) -> None:
        """Ask a running :meth:`events` loop to finish (closes the current segment)."""
        self._stop.set()

    # -- errors ------------------------------------------------------------------------------

    def _error(self, stream_ms: float, reason: str) -> None:
        err = MediaError(max(0, int(stream_ms)), reason[:300])
        self.errors.append(err)
        self.stats.decode_errors += 1
        if self.on_error is not None:
            self.on_error(err)

    # -- opening -----------------------------------------------------------------------------

    def open(self) -> None:
        """Open the source now (blocking; raises :class:`MediaOpenError`) instead of on first read."""
        if self._container is None:
            self._container = self._open()

    def _open(self) -> av.container.InputContainer:
        try:
            return av.open(
                self.source, "r", options=_open_options(self.source),
                timeout=(self.open_timeout_s, self.read_timeout_s) if _is_network(self.source) else None,
            )
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise MediaOpenError(f"cannot open media source {self.source!r}: {exc}") from exc

    # -- the decode pass ---------------------------------------------------------------------

    def events(self) -> Iterator[MediaEvent]:
        """Blocking generator of events, paced by ``realtime``/``speed``. Raises MediaOpenError."""
        container, self._container = self._container or self._open(), None
        segmenter: _Segmenter | None = None
        try:
            video_in = container.streams.video[0] if container.streams.video else None
            audio_in = container.streams.audio[0] if container.streams.audio else None
            if video_in is None and audio_in is None:
                raise MediaOpenError(f"media source {self.source!r} has neither audio nor video")
            self.has_audio, self.has_video = audio_in is not None, video_in is not None
            if video_in is not None:
                video_in.thread_type = "AUTO"  # frame threads: decoding keeps up on 2 cores
            try:
                segmenter = _Segmenter(self.store, self.room_id, self.segment_ms, video_in, audio_in,
                                       self.segment_max_height, self.video_preset)
            except (av.FFmpegError, ValueError) as exc:
                raise MediaOpenError(f"cannot set up encoders for {self.source!r}: {exc}") from exc
            starts = [float(s.start_time * s.time_base) for s in (video_in, audio_in)
                      if s is not None and s.start_time is not None]
            state = _DecodeState(origin_s=min(starts) if starts else None)
            for event in self._decode(container, video_in, audio_in, segmenter, state):
                self.pacer.wait_sync(release_ms(event))
                yield event
            for info in segmenter.finish():
                yield self._segment_event(info)
            segmenter = None
            for chunk in self._flush_audio(state):
                self.pacer.wait_sync(release_ms(chunk))
                yield chunk
        finally:
            if segmenter is not None:  # stopped early or failed: drop half-written segments
                segmenter.abort()
            container.close()

    def _decode(self, container, video_in, audio_in, segmenter: _Segmenter,
                state: "_DecodeState") -> Iterator[MediaEvent]:
        selected = [s for s in (video_in, audio_in) if s is not None]
        demuxer = container.demux(selected)
        consecutive_failures = 0
        while not self._stop.is_set():
            try:
                packet = next(demuxer)
            except StopIteration:
                return
            except av.FFmpegError as exc:  # a read error: retry a few times, then give up
                consecutive_failures += 1
                self._error(state.last_ms, f"demux: {exc}")
                if consecutive_failures >= 20 or isinstance(exc, av.ExitError):
                    return
                demuxer = container.demux(selected)
                continue
            consecutive_failures = 0
            kind = "video" if packet.stream is video_in else "audio"
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError) as exc:
                self._error(self._packet_ms(packet, state), f"{kind} decode: {exc}")
                continue
            for frame in frames:
                if kind == "video":
                    yield from self._on_video(frame, segmenter, state)
                else:
                    yield from self._on_audio(frame, segmenter, state)

    def _packet_ms(self, packet: av.Packet, state: "_DecodeState") -> float:
        if packet.pts is None or packet.time_base is None:
            return state.last_ms
        return float(packet.pts * packet.time_base) * 1000 - (state.origin_s or 0) * 1000

    def _frame_ms(self, frame: av.Frame, state: "_DecodeState", fallback_ms: float) -> float:
        if frame.time is None:
            return fallback_ms
        if state.origin_s is None:
            state.origin_s = float(frame.time)
        return max(0.0, (float(frame.time) - state.origin_s) * 1000)

    # -- video -------------------------------------------------------------------------------

    def _on_video(self, frame: av.VideoFrame, segmenter: _Segmenter,
                  state: "_DecodeState") -> Iterator[MediaEvent]:
        t = self._frame_ms(frame, state, state.last_video_ms + 40)
        state.last_video_ms = t
        state.last_ms = max(state.last_ms, t)
        self.stats.video_frames_decoded += 1
        self.stats.last_stream_ms = int(state.last_ms)
        if frame.is_corrupt:
            self._error(t, "video frame decoded with errors (concealed)")
        if t >= state.next_frame_ms:
            state.next_frame_ms = (int(t * self.frame_fps / 1000) + 1) * 1000 / self.frame_fps
            try:
                yield self._jpeg_event(frame, t, state)
            except (ValueError, av.FFmpegError, cv2.error) as exc:
                self._error(t, f"frame jpeg: {exc}")
        try:
            infos = segmenter.video_frame(frame, t)
        except (ValueError, av.FFmpegError) as exc:
            self._error(t, f"video encode: {exc}")
            return
        for info in infos:
            yield self._segment_event(info)

    def _jpeg_event(self, frame: av.VideoFrame, t: float, state: "_DecodeState") -> VideoFrame:
        src_w, src_h = frame.width, frame.height
        width = min(self.frame_width, src_w)
        height = max(1, int(round(src_h * width / src_w)))
        bgr = frame.reformat(width=width, height=height, format="bgr24").to_ndarray()
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        event = VideoFrame(room_id=self.room_id, stream_ms=int(t), seq=state.frame_seq,
                           width=width, height=height, jpeg=jpeg.tobytes())
        state.frame_seq += 1
        self.stats.frames += 1
        return event

    # -- audio -------------------------------------------------------------------------------

    def _on_audio(self, frame: av.AudioFrame, segmenter: _Segmenter,
                  state: "_DecodeState") -> Iterator[MediaEvent]:
        t = self._frame_ms(frame, state, state.audio_in_ms if state.audio_in_ms is not None else 0.0)
        state.last_ms = max(state.last_ms, t)
        self.stats.last_stream_ms = int(state.last_ms)
        if frame.is_corrupt:
            self._error(t, "audio frame decoded with errors")
        if state.audio_in_ms is None:  # first audio: the chunk clock starts here
            state.audio_in_ms = state.next_chunk_ms = t
            state.enc_pts = int(round(t * frame.sample_rate / 1000))
        gap = t - state.audio_in_ms
        frames = [frame]
        if 50 < gap <= self.max_gap_fill_ms:  # dropped audio: keep chunks aligned with silence
            frames.insert(0, _silence_like(frame, int(gap * frame.sample_rate / 1000)))
            self.stats.silence_filled_ms += int(gap)
        elif gap > self.max_gap_fill_ms:
            self._error(t, f"audio gap of {gap:.0f} ms: chunk clock restarted")
            yield from self._flush_audio(state, pad_to_chunk=True)
            state.next_chunk_ms = t
        elif gap < -200:
            self._error(t, f"audio timestamp went back {-gap:.0f} ms: frame dropped")
            return
        for f in frames:
            state.audio_in_ms += f.samples * 1000 / f.sample_rate
            # The segment encoder reads the frame first: converting a PCM frame (WAV, s16) for AAC
            # after the ASR resampler below has read it fails in PyAV ("Invalid argument"), which
            # left 16 kHz WAV input without any segment. Its timeline is contiguous samples (a
            # gap > max_gap_fill_ms shifts it; rare).
            f.pts, f.time_base = state.enc_pts, Fraction(1, f.sample_rate)
            state.enc_pts += f.samples
            try:
                infos = segmenter.audio_frame(f)
            except (ValueError, av.FFmpegError) as exc:
                self._error(t, f"audio encode: {exc}")
                infos = []
            f.pts = None  # the resampler must not second-guess our timeline
            try:
                state.pcm += b"".join(bytes(o.planes[0])[: o.samples * 2]
                                      for o in state.resampler.resample(f))
            except (ValueError, av.FFmpegError) as exc:
                self._error(t, f"audio resample: {exc}")
                state.resampler = av.AudioResampler(format="s16", layout="mono", rate=PCM_RATE)
            for info in infos:
                yield self._segment_event(info)
        if gap > self.max_gap_fill_ms:
            state.audio_in_ms = t + frame.samples * 1000 / frame.sample_rate
        yield from self._emit_chunks(state)

    def _emit_chunks(self, state: "_DecodeState", final: bool = False) -> Iterator[AudioChunk]:
        size = self.audio_chunk_ms * PCM_BYTES_PER_MS
        while len(state.pcm) >= size or (final and state.pcm):
            pcm = bytes(state.pcm[:size])
            del state.pcm[:size]
            if len(pcm) % PCM_BYTES_PER_MS:  # last chunk: pad to a whole millisecond
                pcm += bytes(PCM_BYTES_PER_MS - len(pcm) % PCM_BYTES_PER_MS)
            duration = len(pcm) // PCM_BYTES_PER_MS
            yield AudioChunk(room_id=self.room_id, stream_ms=int(round(state.next_chunk_ms)),
                             seq=state.chunk_seq, duration_ms=duration, pcm=pcm)
            state.chunk_seq += 1
            state.next_chunk_ms += duration
            self.stats.audio_chunks += 1
            self.stats.audio_ms += duration

    def _flush_audio(self, state: "_DecodeState", pad_to_chunk: bool = False) -> Iterator[AudioChunk]:
        if pad_to_chunk:
            size = self.audio_chunk_ms * PCM_BYTES_PER_MS
            if state.pcm:
                state.pcm += bytes(-len(state.pcm) % size)
            yield from self._emit_chunks(state)
            return
        if state.audio_in_ms is None:
            return
        for o in state.resampler.resample(None):
            state.pcm += bytes(o.planes[0])[: o.samples * 2]
        yield from self._emit_chunks(state, final=True)

    def _segment_event(self, info: SegmentInfo) -> SegmentRef:
        self.stats.segments += 1
        if self.prune:
            self.store.prune(self.room_id, info.end_ms)
        return SegmentRef(room_id=self.room_id, stream_ms=info.start_ms, seq=info.seq,
                          duration_ms=info.duration_ms, uri=info.uri,
                          has_audio=info.has_audio, has_video=info.has_video)

    # -- async API ---------------------------------------------------------------------------

    async def __aiter__(self) -> AsyncIterator[MediaEvent]:
        """Run :meth:`events` in a worker thread; hand events over via a bounded queue."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.queue_size)
        done = object()

        def produce() -> None:
            item: object = done
            try:
                for event in self.events():
                    asyncio.run_coroutine_threadsafe(queue.put(event), loop).result()
                    if self._stop.is_set():
                        break
            except BaseException as exc:  # noqa: BLE001 - re-raised on the consumer side
                item = exc
            try:
                asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
            except RuntimeError:
                pass  # the loop is gone; nobody is listening

        thread = threading.Thread(target=produce, name=f"media-ingest-{self.room_id}", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stop()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                while not queue.empty():
                    queue.get_nowait()
                await asyncio.sleep(0.005)


@dataclass
class _DecodeState:
    origin_s: float | None
    last_ms: float = 0.0
    last_video_ms: float = -40.0
    next_frame_ms: float = 0.0
    frame_seq: int = 0
    audio_in_ms: float | None = None  # stream time up to which audio was fed
    next_chunk_ms: float = 0.0
    chunk_seq: int = 0
    enc_pts: int = 0
    pcm: bytearray = None  # type: ignore[assignment]
    resampler: av.AudioResampler = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.pcm = bytearray()
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=PCM_RATE)


def _silence_like(frame: av.AudioFrame, samples: int) -> av.AudioFrame:
    """A silent frame in ``frame``'s format, layout and rate."""
    silent = av.AudioFrame(format=frame.format.name, layout=frame.layout.name, samples=max(1, samples))
    silent.sample_rate = frame.sample_rate
    for plane in silent.planes:
        plane.update(bytes(plane.buffer_size))
    return silent
