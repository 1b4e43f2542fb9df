"""ChatRefinerProcess: the chat encoder heads in a child process; a dead child is replaced."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from concurrent.futures.process import BrokenProcessPool

import pytest

from processors.chat_refiner import ChatRefinerProcess

REPO = Path(__file__).resolve().parents[2]


def _wait_gone(pid: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # our child: reap it once it is a zombie
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            return
        time.sleep(0.05)
    raise AssertionError(f"child {pid} still alive")


async def test_a_flush_is_refined_in_the_child_and_a_killed_child_is_replaced():
    refiner = ChatRefinerProcess("use-multilingual", batch=2, nice=7)
    try:
        first = await refiner.analyze(["主播好漂亮", "this dress is awful, I want a refund", "多少钱"])
        assert [a.sentiment.label for a in first][:2] == ["positive", "negative"]
        assert all(len(a.emotion_probabilities) == 7 for a in first)
        assert all(a.sentiment.evidence == [] for a in first)  # sent back lean
        (pid,) = list(refiner._pool._processes)
        assert pid != os.getpid()
        # the worker's loop comes first when the cores are busy
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0) + 7
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
        with pytest.raises(BrokenProcessPool):
            await refiner.analyze(["好看"])
        again = await refiner.analyze(["好看", "love it"])  # a new child
        assert [a.sentiment.label for a in again] == ["positive", "positive"]
        assert list(refiner._pool._processes) != [pid]
    finally:
        refiner.close()


async def test_no_encoder_call_starts_after_the_deadline():
    refiner = ChatRefinerProcess("use-multilingual", batch=2)
    try:
        out = await refiner.analyze(["好看", "多少钱", "几号发货", "太贵了", "love it"], deadline=time.monotonic() - 1)
        assert len(out) == 2  # the first call always runs; the rest keep the fast decision
    finally:
        refiner.close()


def test_the_child_exits_when_its_worker_is_killed(tmp_path):
    """SIGKILL closes nothing in the worker: the child notices its parent is gone and exits."""
    import subprocess
    import sys

    script = tmp_path / "worker.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from processors.chat_refiner import ChatRefinerProcess\n"
        "if __name__ == '__main__':\n"
        "    r = ChatRefinerProcess('use-multilingual'); r.start()\n"
        "    print(*r._pool._processes, flush=True); sys.stdin.read()\n")  # alive until killed
    worker = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        child = int(worker.stdout.readline())
        os.kill(child, 0)  # alive
    finally:
        worker.kill()
        worker.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the child outlived its worker by 60 s")


async def test_the_child_runs_the_encoder_in_the_precision_asked_for():
    from models.understanding.chat import ChatAnalyzer

    texts = ["主播好漂亮", "质量太差了，退货！", "this dress is awful, I want a refund", "几号发货"]
    refiner = ChatRefinerProcess("use-multilingual", batch=4, precision="bfloat16")
    try:
        refiner.start()
        child_precision = await __import__("asyncio").get_running_loop().run_in_executor(
            refiner._pool, _child_encoder_precision)
        assert child_precision == "bfloat16"
        out = await refiner.analyze(texts)
        expected = ChatAnalyzer(encoder="use-multilingual").analyze_many(texts)  # float32, in this process
        assert [(a.sentiment.label, a.intent.label) for a in out] == \
            [(e.sentiment.label, e.intent.label) for e in expected]
    finally:
        refiner.close()


def _child_encoder_precision() -> str:
    """In the child: the precision of the encoder its heads use."""
    from processors import chat_refiner

    return chat_refiner._analyzer.encoder_heads.encoder.precision
