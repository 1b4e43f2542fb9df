"""The machine reference: a fixed workload (same result every run) whose CPU time is reported."""

from __future__ import annotations

from livelens.bench import machine


def test_the_workload_is_fixed_and_scales_with_its_size():
    assert machine._workload(50) == machine._workload(50)
    assert machine._workload(100) > machine._workload(50)


def test_reference_is_the_median_cpu_time_in_ms(monkeypatch):
    clock = iter([0.0, 0.010, 1.0, 1.030, 2.0, 2.020])  # three runs: 10, 30, 20 ms of CPU
    monkeypatch.setattr(machine.time, "process_time", lambda: next(clock))
    monkeypatch.setattr(machine, "_workload", lambda n=2000: 0)
    assert machine.reference_ms(repeats=3) == 20.0
