"""The segment store: rolling media segments per room, found by stream time.

Ingest writes each room's media as short segments (a few seconds; MPEG-TS, H.264 + AAC, a
keyframe first, so every segment decodes on its own and consecutive segments concatenate
byte-for-byte into one playable stream). Only small ``SegmentRef`` events travel on Kafka; the
clipper (another process) reads the files from here.

Layout of :class:`LocalSegmentStore`::

    <root>/<room_id>/000000.ts      segment seq 0 (timestamps inside are stream time)
    <root>/<room_id>/000001.ts
    <root>/<room_id>/index.jsonl    one JSON line per finished segment:
        {"seq": 1, "start_ms": 2000, "duration_ms": 2000, "file": "000001.ts",
         "has_audio": true, "has_video": true, "written_at": 1767225600.1}

Concurrency contract: ONE writer per room (its ingest process) and any number of readers in
other processes. A segment is written to ``<seq>.ts.part`` and renamed when complete, and only
then is its index line appended (one ``write`` of a whole line), so a reader never sees an index
line for a half-written file. Readers skip a torn last line. :meth:`LocalSegmentStore.prune`
rewrites the index atomically (temp file + ``os.replace``) *before* deleting files; a reader that
read the old index just before may still get ``FileNotFoundError`` for a pruned segment and
should treat that segment as expired.

:class:`S3SegmentStore` (``settings.segment_store = "s3://bucket/prefix"``, optional extra ``s3``:
boto3) keeps the segments in an S3-compatible bucket for a cluster: the writer muxes into a local
file, then uploads it as ``<prefix>/<room_id>/<seq>.ts`` and only then puts the index record
``<prefix>/<room_id>/index/<seq>.json`` (S3 has no append: one small object per segment). Readers
list the index objects (fetching each record once) and download a segment into a local cache
when a cut asks for it (:meth:`~SegmentStore.segments_between`). Endpoint and credentials come
from boto3's usual environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...), so any
S3-compatible server works. Retention: :meth:`S3SegmentStore.prune` (index records first), or a
bucket lifecycle rule.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: Same alphabet as ``schemas.RoomId``; "." and ".." are refused separately (path traversal).
_ROOM_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
INDEX_NAME = "index.jsonl"
SEGMENT_SUFFIX = ".ts"


def check_room_id(room_id: str) -> str:
    """Return ``room_id`` if it is safe as one folder name, else raise ``ValueError``."""
    if not isinstance(room_id, str) or not _ROOM_ID_RE.match(room_id) or room_id in (".", ".."):
        raise ValueError(f"invalid room_id for the segment store: {room_id!r}")
    return room_id


@dataclass(frozen=True)
class SegmentInfo:
    """One finished segment. Times are stream time (ms since the room's stream start)."""

    seq: int
    start_ms: int
    duration_ms: int
    path: Path
    has_audio: bool = True
    has_video: bool = True
    written_at: float = 0.0

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms

    @property
    def uri(self) -> str:
        return self.path.resolve().as_uri()


@dataclass
class SegmentWriter:
    """A segment being written: mux into :attr:`path`, then :meth:`commit` (or :meth:`abort`)."""

    store: "LocalSegmentStore | S3SegmentStore"
    room_id: str
    seq: int
    start_ms: int
    path: Path  # the temporary ``.part`` file to write
    final_path: Path
    done: bool = field(default=False, init=False)

    def commit(self, duration_ms: int, has_audio: bool = True, has_video: bool = True) -> SegmentInfo:
        """Make the segment visible: rename it into place and append its index line."""
        if self.done:
            raise RuntimeError(f"segment {self.room_id}/{self.seq} already finished")
        self.done = True
        os.replace(self.path, self.final_path)
        info = SegmentInfo(self.seq, self.start_ms, max(1, int(duration_ms)), self.final_path,
                           has_audio, has_video, time.time())
        self.store._append_index(self.room_id, info)
        return info

    def abort(self) -> None:
        """Drop a segment that could not be completed."""
        self.done = True
        self.path.unlink(missing_ok=True)


class SegmentStore(ABC):
    """Where rolling segments live. Implementations: :class:`LocalSegmentStore`, :class:`S3SegmentStore`."""

    retention_s: float

    @abstractmethod
    def path_for(self, room_id: str, seq: int) -> Path:
        """The final path of segment ``seq`` of ``room_id``."""

    @abstractmethod
    def open_writer(self, room_id: str, seq: int, start_ms: int) -> SegmentWriter:
        """Start a segment; the caller writes ``writer.path`` and then commits it."""

    def write(self, room_id: str, seq: int, start_ms: int, duration_ms: int, data: bytes,
              has_audio: bool = True, has_video: bool = True) -> SegmentInfo:
        """Store an already-encoded segment given as bytes."""
        writer = self.open_writer(room_id, seq, start_ms)
        try:
            writer.path.write_bytes(data)
        except BaseException:
            writer.abort()
            raise
        return writer.commit(duration_ms, has_audio, has_video)

    @abstractmethod
    def list_segments(self, room_id: str) -> list[SegmentInfo]:
        """Finished, unpruned segments of a room, ordered by ``seq``."""

    def segments_between(self, room_id: str, start_ms: int, end_ms: int) -> list[SegmentInfo]:
        """Segments overlapping the stream-time span ``[start_ms, end_ms)``, in order."""
        return [s for s in self.list_segments(room_id) if s.start_ms < end_ms and s.end_ms > start_ms]

    @abstractmethod
    def prune(self, room_id: str, now_ms: int) -> list[SegmentInfo]:
        """Delete segments that ended more than ``retention_s`` before stream time ``now_ms``."""


class LocalSegmentStore(SegmentStore):
    """Segments in a local (or network-mounted) folder; see the module docstring for the layout."""

    def __init__(self, root: Path | str, retention_s: float = 1800.0):
        if retention_s <= 0:
            raise ValueError("retention_s must be positive")
        self.root = Path(root)
        self.retention_s = float(retention_s)
        self._lock = threading.Lock()  # one process may write several rooms from threads

    def room_dir(self, room_id: str) -> Path:
        return self.root / check_room_id(room_id)

    def index_path(self, room_id: str) -> Path:
        return self.room_dir(room_id) / INDEX_NAME

    def path_for(self, room_id: str, seq: int) -> Path:
        if seq < 0:
            raise ValueError("seq must be >= 0")
        return self.room_dir(room_id) / f"{seq:06d}{SEGMENT_SUFFIX}"

    def open_writer(self, room_id: str, seq: int, start_ms: int) -> SegmentWriter:
        final = self.path_for(room_id, seq)
        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_name(final.name + ".part")
        return SegmentWriter(self, room_id, seq, int(start_ms), part, final)

    def _append_index(self, room_id: str, info: SegmentInfo) -> None:
        record = {k: v for k, v in asdict(info).items() if k != "path"}
        record["file"] = info.path.name
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            # O_APPEND + one write: a concurrent reader sees whole lines (or a torn last one).
            fd = os.open(self.index_path(room_id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def list_segments(self, room_id: str) -> list[SegmentInfo]:
        index = self.index_path(room_id)
        try:
            raw = index.read_bytes()
        except FileNotFoundError:
            return []
        by_seq: dict[int, SegmentInfo] = {}
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                info = SegmentInfo(
                    seq=int(rec["seq"]), start_ms=int(rec["start_ms"]),
                    duration_ms=int(rec["duration_ms"]), path=index.parent / Path(rec["file"]).name,
                    has_audio=bool(rec.get("has_audio", True)), has_video=bool(rec.get("has_video", True)),
                    written_at=float(rec.get("written_at", 0.0)),
                )
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line while the writer appends, or a damaged line
            by_seq[info.seq] = info  # a re-written seq (restarted ingest) replaces the old one
        return [by_seq[k] for k in sorted(by_seq)]

    def prune(self, room_id: str, now_ms: int) -> list[SegmentInfo]:
        cutoff = int(now_ms - self.retention_s * 1000)
        with self._lock:
            segments = self.list_segments(room_id)
            expired = [s for s in segments if s.end_ms <= cutoff]
            if not expired:
                return []
            kept = [s for s in segments if s.end_ms > cutoff]
            index = self.index_path(room_id)
            tmp = index.with_name(index.name + ".tmp")
            lines = []
            for s in kept:
                rec = {k: v for k, v in asdict(s).items() if k != "path"}
                rec["file"] = s.path.name
                lines.append(json.dumps(rec, separators=(",", ":")) + "\n")
            tmp.write_text("".join(lines), encoding="utf-8")
            os.replace(tmp, index)  # readers see the old or the new index, never half of one
        for s in expired:
            s.path.unlink(missing_ok=True)
        return expired

    def rooms(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / INDEX_NAME).exists())


class S3SegmentStore(SegmentStore):
    """Segments in an S3-compatible bucket; see the module docstring for the layout."""

    def __init__(self, bucket: str, prefix: str = "", retention_s: float = 1800.0,
                 cache_dir: Path | str | None = None, client=None):
        if retention_s <= 0:
            raise ValueError("retention_s must be positive")
        if client is None:
            try:
                import boto3
            except ImportError as exc:  # the optional extra
                raise RuntimeError("s3:// segment stores need boto3: pip install 'livelens[s3]'") from exc
            client = boto3.client("s3")
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.retention_s = float(retention_s)
        import tempfile

        self.cache = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "livelens-s3-segments" / bucket
        self._records: dict[str, dict[int, SegmentInfo]] = {}  # room -> seq -> info (index records read once)
        self._lock = threading.Lock()

    def _key(self, room_id: str, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, check_room_id(room_id), *parts) if p)

    def path_for(self, room_id: str, seq: int) -> Path:
        if seq < 0:
            raise ValueError("seq must be >= 0")
        return self.cache / check_room_id(room_id) / f"{seq:06d}{SEGMENT_SUFFIX}"

    def open_writer(self, room_id: str, seq: int, start_ms: int) -> SegmentWriter:
        final = self.path_for(room_id, seq)
        final.parent.mkdir(parents=True, exist_ok=True)
        return SegmentWriter(self, room_id, seq, int(start_ms), final.with_name(final.name + ".part"), final)

    def _append_index(self, room_id: str, info: SegmentInfo) -> None:
        """Upload the segment, then its index record (a reader never sees a record without media)."""
        self.client.upload_file(str(info.path), self.bucket, self._key(room_id, info.path.name))
        record = {k: v for k, v in asdict(info).items() if k != "path"}
        record["file"] = info.path.name
        self.client.put_object(Bucket=self.bucket, Key=self._key(room_id, "index", f"{info.seq:06d}.json"),
                               Body=json.dumps(record, separators=(",", ":")).encode("utf-8"))

    def _index_keys(self, room_id: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(room_id, "index") + "/"):
            keys += [obj["Key"] for obj in page.get("Contents", [])]
        return keys

    def list_segments(self, room_id: str) -> list[SegmentInfo]:
        keys = self._index_keys(room_id)
        with self._lock:
            known = self._records.setdefault(room_id, {})
        listed: set[int] = set()
        for key in keys:
            try:
                seq = int(key.rsplit("/", 1)[-1].split(".")[0])
            except ValueError:
                continue
            listed.add(seq)
            if seq in known:
                continue
            try:
                rec = json.loads(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
                info = SegmentInfo(seq=int(rec["seq"]), start_ms=int(rec["start_ms"]),
                                   duration_ms=int(rec["duration_ms"]), path=self.path_for(room_id, seq),
                                   has_audio=bool(rec.get("has_audio", True)),
                                   has_video=bool(rec.get("has_video", True)),
                                   written_at=float(rec.get("written_at", 0.0)))
            except Exception as exc:  # noqa: BLE001 - pruned meanwhile, or a damaged record
                log.debug("segment index record %s unreadable: %s", key, exc)
                continue
            with self._lock:
                known[seq] = info
        with self._lock:
            for seq in set(known) - listed:  # pruned by someone
                del known[seq]
            return [known[k] for k in sorted(known)]

    def segments_between(self, room_id: str, start_ms: int, end_ms: int) -> list[SegmentInfo]:
        """The overlapping segments, downloaded into the local cache (a pruned one stays missing:
        the cutter treats it as expired)."""
        segments = super().segments_between(room_id, start_ms, end_ms)
        for s in segments:
            if not s.path.exists():
                s.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = s.path.with_name(s.path.name + f".{os.getpid()}.{threading.get_ident()}.download")
                try:
                    self.client.download_file(self.bucket, self._key(room_id, s.path.name), str(tmp))
                    os.replace(tmp, s.path)
                except Exception as exc:  # noqa: BLE001 - expired between list and download
                    log.debug("segment %s/%s not downloadable: %s", room_id, s.seq, exc)
                    tmp.unlink(missing_ok=True)
        self._trim_cache(room_id)
        return segments

    def _trim_cache(self, room_id: str) -> None:
        """Drop cached files older than the retention (relative to the room's newest segment)."""
        with self._lock:
            known = list(self._records.get(room_id, {}).values())
        if not known:
            return
        cutoff = max(s.end_ms for s in known) - self.retention_s * 1000
        for s in known:
            if s.end_ms <= cutoff:
                s.path.unlink(missing_ok=True)

    def prune(self, room_id: str, now_ms: int) -> list[SegmentInfo]:
        cutoff = int(now_ms - self.retention_s * 1000)
        expired = [s for s in self.list_segments(room_id) if s.end_ms <= cutoff]
        for s in expired:  # the record first: no reader is sent to deleted media
            self.client.delete_object(Bucket=self.bucket, Key=self._key(room_id, "index", f"{s.seq:06d}.json"))
        for s in expired:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(room_id, s.path.name))
            s.path.unlink(missing_ok=True)
        with self._lock:
            for s in expired:
                self._records.get(room_id, {}).pop(s.seq, None)
        return expired

    def rooms(self) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        base = f"{self.prefix}/" if self.prefix else ""
        rooms: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base, Delimiter="/"):
            rooms += [p["Prefix"][len(base):].rstrip("/") for p in page.get("CommonPrefixes", [])]
        return sorted(rooms)


def open_segment_store(location: str | Path, retention_s: float, cache_dir: Path | str | None = None) -> SegmentStore:
    """The store named by ``settings.segment_store``: a folder path (or ``file://`` URI), or
    ``s3://bucket/prefix`` (:class:`S3SegmentStore`; ``cache_dir``: where readers keep downloads)."""
    text = str(location)
    if text.startswith("s3://"):
        bucket, _, prefix = text[len("s3://"):].partition("/")
        if not bucket:
            raise ValueError(f"no bucket in the segment store URI {text!r}")
        return S3SegmentStore(bucket, prefix, retention_s, cache_dir)
    if text.startswith("file://"):
        text = text[len("file://"):]
    return LocalSegmentStore(Path(text), retention_s)
