"""Selling points: final transcript sentences → classified, merged segments on ``selling_points``.

Each final sentence is classified (:class:`models.understanding.segment_classifier.SegmentClassifier`:
sentence encoder + lexical evidence over the room's product-category taxonomy) and consecutive
sentences of one class merge into one segment (:class:`models.understanding.streaming.SellingPointSegmenter`)
with its start and end stream time and words. A segment closes when the class changes, after
``segment_max_gap_ms`` without speech (a 1 s wall-clock timer closes it when the host simply
stops talking), at ``segment_max_ms``, or at the end of the stream. Chit-chat segments are
emitted too, flagged ``chit_chat`` (the clipper skips them; dashboards may show them).

The encoder loads once per worker on the first transcript, in a thread; sentences are classified
on the event loop (``understanding.classify_on_loop``, ~2 ms each with the packaged encoder).
With ``understanding.multi_label`` a segment also lists every class its sentences support
(``labels``: class, score, evidence span; :class:`models.understanding.selling_points.MultiLabelClassifier`),
and with a catalog (the room's ``catalog`` in the rooms file, else ``understanding.catalog``) it
names the product it is about (:class:`models.understanding.product_linker.ProductLinker`).
Segmenter state is in memory, so a transcript is acknowledged (its offset may be committed) only
once no open segment holds it (``holds_inputs``: the runtime acks it then): after a crash, the
finals of the segment open at the time are replayed and the segment is built again, nothing lost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from models.taxonomy import load_taxonomy
from models.understanding.encoders import make_encoder
from models.understanding.product_linker import CatalogError, ProductLinker
from models.understanding.segment_classifier import SegmentClassifier
from models.understanding.selling_points import MultiLabelClassifier
from models.understanding.streaming import SellingPointSegmenter
from processors.runtime import Input, Output, RoomProcessor, attach
from streams.app import AppContext
from streams.rooms import RoomConfigError, room_catalog
from streams.schemas import SegmentRef, SellingPoint, SpanLabel, StreamMarker, Transcript, Word

log = logging.getLogger(__name__)


@dataclass
class RoomSegments:
    segmenter: SellingPointSegmenter
    last_final_at: float = 0.0  # wall clock of the last final sentence (the quiet-segment timer)
    last_ingested_at: float = field(default_factory=time.time)


class SellingPointsProcessor(RoomProcessor):
    name = "selling_points"
    budget = "understanding"
    # markers come on the segments topic (transcripts is an output topic: nobody punctuates it)
    inputs = {"transcripts": (Transcript,), "segments": (SegmentRef, StreamMarker)}
    holds_inputs = True

    def __init__(self, settings, classifier: SegmentClassifier | None = None) -> None:
        super().__init__(settings)
        self.u = settings.understanding
        self.classifier = classifier
        self.multi_label: MultiLabelClassifier | None = None
        self._linkers: dict[Path, ProductLinker | None] = {}  # one per catalog file
        # the packaged encoder classifies a sentence in ~2 ms: on the loop; a slow one in a thread
        self.runs_on = "loop" if self.u.classify_on_loop else "thread"

    def load_models(self) -> None:
        if self.classifier is None:
            taxonomy = load_taxonomy(self.u.category, self.u.taxonomy_dir)
            self.classifier = SegmentClassifier(taxonomy, make_encoder(self.u.encoder, self.u.encoder_precision), min_score=self.u.min_score)
        if self.u.multi_label and self.multi_label is None:
            self.multi_label = MultiLabelClassifier(self.classifier)
        if self.u.catalog is not None:
            self.linker_of(self.u.catalog)  # a bad default catalog is reported at start

    def linker_of(self, catalog: Path) -> ProductLinker | None:
        """The linker over ``catalog``, loaded once; None (logged once) when it cannot be read."""
        if catalog not in self._linkers:
            try:
                self._linkers[catalog] = ProductLinker.from_file(catalog)
            except CatalogError as exc:
                log.error("selling_points: %s; its rooms' selling points name no product", exc)
                self._linkers[catalog] = None
        return self._linkers[catalog]

    def room_linker(self, room_id: str) -> ProductLinker | None:
        try:
            catalog = room_catalog(self.settings.rooms_file, room_id) or self.u.catalog
        except RoomConfigError as exc:
            log.error("selling_points: %s", exc)
            catalog = self.u.catalog
        return self.linker_of(catalog) if catalog is not None else None

    def new_state(self, room_id: str) -> RoomSegments:
        self.load_models()  # loaded already by the runtime; here for direct use (tests, benches)
        return RoomSegments(SellingPointSegmenter(self.classifier, self.u.segment_max_gap_ms, self.u.segment_max_ms,
                                                  multi_label=self.multi_label, linker=self.room_linker(room_id)))

    def held_end_ms(self, inp: Input) -> int | None:
        ev = inp.event
        return ev.end_ms if isinstance(ev, Transcript) and ev.is_final and ev.text.strip() else None

    def held_from_ms(self, room: RoomSegments) -> int | None:
        current = room.segmenter.current()
        return current.start_ms if current is not None else None

    def handle(self, inp: Input, room: RoomSegments) -> list[Output]:
        ev = inp.event
        if isinstance(ev, StreamMarker):  # the media ended: close the room's open segment (then forgotten)
            return self.outputs(ev.room_id, room.segmenter.finish(), room.last_ingested_at) if ev.marker == "end" else []
        if isinstance(ev, SegmentRef) or not ev.is_final or not ev.text.strip():
            return []
        room.last_final_at, room.last_ingested_at = inp.received_at, ev.ingested_at
        closed = room.segmenter.insert_sentence(ev.text, ev.start_ms, ev.end_ms, [w.model_dump() for w in ev.words])
        return self.outputs(ev.room_id, closed, ev.ingested_at)

    def close_quiet(self, room_id: str, room: RoomSegments, now: float) -> list[Output]:
        """The host stopped talking: close a segment whose last sentence is older than the gap."""
        if room.last_final_at and now - room.last_final_at > self.u.segment_max_gap_ms / 1000 + 1.0:
            if room.segmenter.current() is not None:
                room.last_final_at = 0.0
                return self.outputs(room_id, room.segmenter.finish(), room.last_ingested_at)
        return []

    @staticmethod
    def outputs(room_id: str, segments, ingested_at: float) -> list[Output]:
        return [Output("selling_points", SellingPoint(
            room_id=room_id, event_id=f"{room_id}:sp:{seg.start_ms}:{seg.label}", stream_ms=seg.end_ms,
            ingested_at=ingested_at, segment_id=f"{room_id}:{seg.start_ms}", category=seg.category,
            label=seg.label, label_zh=seg.label_zh, label_en=seg.label_en, start_ms=seg.start_ms,
            end_ms=seg.end_ms, text=seg.text, confidence=min(max(seg.confidence, 0.0), 1.0),
            evidence=list(seg.evidence)[:20], closed=True, chit_chat=seg.is_chit_chat,
            words=[w if isinstance(w, Word) else Word(**w) for w in seg.words],
            labels=[SpanLabel.model_validate(label) for label in seg.labels], product_id=seg.product_id,
            product_name_zh=seg.product_name_zh, product_name_en=seg.product_name_en)) for seg in segments]


def register(ctx: AppContext) -> None:
    processor = SellingPointsProcessor(ctx.settings)
    attached = attach(ctx, processor)

    @ctx.app.timer(interval=1.0)
    async def close_quiet_segments():
        now = time.time()
        for room_id, room in list(attached.rooms.items()):
            outputs = processor.close_quiet(room_id, room, now)
            if outputs:
                await attached.emit(outputs)
                attached.release(room_id)
