"""Retention around selling points on the room page, end to end in headless Chromium: viewer
counts (commerce input, through the Publisher) and a closed selling point (an output event on its
topic) go through a real ``metrics`` worker, which computes the retention live; the page shows it
in the room's language and updates it over SSE when the minute after the selling point is over.
The same rooms check the fusion "why" under an explain-next recommendation, in the room's language."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from pydantic import SecretStr

from streams.ingest.publisher import Publisher
from streams.schemas import CommerceEvent, Recommendation, SellingPoint, Transcript
from streams.topics import TopicNames
from tests.integration.conftest import broker, producer, redis_server, settings, worker_factory  # noqa: F401
from tests.sinks.web.live_server import serve
from tests.sinks.web.test_dashboard_e2e import SCREENSHOTS, TOKEN, require_browser, sign_in, start_chromium, wait_until

pytestmark = pytest.mark.integration

FIRST_ROW = """const row = document.querySelector('#retention .retention-row');
return [row.className, [...row.querySelectorAll('td')].map((td) => td.textContent)];"""
TEXT = {"zh": ("家人们看这个面料，纯棉的", "面料材质", "卖点前后的观众留存", "进入"),
        "en": ("Look at this fabric, pure cotton", "Fabric material", "Retention around selling points", "joined")}


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_room_page_shows_viewers_joining_and_leaving_around_each_selling_point(
        settings, producer, worker_factory, tmp_path, lang):  # noqa: F811
    require_browser()
    from selenium.webdriver.common.by import By

    from sinks.web.app import create_api

    room = f"retention-room-{lang}"
    text, label, title, joined_header = TEXT[lang]
    await worker_factory(["metrics"])
    topics = TopicNames(settings.topic_prefix)
    publisher = Publisher(producer, topics)
    await publisher.marker(room, "start", 0)
    counts = {0: 1000, 10: 1100, 20: 1050, 30: 1200}  # while the selling point runs (5 s - 30 s)
    for second, count in counts.items():
        await publisher.publish("commerce", CommerceEvent(room_id=room, stream_ms=second * 1000, type="viewers", count=count))
    await publisher.flush()
    point = SellingPoint(room_id=room, stream_ms=31_000, processor="e2e", segment_id="sp-1", category="apparel",
                         label="fabric_material", label_zh="面料材质", label_en="Fabric material", start_ms=5_000,
                         end_ms=30_000, text=text, confidence=0.9)
    transcript = Transcript(room_id=room, stream_ms=30_000, processor="e2e", segment_id="t1", is_final=True, start_ms=5_000,
                            end_ms=30_000, language=lang, text=text)
    explain = Recommendation(room_id=room, stream_ms=31_000, processor="e2e", rec_type="explain_next",
                             message_zh="下一个讲「面料材质」：讲完后成交比平时高40%", message_en="Explain Fabric material next",
                             reason="fabric_material: uplift", priority=58, expires_ms=31_000 + 3_600_000,
                             dedup_key=f"{room}:explain_next:fabric_material",
                             evidence={"label": "fabric_material", "fusion_why_zh": "讲解 +22%，弹幕 +5%",
                                       "fusion_why_en": "pitch +22%, chat +5%"})
    for topic, event in (("selling_points", point), ("transcripts", transcript), ("recommendations", explain)):
        await producer.send_and_wait(topics.full(topic), event.to_bytes(), key=event.key)

    api = create_api(settings.model_copy(update={"api_token": SecretStr(TOKEN)}), settings.redis_url.get_secret_value(),
                     kafka_bootstrap=None)
    with serve(api) as base:
        driver = await asyncio.to_thread(start_chromium, tmp_path / "chromium-profile")
        try:
            await asyncio.to_thread(sign_in, driver, base, TOKEN, f"/dashboard/room/{room}")
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#retention .retention-row"),
                                    "the retention row of the closed selling point")
            assert driver.execute_script("return document.documentElement.lang") == lang
            assert driver.find_element(By.CSS_SELECTOR, "#retention-panel h2").get_attribute("textContent") == title
            assert joined_header in driver.find_element(By.ID, "retention").get_attribute("textContent")
            # read in one go: the page re-renders (new elements) as events arrive
            classes, cells = driver.execute_script(FIRST_ROW)
            assert cells[0].startswith(label), cells
            assert cells[1:] in (["1,000 → 1,200 → …", "+250", "−50"], ["1000 → 1200 → …", "+250", "−50"]), cells
            assert "open" in classes
            # the fusion why under the explain-next, in the room's language only
            why = {"zh": "原因: 讲解 +22%，弹幕 +5%", "en": "why: pitch +22%, chat +5%"}[lang]
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#recommendations .why"),
                                    "the explain-next with its why")
            assert driver.execute_script("return document.querySelector('#recommendations .why').textContent") == why

            # the minute after the selling point: more viewers come and go; the row becomes final, live
            for second, count in {40: 1180, 60: 1300, 90: 1250}.items():
                await publisher.publish("commerce", CommerceEvent(room_id=room, stream_ms=second * 1000, type="viewers", count=count))
            await publisher.flush()
            await asyncio.to_thread(wait_until, driver, lambda d: "final" in d.execute_script(FIRST_ROW)[0],
                                    "the final retention row over SSE")
            cells = driver.execute_script(FIRST_ROW)[1]
            assert cells[1:] in (["1,000 → 1,200 → 1,250", "+370", "−120"], ["1000 → 1200 → 1250", "+370", "−120"]), cells
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(SCREENSHOTS / f"retention-{lang}.png"))
        finally:
            await asyncio.to_thread(driver.quit)
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
