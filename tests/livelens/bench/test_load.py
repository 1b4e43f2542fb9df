"""``livelens bench load`` on 2 rooms for ~5 s through the real (embedded) broker and workers:
the report is JSON with every field, and latency was measured (timings are never asserted)."""

from __future__ import annotations

import json

import pytest

from livelens.bench.load import LoadOptions, run_load
from streams.settings import Settings

pytestmark = pytest.mark.integration


async def test_load_two_rooms_reports_latency_cpu_and_rates(tmp_path, sample_room_dir):
    settings = Settings(_env_file=None, kafka_bootstrap=None, redis_url=None, data_dir=tmp_path / "var",
                        partitions=4)
    # one hot room (20 msg/s), a size-question burst within the first 2 s, short cooldowns
    opts = LoadOptions(seconds=5.0, hot_every=2, hot_rate=20.0, burst_every=2.0, rec_cooldown_s=2.0, settle_s=0.0)
    result = json.loads(json.dumps(await run_load(settings, [2], opts, find_max=False,
                                                  sample_dir=sample_room_dir.parent)))

    assert result["asr"] is False and len(result["steps"]) == 1
    step = result["steps"][0]
    assert step["rooms"] == 2 and step["hot_rooms"] == 1
    for key in ("offered_per_s", "chat_offered_per_s", "chat_processed_per_s", "chat_refined_pct", "drain_s", "kept_up",
                "recommendations", "alerts", "per_stage", "cpu_pct", "peak_rss_mb", "within_budget", "rec_types",
                "rec_latency_by_type", "cpu_pct_timeline"):
        assert key in step, key
    assert step["offered"]["chat"] > 0 and step["offered"]["commerce"] > 0 and step["offered"]["transcripts"] > 0
    # every chat message went through the chat processor and came back through the broker
    assert step["chat_processed"] >= step["offered"]["chat"]
    insights = step["per_stage"]["chat/chat_insight"]
    assert insights["n"] > 0 and insights["p50_ms"] is not None and insights["p50_ms"] <= insights["p99_ms"]
    # the burst of size questions made the recommender fire, and its latency was measured
    assert step["recommendations"]["n"] > 0 and step["recommendations"]["p99_ms"] is not None
    assert sum(step["rec_types"].values()) >= step["recommendations"]["n"]
    # per type, the same samples: every measured recommendation is in exactly one type's figures
    by_type = step["rec_latency_by_type"]
    assert set(by_type) <= set(step["rec_types"])
    assert sum(v["n"] for v in by_type.values()) == step["recommendations"]["n"]
    assert step["cpu_pct"]["worker-light"] > 0 and step["peak_rss_mb"]["worker-light"] > 0
    assert "broker" in step["cpu_pct"]  # the embedded broker's process was found and sampled
    # a CPU point per 5 s of the ~5 s offered: at most one, and only for the sampled processes
    assert step["cpu_timeline_s"] == 5.0 and set(step["cpu_pct_timeline"]) == set(step["cpu_pct"])
    assert all(len(points) <= 1 for points in step["cpu_pct_timeline"].values())
    assert len(step["machine_ref_ms"]) == 2 and all(ms > 0 for ms in step["machine_ref_ms"])
    assert "rules' cooldown" in result["note"]


def test_a_workers_cpu_and_memory_include_its_child_processes():
    """The chat encoder's refiner is a child of the light worker: the bench counts it as the worker's."""
    import os
    import subprocess
    import sys

    from livelens.bench.load import _proc_rss_mb, proc_cpu_s, with_children

    # holds 64 MB until its stdin closes (killed below)
    child = subprocess.Popen([sys.executable, "-c", "import sys; x = bytearray(64 << 20); sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        import time

        deadline = time.monotonic() + 60
        while _proc_rss_mb(child.pid) < 64 and time.monotonic() < deadline:  # until it holds its 64 MB
            time.sleep(0.05)
        assert child.pid in with_children(os.getpid()) and os.getpid() in with_children(os.getpid())
        assert _proc_rss_mb(os.getpid(), children=True) >= _proc_rss_mb(os.getpid()) + 60
        assert proc_cpu_s(os.getpid(), children=True) >= proc_cpu_s(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_the_light_pool_can_be_narrowed_to_known_processors_only():
    import typer

    from livelens.bench.load import LIGHT_POOL, _processor_list

    assert _processor_list("metrics, chat,recommender") == ["metrics", "chat", "recommender"]
    assert _processor_list(",".join(LIGHT_POOL)) == LIGHT_POOL
    with pytest.raises(typer.BadParameter, match="unknown: asr"):
        _processor_list("chat,asr")
    with pytest.raises(typer.BadParameter, match="choose among"):
        _processor_list(" , ")


def test_own_pools_move_processors_out_of_the_light_worker_into_workers_of_their_own():
    from livelens.bench.load import LIGHT_POOL, LoadOptions, worker_pools

    pools = worker_pools(LoadOptions(own_pools=["chat"]))
    assert pools["chat"] == ["chat"]
    assert "chat" not in pools["light"] and set(pools["light"]) | {"chat"} == set(LIGHT_POOL)
    assert worker_pools(LoadOptions()) == {"light": LIGHT_POOL}
    with_all = worker_pools(LoadOptions(asr=True, sink_pool=True, own_pools=["chat", "compliance"]))
    assert set(with_all) == {"light", "chat", "compliance", "heavy", "sinks"} and with_all["sinks"] == []
    # a processor the light pool does not hold gets no pool of its own
    assert "chat" not in worker_pools(LoadOptions(light_processors=["metrics"], own_pools=["chat"]))
