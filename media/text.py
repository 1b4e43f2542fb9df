"""Fonts that draw Chinese, and line breaking by rendered width (Chinese has no spaces to break at).

The font is found once: ``LIVELENS_CJK_FONT`` (a .ttf/.otf/.ttc path) if set, else fontconfig's
list of fonts that cover Simplified Chinese (``fc-list :lang=zh-cn``, Noto Sans CJK preferred:
``apt-get install fonts-noto-cjk``, which ``scripts/setup.sh`` installs), else a few known paths.
Without one, :class:`FontMissing` says how to install it: drawing Chinese with a Latin font would
put empty boxes on every subtitle.
"""

from __future__ import annotations

import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

KNOWN_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
#: may not begin a line (closing punctuation), may not end one (opening punctuation)
_NO_LINE_START = set("，。！？；：、）》」』】〕…,.!?;:)]}%'\"”’")
_NO_LINE_END = set("（《「『【〔([{\"“‘")


class FontMissing(RuntimeError):
    """No font that draws Chinese is installed."""


def _fc_candidates() -> list[str]:
    try:
        out = subprocess.run(["fc-list", ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = [line.split(":")[0].strip() for line in out.splitlines() if line.strip()]

    def rank(path: str) -> tuple[int, str]:
        name = Path(path).name.lower()
        return (0 if "notosanscjk-bold" in name else 1 if "notosanscjk" in name else 2 if "cjk" in name else 3, path)

    return sorted(set(files), key=rank)


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """The font file used for subtitles and cover titles (see the module docstring)."""
    override = os.environ.get("LIVELENS_CJK_FONT")
    if override:
        if not Path(override).is_file():
            raise FontMissing(f"LIVELENS_CJK_FONT={override} is not a file")
        return Path(override)
    for path in [*_fc_candidates(), *KNOWN_FONTS]:
        if Path(path).is_file():
            return Path(path)
    raise FontMissing("no font with Chinese glyphs found: apt-get install fonts-noto-cjk "
                      "(scripts/setup.sh does), or set LIVELENS_CJK_FONT to a .ttf/.otf/.ttc file")


@lru_cache(maxsize=1)
def _face_index(path: str) -> int:
    """In a font collection (.ttc), the face for Simplified Chinese (Noto CJK: 'Noto Sans CJK SC')."""
    for index in range(12):
        try:
            family = ImageFont.truetype(path, 16, index=index).getname()[0]
        except OSError:
            break
        if family.endswith(" SC") or "SC" in family.split():
            return index
    return 0


@lru_cache(maxsize=32)
def cjk_font(size_px: int) -> ImageFont.FreeTypeFont:
    path = str(cjk_font_path())
    return ImageFont.truetype(path, max(4, int(size_px)), index=_face_index(path))


def _units(text: str) -> list[str]:
    """Breakable units: each CJK character alone; a Latin word with its trailing spaces."""
    return re.findall(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+\s*|\s+", text)


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width`` pixels as drawn with ``font``.

    Breaks between CJK characters or at spaces; closing punctuation never starts a line (it moves
    up with the character before it); a single word wider than a line is split by characters.
    """
    lines: list[str] = []
    current = ""
    for unit in _units(text.strip()):
        candidate = current + unit
        if not current or font.getlength(candidate.rstrip()) <= max_width:
            current = candidate
            continue
        if unit.strip() and unit.strip()[0] in _NO_LINE_START and current:
            # carry the last character of this line down with it instead of starting a line with "，"
            keep, carry = current.rstrip()[:-1], current.rstrip()[-1]
            if keep:
                lines.append(keep.rstrip())
                current = carry + unit
                continue
        if current.rstrip() and current.rstrip()[-1] in _NO_LINE_END and len(current.rstrip()) > 1:
            lines.append(current.rstrip()[:-1].rstrip())
            current = current.rstrip()[-1] + unit
        else:
            lines.append(current.rstrip())
            current = unit.lstrip()
        while font.getlength(current.rstrip()) > max_width and len(current.rstrip()) > 1:
            # a word longer than a whole line: split it where it overflows
            cut = len(current)
            while cut > 1 and font.getlength(current[:cut]) > max_width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    if current.strip():
        lines.append(current.rstrip())
    return [line for line in lines if line]


def is_cjk_char(ch: str) -> bool:
    return bool(_CJK.match(ch))
