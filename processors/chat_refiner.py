"""The chat encoder heads in a child process of their own (``understanding.chat_encoder_process``).

Why a process: the light worker's one event loop runs every light processor; the encoder heads
(USE-multilingual in numpy + three linear heads, ~0.3–0.5 ms of CPU a distinct message) in a
thread of that process share its interpreter with the loop, and at 50 rooms the worker's one
core saturates (BENCHMARKS.md). In a child, refinement runs on the machine's other core and the
loop only pickles texts out and decisions back (a few µs a message).

The child is started with ``spawn`` (never ``fork``: the worker runs threads — faust's consumer,
the runtime's pools — and a forked copy of their locks can deadlock). It loads the analyzer once;
each call refines one flush, ``batch`` messages per encoder call, and starts no call after the
deadline (``time.monotonic``, one clock for every process on the machine): the rest keep the fast
decision. If the child dies, the call raises and the next one starts a new child; if the worker
dies, the child exits within a second.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from models.understanding.chat import ChatAnalysis
from models.understanding.classification import Classification

log = logging.getLogger(__name__)

_analyzer = None  # the child's ChatAnalyzer (set by _start, in the child)


def _exit_with_parent(parent: int) -> None:
    """A worker killed with SIGKILL closes nothing: the child, waiting for its next call, would
    live on (~200 MB) as an orphan. It checks once a second that its parent is still there."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _start(encoder: str, weights: str | None, nice: int = 0, precision: str = "float32") -> None:
    """Child initialiser: one BLAS thread (the worker's loop keeps the other core), a lower CPU
    priority (``nice``: the worker's loop comes first when the cores are busy, and the flush
    budget sheds what the child could not refine), then the heads."""
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="parent-watch").start()
    if nice:
        os.nice(nice)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from models.understanding.chat import WEIGHTS_PATH, ChatAnalyzer

    global _analyzer
    _analyzer = ChatAnalyzer(weights or WEIGHTS_PATH, encoder=encoder, encoder_precision=precision)


def _ready() -> str:
    """Loads the encoder's lazily loaded parts now (first call), so no flush pays for it."""
    _analyzer.analyze_many(["预热一下", "warm up"])
    return _analyzer.name


def _lean(analysis: ChatAnalysis) -> ChatAnalysis:
    """What the insight needs, without the evidence lists (less to pickle back)."""
    def c(x: Classification) -> Classification:
        return Classification(x.label, x.confidence, {}, [])

    return ChatAnalysis(c(analysis.sentiment), c(analysis.emotion), c(analysis.intent),
                        sentiment_score=analysis.sentiment_score,
                        emotion_probabilities=analysis.emotion_probabilities)


def analyze_until(analyzer, texts: list[str], batch: int, deadline: float | None) -> list[ChatAnalysis]:
    """Analyses of the first texts, ``batch`` per encoder call, no call started after ``deadline``
    (``time.monotonic``; the first call always runs): the rest keep the fast decision."""
    out: list[ChatAnalysis] = []
    for start in range(0, len(texts), batch):
        if deadline is not None and start and time.monotonic() > deadline:
            break
        out.extend(analyzer.analyze_many(texts[start:start + batch]))
    return out


def _refine(texts: list[str], batch: int, deadline: float | None) -> list[ChatAnalysis]:
    """In the child: :func:`analyze_until` with its heads, sent back lean."""
    return [_lean(a) for a in analyze_until(_analyzer, texts, batch, deadline)]


class ChatRefinerProcess:
    """A child process holding the chat encoder heads; :meth:`analyze` refines one flush."""

    def __init__(self, encoder: str, weights: Path | None = None, batch: int = 64, nice: int = 0,
                 precision: str = "float32") -> None:
        self.encoder, self.weights, self.batch = encoder, (str(weights) if weights else None), max(1, batch)
        self.nice, self.precision = nice, precision
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.name = ""

    def start(self) -> None:
        """Start the child and load its heads (blocking, ~2 s: call it in a thread)."""
        with self._lock:
            if self._pool is not None:
                return
            pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_start, initargs=(self.encoder, self.weights, self.nice, self.precision))
            self.name = pool.submit(_ready).result()
            self._pool = pool
            log.info("chat: encoder heads (%s) loaded in a child process", self.name)

    async def analyze(self, texts: list[str], deadline: float | None = None) -> list[ChatAnalysis]:
        """Analyses of ``texts`` (maybe fewer: the first ones, when the deadline passed)."""
        if self._pool is None:
            await asyncio.to_thread(self.start)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, _refine, texts, self.batch, deadline)
        except BrokenProcessPool:
            self.close()  # the child died (killed, out of memory): the next call starts a new one
            raise

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
