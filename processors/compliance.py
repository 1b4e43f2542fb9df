"""Compliance guard on the live streams: final transcripts and chat → ``compliance`` (+ a rephrase tip).

Each final transcript segment (the host's speech) and each chat message is checked with the pure
:class:`models.compliance.ComplianceChecker` of its room's category, platform and language. A text
with violations becomes one :class:`ComplianceAlert` on ``livelens.compliance`` (the phrases, rules,
severities, laws and suggested rewordings, with each phrase's stream time from the word
timestamps); for the host's speech a host-facing :class:`Recommendation` (``rec_type="rephrase"``)
goes to ``recommendations`` as well. Partial transcripts are not checked (they still change).

A room's rule packs: ``compliance.rooms[room]`` (settings), else the rooms file's ``category`` /
``platform`` (streams/rooms.py), else ``compliance.category`` / ``compliance.platform``. Its language:
the transcript's; for chat, the room's last transcript language, else the rooms file's, else the
platform's. Checking costs ~25 µs a line (docs/COMPLIANCE.md), so it runs on the event loop; the
stage is held to ``budgets.compliance`` (300 ms after the final transcript event).

Chat text arrives already masked (phone numbers, WeChat ids … replaced at ingest,
streams/ingest/privacy.py): a diversion is still flagged by its cue (加微信[微信号]).
"""

from __future__ import annotations

from dataclasses import dataclass

from models.compliance import ComplianceChecker, Violation
from processors.runtime import Input, Output, RoomProcessor, attach
from streams.app import AppContext
from streams.rooms import load_rooms
from streams.schemas import (
    ChatMessage, ComplianceAlert, ComplianceViolation, Recommendation, StreamMarker, Transcript, Word,
)

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
#: rephrase tip priority by the most severe violation
PRIORITY = {"critical": 95, "warning": 75, "info": 40}
#: a rephrase tip applies this long after the sentence (stream ms)
TIP_TTL_MS = 30_000


@dataclass
class RoomCompliance:
    """What the processor keeps per room: its packs and the language its host speaks."""

    category: str
    platform: str
    language: str = ""  # from its transcripts ("" until one arrives)


def word_offsets(text: str, words: list[Word]) -> list[tuple[int, int, Word]]:
    """Each word's character span in ``text`` (words found in order; a word not found is skipped)."""
    spans, cursor = [], 0
    for w in words:
        token = w.text.strip()
        if not token:
            continue
        at = text.find(token, cursor)
        if at < 0:
            continue
        spans.append((at, at + len(token), w))
        cursor = at + len(token)
    return spans


def phrase_time(start: int, end: int, text: str, t0: int, t1: int,
                words: list[tuple[int, int, Word]]) -> tuple[int, int]:
    """Stream time of ``text[start:end]``: its words' times, else interpolated over the segment."""
    hit = [w for a, b, w in words if a < end and b > start]
    if hit:
        return min(w.start_ms for w in hit), max(w.end_ms for w in hit)
    n = max(len(text), 1)
    return t0 + (t1 - t0) * start // n, t0 + (t1 - t0) * end // n


