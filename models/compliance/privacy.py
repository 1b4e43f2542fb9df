"""Privacy helpers: mask personal data in text, pseudonymise viewer ids. Pure functions.

    masked, spans = mask_personal_data("加我微信 abc_12345，电话幺三八 1234 5678")
    # '加我微信 [微信号]，电话[电话]'
    pseudonymise("user-42", "room-1", secret="s3cret")  # 16 hex characters, stable within the room

Phone numbers use the compliance normaliser, so spaced, dashed, full-width, circled and
Chinese-numeral forms (幺三八…) are masked too. WeChat / QQ ids are masked when they follow a
cue (微信, vx, wx, V信, 威信 …, QQ, 扣扣); ID-card numbers need a valid checksum (GB 11643);
addresses need a road / street / lane and a number (…路88号, 12 Baker Street).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import asdict, dataclass

from models.compliance.normalise import skeleton

TOKENS = {
    "zh": {"phone": "[电话]", "wechat": "[微信号]", "qq": "[QQ号]", "id_card": "[身份证号]", "email": "[邮箱]",
           "address": "[地址]"},
    "en": {"phone": "[phone]", "wechat": "[wechat]", "qq": "[qq]", "id_card": "[id]", "email": "[email]",
           "address": "[address]"},
}

# on the digit skeleton (separators removed, Chinese numerals as digits)
_ID_CARD = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9x](?![0-9a-z])")
_PHONES = (
    re.compile(r"(?<![0-9])(?:加?86)?1[3-9][0-9]{9}(?![0-9])"),  # Chinese mobile, optional +86
    re.compile(r"(?<![0-9])0[1-9][0-9]{8,10}(?![0-9])"),  # Chinese landline with area code
    re.compile(r"(?<![0-9])[48]00[0-9]{7}(?![0-9])"),  # 400 / 800 service numbers
    re.compile(r"(?<![0-9])加[1-9][0-9]{7,13}(?![0-9])"),  # +<country code> international
    re.compile(r"(?<![0-9])1?[2-9][0-9]{2}[2-9][0-9]{6}(?![0-9])"),  # North American
)
_QQ = re.compile(r"(?:qq|扣扣|企鹅)(?:号码|号)?(?:是|为)?([0-9]{5,11})(?![0-9])")
_WECHAT_CUE = re.compile(r"(?:微信|威信|薇信|v信|vx|wx|weixin|wechat)(?:号码|号|id)?")
# on the original text, right after a cue
_WECHAT_ID = re.compile(r"(?:[\s:：是为]|is\s|id\s)*([A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+[@＠][A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_HAN = r"[\u4e00-\u9fff]"
_NOT_ADDRESS = "在住寄到是送发址的我你他她们请给从去"  # verbs and particles that start before an address
_ADDRESS_ZH = re.compile(
    rf"(?:[^\s{_NOT_ADDRESS}，。,:：！？]{{1,8}}?(?:省|自治区|市|区|县|旗|镇|乡))*"
    rf"[^\s{_NOT_ADDRESS}，。,:：！？0-9]{{1,12}}?(?:路|街|大道|大街|巷|弄|胡同)"
    r"\s*[0-9０-９一二三四五六七八九十百零幺]+\s*(?:号|弄)"
    r"(?:\s*[A-Za-z\u4e00-\u9fff]{0,10}?\s*[0-9０-９一二三四五六七八九十百零A-Za-z]+\s*(?:号楼|栋|幢|单元|楼|层|室|号))*"
)
_ADDRESS_EN = re.compile(
    r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|"
    r"Court|Ct|Place|Pl)\b\.?(?:,?\s*(?:Apt|Apartment|Suite|Unit)\.?\s*#?\w+)?"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10x98765432"


@dataclass(frozen=True)
class MaskedSpan:
    kind: str  # phone | wechat | qq | id_card | email | address
    start: int  # offsets into the ORIGINAL text
    end: int

    def to_dict(self) -> dict:
        return asdict(self)


def id_card_checksum_ok(number: str) -> bool:
    """GB 11643 check digit of an 18-character Chinese resident ID number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].lower()


def find_personal_data(text: str) -> list[MaskedSpan]:
    """Spans of personal data in ``text`` (original offsets), non-overlapping, in order."""
    if not text:
        return []
    sk = skeleton(text)
    found: list[MaskedSpan] = []

    def add_skeleton(kind: str, start: int, end: int) -> None:
        o_start, o_end = sk.span(start, end)
        found.append(MaskedSpan(kind, o_start, o_end))

    for m in _ID_CARD.finditer(sk.digits):
        if id_card_checksum_ok(m.group()):
            add_skeleton("id_card", m.start(), m.end())
    for pattern in _PHONES:
        for m in pattern.finditer(sk.digits):
            add_skeleton("phone", m.start(), m.end())
    for m in _QQ.finditer(sk.digits):
        add_skeleton("qq", m.start(1), m.end(1))
    for m in _WECHAT_CUE.finditer(sk.text):
        after = sk.span(m.start(), m.end())[1]
        idm = _WECHAT_ID.match(text, after)
        if idm:
            found.append(MaskedSpan("wechat", idm.start(1), idm.end(1)))
    for m in _EMAIL.finditer(text):
        found.append(MaskedSpan("email", m.start(), m.end()))
    for pattern in (_ADDRESS_ZH, _ADDRESS_EN):
        for m in pattern.finditer(text):
            found.append(MaskedSpan("address", m.start(), m.end()))

    # keep the longest of overlapping spans (an ID number beats the phone inside it)
    found.sort(key=lambda s: (-(s.end - s.start), s.start))
    kept: list[MaskedSpan] = []
    for span in found:
        if all(span.end <= k.start or k.end <= span.start for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def mask_personal_data(text: str, language: str = "zh") -> tuple[str, list[MaskedSpan]]:
    """``text`` with personal data replaced by a fixed token per kind ([电话] / [phone] ...), and
    the spans replaced (offsets into the original ``text``)."""
    tokens = TOKENS.get(language)
    if tokens is None:
        raise ValueError(f"unknown language {language!r}; known: {', '.join(TOKENS)}")
    spans = find_personal_data(text)
    if not spans:
        return text, []
    parts, last = [], 0
    for span in spans:
        parts.append(text[last:span.start])
        parts.append(tokens[span.kind])
        last = span.end
    parts.append(text[last:])
    return "".join(parts), spans


def pseudonymise(user_id: str, room_id: str, secret: str | bytes, length: int = 16) -> str:
    """A keyed HMAC-SHA256 of the viewer id, salted by the room: stable within a room (unique
    chatter counts still work), different across rooms (no cross-room profile), irreversible
    without the secret. ``length`` hex characters (8..64)."""
    if not secret:
        raise ValueError("pseudonymise needs a non-empty secret")
    if not 8 <= length <= 64:
        raise ValueError("length must be between 8 and 64 hex characters")
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    message = f"{room_id}\x1f{user_id}".encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:length]
