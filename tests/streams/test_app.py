"""The worker's shared dispatch agent (AppContext.on_event / start_dispatch, dispatch_event)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from streams.app import AppContext, create_app, dispatch_event
from streams.observability import HANDLER_ERRORS
from streams.settings import Settings
from streams.topics import TopicNames


def _event(topic: str = "t.chat", offset: int = 7):
    return SimpleNamespace(value=b"{}", message=SimpleNamespace(topic=topic, partition=1, offset=offset))


def _context() -> AppContext:
    settings = Settings(topic_prefix="t", app_id="dispatch-test", partitions=4, _env_file=None)
    # no broker is contacted: a faust app only connects when its worker starts
    return AppContext(app=create_app(settings, "127.0.0.1:1"), settings=settings,
                      topics=TopicNames("t"), redis_url="redis://127.0.0.1:1")


async def test_handlers_run_in_order_with_the_same_event():
    seen = []

    async def first(event):
        seen.append(("first", event))

    async def second(event):
        seen.append(("second", event))

    event = _event()
    await dispatch_event([("a", first), ("b", second)], event)
    assert seen == [("first", event), ("second", event)]


async def test_a_failing_handler_is_logged_and_counted_and_the_next_still_runs(caplog):
    ran = []

    async def broken(event):
        raise ValueError("bug in processor a")

    async def healthy(event):
        ran.append(event.message.offset)

    before = HANDLER_ERRORS.labels("a")._value.get()
    with caplog.at_level(logging.ERROR, logger="streams.app"):
        await dispatch_event([("a", broken), ("b", healthy)], _event(offset=42))
    assert ran == [42]
    assert HANDLER_ERRORS.labels("a")._value.get() == before + 1
    assert "a: handler failed on t.chat[1] offset 42" in caplog.text
    assert "bug in processor a" in caplog.text  # the traceback is in the log


def test_one_agent_reads_the_union_of_the_handlers_topics_and_routes_by_topic():
    ctx = _context()

    async def chat_only(event):
        pass

    async def chat_and_commerce(event):
        pass

    ctx.on_event("chat", ["chat"], chat_only)
    ctx.on_event("metrics", ["chat", "commerce"], chat_and_commerce)
    assert ctx.handlers_by_topic() == {"t.chat": [("chat", chat_only), ("metrics", chat_and_commerce)],
                                       "t.commerce": [("metrics", chat_and_commerce)]}
    ctx.start_dispatch()
    agents = list(ctx.app.agents.values())
    assert [a.name for a in agents] == ["dispatch-test.dispatch"]
    assert set(agents[0].channel.topics) == {"t.chat", "t.commerce"}


def test_no_handlers_no_agent():
    ctx = _context()
    ctx.start_dispatch()
    assert not ctx.app.agents


def test_models_loaded_sets_the_collector_thresholds(monkeypatch):
    import gc

    before = gc.get_threshold()
    ctx = _context()
    ctx.settings = ctx.settings.model_copy(update={"gc_thresholds": (900, 11, 77), "gc_freeze": False})
    try:
        ctx.models_loaded("nothing")
        assert gc.get_threshold() == (900, 11, 77)
    finally:
        gc.set_threshold(*before)


def test_count_based_commits_are_off_by_default_and_configurable():
    # faust's count-based commit runs inside its fetch loop and stops delivery while it lasts
    def consumer_commit_every(**overrides):
        settings = Settings(topic_prefix="t", app_id="commit-test", _env_file=None, **overrides)
        return create_app(settings, "livelens://127.0.0.1:1").consumer._commit_every  # no broker contacted

    # off: a count no worker reaches (a year at a million acks a second is ~3.2e13)
    assert consumer_commit_every() > 10**15
    assert consumer_commit_every(commit_every=5000) == 5000


async def test_a_failing_handler_hands_the_event_to_on_error_before_dispatch_returns():
    kept = []

    async def broken(event):
        raise KeyError("room-1")

    async def on_error(processor, event, exc):
        kept.append((processor, event.message.offset, type(exc).__name__))

    await dispatch_event([("a", broken)], _event(offset=9), on_error)
    assert kept == [("a", 9, "KeyError")]


async def test_handler_failed_writes_a_dead_letter_with_processor_and_exception_and_waits_for_it():
    import asyncio

    from streams.schemas import DeadLetter

    ctx = _context()
    sent, delivered = [], asyncio.Event()

    class _Topic:
        async def send(self, key, value):
            sent.append((key, value))
            fut = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.05, lambda: (fut.set_result(None), delivered.set()))
            return fut

    ctx.topic = lambda name: _Topic()
    event = SimpleNamespace(value=b'{"kind": "chat", "text": "x"}', key=b"room-1",
                            message=SimpleNamespace(topic="t.chat", partition=0, offset=3))
    await ctx.handler_failed("recommender", event, ZeroDivisionError("division by zero"))
    assert delivered.is_set(), "returned before the dead letter was delivered"
    (key, value), = sent
    dl = DeadLetter.model_validate_json(value)
    assert key == b"room-1" and dl.room_id == "room-1" and dl.source_topic == "chat"
    assert dl.processor == "recommender"
    assert dl.reason == "handler error in recommender: ZeroDivisionError: division by zero"
    assert dl.payload == '{"kind": "chat", "text": "x"}'


def test_faust_keeps_its_data_dir_under_data_dir_not_the_working_directory(tmp_path):
    settings = Settings(topic_prefix="t", app_id="datadir-test", data_dir=tmp_path / "var", _env_file=None)
    app = create_app(settings, "127.0.0.1:1")
    assert app.conf.datadir == tmp_path / "var" / "faust" / "datadir-test-data"
