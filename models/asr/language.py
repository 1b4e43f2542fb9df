"""Which language a room speaks: declared, overridden, or identified from its first speech.

Two pure pieces, used by the ASR processor and ``livelens transcribe``:

* :func:`choose_room_language` — the precedence of the ways a room's language can be set.
* :class:`RoomLanguageId` — ``auto``: votes the multilingual model's language probabilities of
  the first utterances, weighted by their speech length, and decides once enough speech was
  heard; the decision is then held for the room. Code-switching (Chinese with English brand
  names and sizes) goes to the Chinese path: zh wins as soon as it holds a fair share of the
  zh+en mass, because the Chinese model writes "T恤 oversize 的" well and the English one
  cannot write Chinese at all. Speech that is mostly neither zh nor en is ``unsupported``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SUPPORTED = ("zh", "en")


def choose_room_language(
    *, override: str | None = None, declared: str | None = None, room_config: str | None = None, default: str = "en"
) -> tuple[str, str]:
    """(language, where it came from), first that is set of: the operator's per-room override
    (settings), the language the room declared at ingest (on its events), the room config file,
    the worker's default. Each is "zh", "en", "auto" or empty/None (not set)."""
    for value, source in ((override, "override"), (declared, "declared"), (room_config, "room_config")):
        if value:
            return value, source
    return default, "default"


@dataclass
class LanguageDecision:
    language: str  # "zh" / "en", or "" when unsupported
    unsupported: str = ""  # the language heard instead ("ja", …) when neither zh nor en
    confidence: float = 0.0  # share of the vote of the decided language
    speech_ms: int = 0  # speech the decision rests on


@dataclass
class RoomLanguageId:
    """Votes language probabilities of a room's first utterances until it can decide."""

    #: speech to hear before deciding (unless one utterance is very sure)
    min_speech_ms: int = 3_000
    #: decide anyway after this much speech (the best supported language, or unsupported)
    max_speech_ms: int = 12_000
    #: one utterance this sure of zh/en decides at once
    sure_prob: float = 0.9
    #: zh+en below this share of the vote: the room speaks something else
    supported_share: float = 0.5
    #: zh wins when it has at least this share of the zh+en vote (code-switching bias)
    zh_share: float = 0.3
    votes: dict[str, float] = field(default_factory=dict)
    speech_ms: int = 0
    decision: LanguageDecision | None = None

    def observe(self, probs: dict[str, float], speech_ms: int) -> LanguageDecision | None:
        """Add one utterance's language probabilities; the decision once there is one (held)."""
        if self.decision is not None:
            return self.decision
        speech_ms = max(int(speech_ms), 1)
        for lang, p in probs.items():
            self.votes[lang] = self.votes.get(lang, 0.0) + float(p) * speech_ms
        self.speech_ms += speech_ms
        best = max(probs.items(), key=lambda kv: kv[1], default=("", 0.0))
        if best[0] in SUPPORTED and best[1] >= self.sure_prob:
            return self._decide()
        if self.speech_ms >= self.min_speech_ms:
            decision = self._decide(final=self.speech_ms >= self.max_speech_ms)
            return decision
        return None

    def _decide(self, final: bool = True) -> LanguageDecision | None:
        total = sum(self.votes.values()) or 1.0
        zh, en = self.votes.get("zh", 0.0), self.votes.get("en", 0.0)
        if (zh + en) / total < self.supported_share:
            if not final and (zh + en) / total >= self.supported_share / 2:
                return None  # unclear yet: keep listening up to max_speech_ms
            other = max((kv for kv in self.votes.items() if kv[0] not in SUPPORTED), key=lambda kv: kv[1],
                        default=("?", 0.0))
            self.decision = LanguageDecision("", unsupported=other[0], confidence=other[1] / total,
                                             speech_ms=self.speech_ms)
            return self.decision
        lang = "zh" if zh >= self.zh_share * (zh + en) else "en"
        self.decision = LanguageDecision(lang, confidence=self.votes[lang] / total, speech_ms=self.speech_ms)
        return self.decision
