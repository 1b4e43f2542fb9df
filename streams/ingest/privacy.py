"""Privacy by default, in one place: what a viewer sends is pseudonymised and masked at ingest.

:meth:`streams.ingest.publisher.Publisher.publish` — the one place every input event passes right
before it enters Kafka (replay files, HTTP ingest, the demo, the benchmarks) — hands each chat and
commerce event (and each dead letter it publishes) to :meth:`ViewerPrivacy.protect`, and
:meth:`Publisher.reject` hands each rejected line to :meth:`ViewerPrivacy.protect_payload` before
it becomes a dead letter. So raw viewer data
never reaches Kafka, and nothing downstream (processors, Redis, webhooks, the API and dashboard,
dead letters, logs) can leak it:

- viewer ids become a keyed HMAC (:func:`models.compliance.privacy.pseudonymise`): stable within a
  room (unique-chatter counts still work), different across rooms, irreversible without the key
  (``privacy.secret``, else generated once into ``data_dir/privacy-secret``);
- viewer names are dropped;
- phone numbers, WeChat / QQ ids, ID-card numbers, e-mail and street addresses in chat text are
  replaced by a token (``[电话]``, ``[微信号]`` … or ``[phone]``, ``[wechat]`` … for text without
  Chinese characters). The chat model reads those tokens as contact details (spam_ad), and the
  compliance checker still sees the diversion cue (加微信[微信号]).

Producers that write straight to the input topics bypass this: they must send pseudonymised,
masked events themselves (docs/DATA_INVENTORY.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from models.compliance.privacy import mask_personal_data, pseudonymise
from streams.schemas import ChatMessage, CommerceEvent, DeadLetter, Event
from streams.security import load_or_create_token

_HAN = re.compile(r"[\u3400-\u9fff]")


def token_language(text: str) -> str:
    """The language of the mask tokens: Chinese for text with Chinese characters, else English."""
    return "zh" if _HAN.search(text) else "en"


def mask_text(text: str) -> str:
    return mask_personal_data(text, token_language(text))[0] if text else text


@dataclass(frozen=True)
class ViewerPrivacy:
    secret: str

    @classmethod
    def from_settings(cls, settings) -> "ViewerPrivacy":
        configured = settings.privacy.secret.get_secret_value() if settings.privacy.secret else None
        return cls(load_or_create_token(configured, settings.data_dir, "privacy-secret"))

    def viewer_id(self, user_id: str, room_id: str) -> str:
        """The pseudonym of ``user_id`` in ``room_id`` ("" stays "": no viewer)."""
        return pseudonymise(user_id, room_id, self.secret) if user_id else ""

    def protect(self, event: Event) -> Event:
        """Pseudonymise, drop the name, mask the text of a chat or commerce event (in place)."""
        if isinstance(event, ChatMessage):
            event.user_id = self.viewer_id(event.user_id, event.room_id)
            event.user_name = ""
            event.text = mask_text(event.text)
        elif isinstance(event, CommerceEvent) and event.user_id:
            event.user_id = self.viewer_id(event.user_id, event.room_id)
        elif isinstance(event, DeadLetter) and event.payload and not event.payload.startswith("base64:"):
            # a replay file's rejected line (streams/ingest/runner.py publishes those as dead letters)
            event.payload = self.protect_payload(event.payload.encode("utf-8"), event.room_id).decode("utf-8")
        return event

    def protect_payload(self, raw: bytes, room_id: str) -> bytes:
        """A rejected input line, safe to keep as a dead letter: in a JSON object ``user_id`` is
        pseudonymised, ``user_name`` dropped and every string masked; other text is masked whole.
        Bytes that are not UTF-8 are kept as they are (the dead letter stores them base64)."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
        try:
            obj = json.loads(text)
        except ValueError:
            return mask_text(text).encode("utf-8")
        if not isinstance(obj, dict):
            return mask_text(text).encode("utf-8")
        clean = {}
        for key, value in obj.items():
            if key == "user_name":
                continue
            if key == "user_id" and isinstance(value, str):
                value = self.viewer_id(value, room_id)
            elif isinstance(value, str):
                value = mask_text(value)
            elif not isinstance(value, (int, float, bool)) and value is not None:
                value = mask_text(json.dumps(value, ensure_ascii=False))
            clean[key] = value
        return json.dumps(clean, ensure_ascii=False).encode("utf-8")