class ComplianceProcessor(RoomProcessor):
    name = "compliance"
    budget = "compliance"
    inputs = {"transcripts": (Transcript,), "chat": (ChatMessage, StreamMarker)}

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.cfg = settings.compliance
        self._checkers: dict[tuple[str, str, str], ComplianceChecker] = {}
        # built now, not on a room's first sentence: the first build loads pypinyin's dictionary
        # and compiles the packs (~1 s), which would land on that sentence's latency
        for language in ("zh", "en"):
            self.checker(RoomCompliance(self.cfg.category, self.cfg.platform, language))

    def new_state(self, room_id: str) -> RoomCompliance:
        override = self.cfg.rooms.get(room_id, {})
        declared = load_rooms(self.settings.rooms_file).get(room_id)
        category = override.get("category") or (declared.category if declared else "") or self.cfg.category
        platform = override.get("platform") or (declared.platform if declared else "") or self.cfg.platform
        language = declared.language if declared and declared.language in ("zh", "en") else ""
        return RoomCompliance(category, platform, language)

    def forget_room(self, inp: Input, state: RoomCompliance) -> bool:
        return inp.topic == "chat" and inp.is_marker("end")

    def checker(self, room: RoomCompliance) -> ComplianceChecker:
        key = (room.category, room.platform, room.language)
        if key not in self._checkers:
            # a bad category/platform raises RulePackError: the runtime dead-letters the input
            self._checkers[key] = ComplianceChecker(room.category or None, room.platform or None,
                                                    room.language or None, self.cfg.rules_dir)
        return self._checkers[key]

    def handle(self, inp: Input, room: RoomCompliance) -> list[Output]:
        ev = inp.event
        if isinstance(ev, Transcript):
            if not ev.is_final or not ev.text.strip():
                return []
            if ev.language in ("zh", "en"):
                room.language = ev.language
            return self.host_speech(ev, room)
        if isinstance(ev, ChatMessage) and self.cfg.chat and ev.text.strip():
            found = self.checker(room).check(ev.text)
            if found:
                return [Output("compliance", self.alert(
                    ev, room, "chat", ev.event_id, ev.text, ev.stream_ms, ev.stream_ms,
                    [self.violation(v, ev.stream_ms, ev.stream_ms) for v in found], user_id=ev.user_id))]
        return []

    def host_speech(self, tr: Transcript, room: RoomCompliance) -> list[Output]:
        found = self.checker(room).check(tr.text)
        if not found:
            return []
        words = word_offsets(tr.text, tr.words)
        violations = [self.violation(v, *phrase_time(v.start, v.end, tr.text, tr.start_ms, tr.end_ms, words))
                      for v in found]
        alert = self.alert(tr, room, "host", tr.segment_id, tr.text, tr.start_ms, tr.end_ms, violations)
        return [Output("compliance", alert), Output("recommendations", self.rephrase_tip(alert))]

    @staticmethod
    def violation(v: Violation, start_ms: int, end_ms: int) -> ComplianceViolation:
        return ComplianceViolation(**v.to_dict(), start_ms=start_ms, end_ms=end_ms)

    @staticmethod
    def alert(ev, room: RoomCompliance, source: str, source_id: str, text: str, start_ms: int, end_ms: int,
              violations: list[ComplianceViolation], user_id: str = "") -> ComplianceAlert:
        return ComplianceAlert(
            room_id=ev.room_id, event_id=f"{ev.event_id}:compliance", stream_ms=ev.stream_ms,
            ingested_at=ev.ingested_at, source=source, source_id=source_id, user_id=user_id, text=text,
            language=room.language, category=room.category, platform=room.platform, start_ms=start_ms,
            end_ms=end_ms, severity=max((v.severity for v in violations), key=SEVERITY_RANK.__getitem__),
            violations=violations)

    @staticmethod
    def rephrase_tip(alert: ComplianceAlert) -> Recommendation:
        """What the host sees: each phrase and a safe rewording, most severe first."""
        ordered = sorted(alert.violations, key=lambda v: -SEVERITY_RANK[v.severity])
        zh = "；".join(f"「{v.term}」→ {v.suggestion}" if v.suggestion else f"「{v.term}」" for v in ordered)
        en = "; ".join(f"“{v.term}” → {v.suggestion}" if v.suggestion else f"“{v.term}”" for v in ordered)
        first = ordered[0]
        return Recommendation(
            room_id=alert.room_id, event_id=f"{alert.event_id}:rephrase", stream_ms=alert.stream_ms,
            ingested_at=alert.ingested_at, rec_type="rephrase",
            message_zh=f"请换个说法：{zh}"[:1000], message_en=f"Rephrase: {en}"[:1000],
            reason=f"{first.rule} ({first.severity}): {first.law}"[:500],
            evidence={"segment_id": alert.source_id, "terms": [v.term for v in ordered],
                      "rules": [v.rule for v in ordered], "kinds": [v.kind for v in ordered]},
            priority=PRIORITY[alert.severity], expires_ms=alert.end_ms + TIP_TTL_MS,
            dedup_key=f"rephrase:{alert.source_id}")


def register(ctx: AppContext) -> None:
    attach(ctx, ComplianceProcessor(ctx.settings))
