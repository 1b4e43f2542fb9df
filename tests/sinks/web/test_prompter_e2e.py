"""The host prompter end to end, in headless Chromium, against a running worker's Redis sink.

Recommendations, chat windows and alerts are published as OUTPUT events on their topics (no
processor makes them in this worker); the page loads them from the read API, then updates over SSE.
"""

from __future__ import annotations

import asyncio
import re
import shutil

import pytest
from pydantic import SecretStr

from streams.schemas import Alert, ChatWindow, Recommendation, Transcript
from streams.topics import TopicNames
from tests.integration.conftest import broker, producer, redis_server, settings, worker_factory  # noqa: F401
from tests.sinks.web.live_server import serve
from tests.sinks.web.test_dashboard_e2e import (SCREENSHOTS, TOKEN, publish_outputs, require_browser, sign_in, start_chromium,
                                               text_of, wait_until)

pytestmark = pytest.mark.integration
ROOM = "prompter-room"
XSS_QUESTION = '<img src=x onerror="window.__xss=1">我160穿什么码'


def _explain(stream_ms: int, label: str, message_zh: str, message_en: str) -> Recommendation:
    return Recommendation(room_id=ROOM, stream_ms=stream_ms, processor="recommend", rec_type="explain_next",
                          message_zh=message_zh, message_en=message_en, reason=f"{label}: uplift", priority=58,
                          expires_ms=stream_ms + 120_000, dedup_key=f"{ROOM}:explain_next:{label}",
                          evidence={"label": label, "uplift": 0.4, "uplift_lo": 0.1, "uplift_hi": 0.8,
                                    "minutes_since_explained": 6.0, "top_question": ""})


def first_outputs() -> list:
    room = {"room_id": ROOM, "processor": "e2e"}
    return [
        Transcript(**room, stream_ms=50_000, segment_id="s1", is_final=True, start_ms=46_000, end_ms=50_000, language="zh",
                   text="家人们看过来，这件衬衫是纯棉的"),
        ChatWindow(**room, stream_ms=58_000, start_ms=48_000, end_ms=58_000, messages=30,
                   top_questions=[XSS_QUESTION, "什么时候发货"]),
        _explain(60_000, "fabric_material", "下一个讲「面料材质」：讲完后成交比平时高40%（区间+10%~+80%），上次讲是6分钟前",
                 "Explain Fabric material next: after it orders ran 40% above normal, last explained 6 min ago"),
        Recommendation(**room, stream_ms=60_000, rec_type="launch_coupon", message_zh="发一张满199减20的优惠券",
                       message_en="Launch a 20 off 199 coupon", reason="viewers falling", priority=60,
                       expires_ms=150_000, dedup_key=f"{ROOM}:launch_coupon"),
        Alert(**room, stream_ms=59_000, alert_type="compliance_absolute_claim", state="open", severity="critical",
              dedup_key=f"{ROOM}:compliance:absolute_claim", message="Absolute claim: 'the best' is not allowed",
              evidence={"message_zh": "不能说“全网最好”：绝对化用语"}),
    ]


