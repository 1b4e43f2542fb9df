"""Clip files: one folder per clip in the local clip folder (media storage, like the segment store).

``clip_id`` is deterministic, so a re-cut after a crash overwrites the same folder; every file is
written to a temporary name and renamed::

    <clips_dir>/<room_id>/<clip_id>/clip.mp4       H.264 + AAC, the source's size
                                    vertical.mp4   9:16 crop (on the host's face when known)
                                    clip.srt       subtitles, times relative to the clip start
                                    clip.vtt
                                    thumb.jpg      the middle frame
                                    meta.json      room, category, label, title, transcript,
                                                   start/end (stream ms), score, status, files,
                                                   hold + compliance violations inside the clip
                                    renders/<platform>/clip.mp4, cover.jpg, meta.json
                                                   a platform render (media/render.py; meta.json
                                                   last: a folder without it is not finished)

Written by the clipper processor, indexed by :mod:`sinks.clips`, served by :mod:`sinks.web.clips`
under ``/clips/<room>/<clip_id>/<file>``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from streams.schemas import Clip
from media.segment_store import check_room_id

#: role in ``Clip.files`` -> file name inside the clip folder. Nothing else is ever served.
CLIP_FILES: dict[str, str] = {
    "mp4": "clip.mp4", "vertical": "vertical.mp4", "srt": "clip.srt", "vtt": "clip.vtt",
    "thumb": "thumb.jpg", "meta": "meta.json",
}
_CLIP_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
RENDERS_DIR = "renders"
#: a platform render's files: role suffix -> file name in ``renders/<platform>/``. Roles read
#: ``render:<platform>`` (the MP4), ``render:<platform>:cover``, ``render:<platform>:meta``; a
#: clip variant k > 0 (``clips.variants``) is ``render:<platform>:v<k>[:cover|:meta]`` in
#: ``renders/<platform>/v<k>/``.
RENDER_FILES: dict[str, str] = {"": "clip.mp4", "cover": "cover.jpg", "meta": "meta.json"}
_PLATFORM_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_ROLE_RE = re.compile(r"^render:([a-z][a-z0-9_]{0,31})(?::v([1-9]))?(?::(cover|meta))?$")


def render_role(platform: str, part: str = "", variant: int = 0) -> str:
    return f"render:{platform}" + (f":v{variant}" if variant else "") + (f":{part}" if part else "")


def render_subdir(platform: str, variant: int = 0) -> str:
    return f"{RENDERS_DIR}/{platform}" + (f"/v{variant}" if variant else "")


def role_file(role: str) -> str:
    """The file (relative to the clip folder) of a role in ``Clip.files``; ``ValueError`` for
    anything else, so nothing outside the known files is ever served."""
    if role in CLIP_FILES:
        return CLIP_FILES[role]
    m = _ROLE_RE.match(role)
    if m is None:
        raise ValueError(f"not a clip file role: {role!r}")
    platform, variant, part = m.group(1), int(m.group(2) or 0), m.group(3) or ""
    return f"{render_subdir(platform, variant)}/{RENDER_FILES[part]}"


def role_url(room_id: str, clip_id: str, role: str) -> str:
    """The API path that serves a role's file (token required), e.g. ``.../files/render:douyin``."""
    return f"/api/rooms/{room_id}/clips/{clip_id}/files/{role}"


def check_clip_id(clip_id: str) -> str:
    if not isinstance(clip_id, str) or not _CLIP_ID_RE.match(clip_id):
        raise ValueError(f"invalid clip_id: {clip_id!r}")
    return clip_id


def file_url(room_id: str, clip_id: str, name: str) -> str:
    """The API path that serves one clip file (token required)."""
    return f"/clips/{room_id}/{clip_id}/{name}"


class ClipFiles:
    """The clip folders under ``clips_dir``."""

    def __init__(self, clips_dir: Path | str):
        self.root = Path(clips_dir)

    def clip_dir(self, room_id: str, clip_id: str) -> Path:
        return self.root / check_room_id(room_id) / check_clip_id(clip_id)

    def path(self, room_id: str, clip_id: str, name: str) -> Path:
        """A servable file's path; ``ValueError`` for any name that is not a clip file."""
        if name not in CLIP_FILES.values():
            raise ValueError(f"not a clip file: {name!r}")
        return self.clip_dir(room_id, clip_id) / name

    def render_dir(self, room_id: str, clip_id: str, platform: str, variant: int = 0) -> Path:
        role_file(render_role(platform, variant=variant))  # validates the name
        return self.clip_dir(room_id, clip_id) / render_subdir(platform, variant)

    def role_path(self, room_id: str, clip_id: str, role: str) -> Path | None:
        """A role's file when it is there and finished (a render: once its meta.json is written),
        else None. ``ValueError`` for an unknown role or a bad id."""
        path = self.clip_dir(room_id, clip_id) / role_file(role)
        if role.startswith("render:") and not (path.parent / RENDER_FILES["meta"]).is_file():
            return None
        return path if path.is_file() else None

    def render_files(self, room_id: str, clip_id: str) -> dict[str, str]:
        """role -> API path, for every finished platform render of the clip."""
        renders = self.clip_dir(room_id, clip_id) / RENDERS_DIR
        out: dict[str, str] = {}
        for folder in sorted(renders.iterdir()) if renders.is_dir() else []:
            if not _PLATFORM_RE.match(folder.name):
                continue
            for variant in range(10):
                for part in RENDER_FILES:
                    role = render_role(folder.name, part, variant)
                    if self.role_path(room_id, clip_id, role) is not None:
                        out[role] = role_url(room_id, clip_id, role)
        return out

    def write_text(self, room_id: str, clip_id: str, name: str, text: str) -> Path:
        path = self.path(room_id, clip_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.{os.getpid()}.part")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return path

    def files_of(self, room_id: str, clip_id: str) -> dict[str, str]:
        """role -> API path, for the files that exist."""
        folder = self.clip_dir(room_id, clip_id)
        files = {role: file_url(room_id, clip_id, name) for role, name in CLIP_FILES.items()
                 if (folder / name).is_file() or role == "meta"}
        return files | self.render_files(room_id, clip_id)

    def write_meta(self, clip: Clip) -> Path:
        meta = {
            "room_id": clip.room_id, "clip_id": clip.clip_id, "status": clip.status, "reason": clip.reason,
            "category": clip.category, "label": clip.label, "title": clip.title,
            "transcript": clip.transcript, "start_ms": clip.start_ms, "end_ms": clip.end_ms,
            "duration_ms": clip.end_ms - clip.start_ms, "score": clip.score, "files": clip.files,
            "hold": clip.hold, "compliance": [v.model_dump(mode="json") for v in clip.compliance],
            "product_id": clip.product_id, "product_name_zh": clip.product_name_zh,
            "product_name_en": clip.product_name_en,
        }
        return self.write_text(clip.room_id, clip.clip_id, CLIP_FILES["meta"],
                               json.dumps(meta, ensure_ascii=False, indent=2))

    def remove(self, room_id: str, clip_id: str) -> None:
        shutil.rmtree(self.clip_dir(room_id, clip_id), ignore_errors=True)
