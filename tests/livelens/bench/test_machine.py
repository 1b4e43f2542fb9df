"""The machine reference: a fixed workload (same result every run) whose CPU time is reported."""

from __future__ import annotations

from livelens.bench import machine


def test_the_workload_is_fixed_and_scales_with_its_size():
    assert machine._workload(50) == machine._workload(50)
    assert machine._workload(100) > machine._workload(50)


def test_reference_is_the_median_cpu_time_in_ms(monkeypatch):
    clock = iter([0.0, 0.010, 1.0, 1.030, 2.0, 2.020])  # three runs: 10, 30, 20 ms of this thread's CPU
    monkeypatch.setattr(machine.time, "thread_time", lambda: next(clock))
    monkeypatch.setattr(machine, "_workload", lambda n=2000: 0)
    assert machine.reference_ms(repeats=3) == 20.0


def test_reference_counts_only_its_own_thread():
    """Other threads' CPU (OpenBLAS's spinning workers doubled a plain run's figure) is not counted."""
    import threading
    import time

    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin, daemon=True)
    start = time.thread_time()
    spinner.start()
    try:
        reported = machine.reference_ms(repeats=1)
    finally:
        stop.set()
        spinner.join()
    own_ms = (time.thread_time() - start) * 1000.0
    # this thread's CPU over warm-up + run bounds the figure; the process's would add the spinner's
    # (about as much again, as the two threads take turns on the GIL)
    assert 0 < reported <= own_ms + 1.0