async def test_the_prompter_shows_what_to_say_next_in_large_type_and_updates_live(
        settings, producer, worker_factory, tmp_path):  # noqa: F811
    require_browser()
    from selenium.webdriver.common.by import By

    from sinks.web.app import create_api

    await worker_factory(["metrics"])
    topics = TopicNames(settings.topic_prefix)
    await publish_outputs(producer, topics, *first_outputs())
    api = create_api(settings.model_copy(update={"api_token": SecretStr(TOKEN)}), settings.redis_url.get_secret_value(),
                     kafka_bootstrap=None)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(api) as base:
        driver = await asyncio.to_thread(start_chromium, tmp_path / "chromium-profile")
        try:
            driver.set_window_size(1024, 768)  # a tablet on its side beside the camera
            await asyncio.to_thread(sign_in, driver, base, TOKEN, f"/dashboard/prompter/{ROOM}")
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_element(By.ID, "conn").text == "● live", "the SSE feed")
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_element(By.ID, "next-title").text == "下一个讲「面料材质」",
                                    "the explain-next headline")
            assert "成交比平时高40%" in driver.find_element(By.ID, "next-reason").text
            driver.execute_script("window.__loadMarker = 'first-load'")
            # the room speaks Chinese: so does the page
            assert driver.execute_script("return document.documentElement.lang") == "zh"
            assert "观众在问" in text_of(driver, ".question .label")
            # the top viewer question, literally (untrusted text is never markup)
            assert driver.find_element(By.ID, "question").text == XSS_QUESTION
            assert driver.find_elements(By.CSS_SELECTOR, "body img, #question *") == []
            # a suggested promotion, but none running in the commerce feed: no countdown is made up
            assert driver.find_element(By.ID, "promo-text").text == "建议: 发一张满199减20的优惠券"
            assert driver.find_element(By.ID, "promo-countdown").text == "–"
            # the compliance warning, across the top, in the room's language
            box = driver.find_element(By.ID, "compliance")
            assert box.is_displayed() and "全网最好" in box.text
            # readable from two metres: the headline is big, light on black
            size = float(driver.execute_script(
                "return parseFloat(getComputedStyle(document.getElementById('next-title')).fontSize)"))
            assert size >= 48, size
            assert driver.execute_script("return getComputedStyle(document.body).backgroundColor") == "rgb(0, 0, 0)"

            # ---- a new explain_next after the page loaded replaces the headline over SSE
            await publish_outputs(producer, topics, _explain(
                75_000, "size_guidance", "下一个讲「尺码建议」：观众在问尺码，上次讲是12分钟前",
                "Explain Size guidance next: viewers ask about size, last explained 12 min ago"))
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_element(By.ID, "next-title").text == "下一个讲「尺码建议」",
                                    "the newer explain-next")
            assert "12分钟前" in driver.find_element(By.ID, "next-reason").text
            assert driver.execute_script("return window.__loadMarker") == "first-load", "the page was reloaded"
            driver.save_screenshot(str(SCREENSHOTS / "prompter.png"))
            # the compliance warning goes once it is resolved
            await publish_outputs(producer, topics, Alert(
                room_id=ROOM, stream_ms=76_000, processor="e2e", alert_type="compliance_absolute_claim", state="resolved",
                severity="critical", dedup_key=f"{ROOM}:compliance:absolute_claim", message="resolved"))
            await asyncio.to_thread(wait_until, driver, lambda d: not d.find_element(By.ID, "compliance").is_displayed(),
                                    "the resolved compliance warning to go")
            assert driver.execute_script("return window.__xss") is None
        finally:
            await asyncio.to_thread(driver.quit)
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_promotion_countdown_runs_to_the_end_the_commerce_feed_gave(
        settings, producer, worker_factory, tmp_path, lang):  # noqa: F811
    """promotion_start / promotion_end commerce events go through the metrics worker (a
    ``promotion`` event each) to the page: the countdown is to the promotion's own end, never a
    recommendation's expiry; it goes when the promotion ends."""
    require_browser()
    from selenium.webdriver.common.by import By

    from sinks.web.app import create_api
    from streams.ingest.publisher import Publisher
    from streams.schemas import CommerceEvent

    room = f"promo-room-{lang}"
    title = {"zh": "限时秒杀 · 纯棉衬衫 59元", "en": "Flash deal · cotton shirt $9"}[lang]
    await worker_factory(["metrics"])
    topics = TopicNames(settings.topic_prefix)
    publisher = Publisher(producer, topics)
    await publisher.marker(room, "start", 0)
    text = {"zh": "家人们，秒杀开始了", "en": "Folks, the flash deal starts now"}[lang]
    suggestion = Recommendation(room_id=room, stream_ms=30_000, processor="e2e", rec_type="run_promotion",
                                message_zh="可以发一张优惠券", message_en="Run a coupon", reason="uplift", priority=50,
                                expires_ms=31_000 + 3_600_000, dedup_key=f"{room}:run_promotion")
    await publish_outputs(producer, topics, Transcript(
        room_id=room, stream_ms=30_000, processor="e2e", segment_id="s1", is_final=True, start_ms=27_000, end_ms=30_000,
        language=lang, text=text), suggestion)
    # a promotion that runs 5 minutes from stream minute 1
    await publisher.publish("commerce", CommerceEvent(room_id=room, stream_ms=60_000, type="promotion_start",
                                                      promotion_id="flash-1", title=title, product_id="sku-1",
                                                      ends_ms=60_000 + 300_000))
    await publisher.flush()
    api = create_api(settings.model_copy(update={"api_token": SecretStr(TOKEN)}), settings.redis_url.get_secret_value(),
                     kafka_bootstrap=None)
    with serve(api) as base:
        driver = await asyncio.to_thread(start_chromium, tmp_path / "chromium-profile")
        try:
            await asyncio.to_thread(sign_in, driver, base, TOKEN, f"/dashboard/prompter/{room}")
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_element(By.ID, "conn").text == "● live", "the SSE feed")
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_element(By.ID, "promo-text").text == title,
                                    "the running promotion's title")
            assert driver.execute_script("return document.documentElement.lang") == lang
            assert driver.execute_script("return document.body.dataset.promotion") == "flash-1"
            # stream time is 60 s (the newest event): 5:00 left, counting down with the wall clock
            first = driver.find_element(By.ID, "promo-countdown").text
            assert re.fullmatch(r"[45]:\d\d", first), first
            seconds = lambda s: int(s.split(":")[0]) * 60 + int(s.split(":")[1])  # noqa: E731
            await asyncio.to_thread(wait_until, driver,
                                    lambda d: seconds(d.find_element(By.ID, "promo-countdown").text) < seconds(first),
                                    "the countdown to move", 10.0)
            # the feed says it ended early: the countdown goes; the suggestion is shown as one, without a countdown
            await publisher.publish("commerce", CommerceEvent(room_id=room, stream_ms=90_000, type="promotion_end",
                                                              promotion_id="flash-1"))
            await publisher.flush()
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_element(By.ID, "promo-countdown").text == "–",
                                    "the ended promotion's countdown to go")
            suggested = {"zh": "建议: 可以发一张优惠券", "en": "Suggested: Run a coupon"}[lang]
            assert driver.find_element(By.ID, "promo-text").text == suggested
            assert driver.execute_script("return document.body.dataset.promotion") == ""
        finally:
            await asyncio.to_thread(driver.quit)
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
