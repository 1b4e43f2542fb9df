"""Platform profiles as data: one YAML file per platform in ``media/profiles/`` (or in the folder
named by ``LIVELENS_PROFILES_DIR``, searched first). A new platform is a new YAML file.

    profile = load_profile("douyin")
    profile.video.width, profile.loudness.integrated_lufs, profile.title.max_chars

Every file is checked against :class:`PlatformProfile` when it is loaded; a bad file fails with one
line naming the file and the field (:class:`ProfileError`). The figures are editable defaults drawn
from the platforms' public upload guidance, not guarantees: check them against the current rules.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.data_files import read_yaml, validate

BUILTIN_DIR = Path(__file__).resolve().parent / "profiles"
_COLOUR_RE = re.compile(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")


class ProfileError(ValueError):
    """A profile is unknown, missing or malformed (the message is one line naming file and field)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VideoSpec(_Strict):
    width: int = Field(gt=0, le=4096)
    height: int = Field(gt=0, le=4096)
    fps: float = Field(gt=0, le=120)
    codec: Literal["h264"] = "h264"
    profile: Literal["baseline", "main", "high"] = "high"
    level: str = "4.1"
    #: the cap of a capped-CRF encode (maxrate), kbit/s
    bitrate_kbps: int = Field(gt=0)
    crf: int = Field(23, ge=0, le=51)
    #: libx264 speed preset: render speed against file size at the same quality
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = "veryfast"

    @field_validator("width", "height")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("must be even (yuv420p)")
        return v


class AudioSpec(_Strict):
    codec: Literal["aac"] = "aac"
    sample_rate: int = Field(48000, ge=8000, le=96000)
    channels: Literal[1, 2] = 2
    bitrate_kbps: int = Field(128, gt=0, le=512)


class DurationSpec(_Strict):
    min_s: float = Field(ge=0)
    max_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _order(self) -> "DurationSpec":
        if self.min_s > self.max_s:
            raise ValueError("min_s must be <= max_s")
        return self


class LoudnessSpec(_Strict):
    integrated_lufs: float = Field(ge=-40, le=-5)
    true_peak_db: float = Field(ge=-9, le=0)


class SafeArea(_Strict):
    """Margins the platform's own UI covers (caption, buttons, progress bar), as fractions of the frame."""

    top: float = Field(ge=0, lt=0.5)
    bottom: float = Field(ge=0, lt=0.5)
    left: float = Field(ge=0, lt=0.5)
    right: float = Field(ge=0, lt=0.5)


class SubtitleStyle(_Strict):
    font_size: float = Field(gt=0.005, le=0.2, description="text height as a fraction of the frame height")
    max_lines: int = Field(2, ge=1, le=4)
    color: str = "#FFFFFF"
    outline_color: str = "#000000"
    outline: float = Field(0.1, ge=0, le=0.5, description="outline width as a fraction of the font size")
    #: a box behind the text (#RRGGBBAA), or null for none
    background: str | None = None
    line_spacing: float = Field(0.25, ge=0, le=1)

    @field_validator("color", "outline_color", "background")
    @classmethod
    def _colour(cls, v: str | None) -> str | None:
        if v is not None and not _COLOUR_RE.match(v):
            raise ValueError("must be #RRGGBB or #RRGGBBAA")
        return v


class CoverSpec(_Strict):
    width: int = Field(gt=0, le=4096)
    height: int = Field(gt=0, le=4096)
    title_size: float = Field(0.06, gt=0.01, le=0.2, description="title height as a fraction of the cover height")


class TextLimit(_Strict):
    max_chars: int = Field(gt=0, le=5000)


class TagLimit(_Strict):
    max_count: int = Field(ge=0, le=50)


class PlatformProfile(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    display_name: str
    languages: list[Literal["zh", "en"]] = Field(min_length=1)
    video: VideoSpec
    audio: AudioSpec = AudioSpec()
    duration: DurationSpec
    loudness: LoudnessSpec
    safe_area: SafeArea
    subtitles: SubtitleStyle
    cover: CoverSpec
    title: TextLimit
    description: TextLimit
    tags: TagLimit
    source: Path | None = Field(None, exclude=True)  # the file it was read from


def profile_dirs() -> list[Path]:
    """Where profiles are looked up, first match wins: ``LIVELENS_PROFILES_DIR``, then the built-in folder."""
    extra = os.environ.get("LIVELENS_PROFILES_DIR")
    return [Path(extra), BUILTIN_DIR] if extra else [BUILTIN_DIR]


def available_profiles() -> list[str]:
    names = {p.stem for d in profile_dirs() if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names)


def parse_profile(data: Any, path: Path) -> PlatformProfile:
    """Validate one profile's data; :class:`ProfileError` naming ``path`` and the field."""
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: (top level): expected a mapping of fields, got {type(data).__name__}")
    profile = validate(PlatformProfile, {**data, "source": path}, path, ProfileError)
    if profile.name != path.stem:
        raise ProfileError(f"{path}: name: {profile.name!r} must match the file name {path.stem!r}")
    return profile


def load_profile_file(path: Path | str) -> PlatformProfile:
    path = Path(path)
    return parse_profile(read_yaml(path, ProfileError), path)


def load_profile(name: str) -> PlatformProfile:
    """The profile called ``name``; :class:`ProfileError` (listing the known ones) if there is none."""
    if not re.match(r"^[a-z][a-z0-9_]*$", name or ""):
        raise ProfileError(f"unknown platform {name!r}; known: {', '.join(available_profiles())}")
    for folder in profile_dirs():
        path = folder / f"{name}.yaml"
        if path.is_file():
            return load_profile_file(path)
    raise ProfileError(f"unknown platform {name!r}; known: {', '.join(available_profiles())}")


def load_all_profiles() -> dict[str, PlatformProfile]:
    return {name: load_profile(name) for name in available_profiles()}


def with_overrides(profile: PlatformProfile, overrides: dict[str, Any]) -> PlatformProfile:
    """A copy with nested fields replaced (``{"video": {"width": 270}}``), validated again."""

    def merge(base: dict, extra: dict) -> dict:
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    source = profile.source or Path(f"{profile.name}.yaml")
    return parse_profile(merge(profile.model_dump(exclude={"source"}), overrides), source)
