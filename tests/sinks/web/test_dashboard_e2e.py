"""The ops dashboard end to end, in headless Chromium, against a RUNNING pipeline.

Real broker + Redis + a ``metrics`` worker subprocess (tests/integration fixtures); the API
served by uvicorn on a loopback port. Chat/commerce go in through the Publisher and come back
as room_metrics; kinds that no processor in this worker produces (transcripts, alerts,
recommendations, ...) are published as well-formed OUTPUT events on their output topics, which
the worker's Redis sink consumes like any other. Screenshots land in var/screenshots/.

Needs Debian's chromium + chromium-driver and selenium: ``scripts/install_browser.sh``.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import shutil
import threading
from fractions import Fraction
from pathlib import Path

import pytest
from pydantic import SecretStr

from streams.ingest.publisher import Publisher
from streams.schemas import (Alert, ChatInsight, ChatMessage, ChatWindow, Clip, CommerceEvent, ComplianceAlert,
                             ForecastPoint, Recommendation, RoomForecast, SellingPoint, Transcript)
from streams.topics import TopicNames
from tests.integration.conftest import broker, producer, redis_server, settings, worker_factory  # noqa: F401
from tests.sinks.web.live_server import serve

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "var" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1440,1500", "--lang=en-US"]
ROOM = "e2e-room"
TOKEN = "e2e-dashboard-token"
XSS_CHAT = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> 这个多少钱？'
XSS_TITLE = '<img src=x onerror="window.__xss=3">限时秒杀 · flash deal'
WINDOW_MS = 5000
COMPLIANCE_TEXT = '<b onclick="window.__xss=5">家人们</b>这款全网最低价，今天就这一场'
COMPLIANCE_TERM = "全网最低价"
COMPLIANCE_TIP = "说具体价格和优惠"


def require_browser() -> None:
    """Fail (never skip): the project's setup installs the browser."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python package selenium")
    if missing:
        pytest.fail(f"headless browser missing ({', '.join(missing)}): run scripts/install_browser.sh")


def start_chromium(profile_dir: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def wait_until(driver, condition, what: str, timeout: float = 60.0):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        # a stale element: the page re-drew that part between finding and reading it; look again
        return WebDriverWait(driver, timeout, poll_frequency=0.2,
                             ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}") from None


def sign_in(driver, base: str, token: str, page: str) -> None:
    """Open ``page`` as a new visitor: the server sends the browser to /signin, the token typed in
    there becomes a session cookie, and the browser comes back to ``page`` with no token in any URL."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}{page}")
    wait_until(driver, lambda d: d.find_elements(By.ID, "token"), "the sign-in page")
    assert driver.current_url.startswith(f"{base}/signin?next=")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "signin").click()
    wait_until(driver, lambda d: d.current_url == f"{base}{page}", f"the way back to {page} after signing in")
    cookie = driver.get_cookie("livelens_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
    assert driver.execute_script("return document.cookie").find("livelens_session") < 0, "the cookie is HttpOnly"


def text_of(driver, css: str) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))


@pytest.fixture
def clip_server(tmp_path):
    """A tiny real MP4 on a loopback HTTP server, so the clip card shows a real <video> preview."""
    import av
    import numpy as np

    path = tmp_path / "clips" / "clip-1.mp4"
    path.parent.mkdir()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        stream.time_base = Fraction(1, 10)
        y, x = np.mgrid[0:180, 0:320]
        for i in range(20):
            rgb = np.stack([(x + 8 * i) % 256, (y * 1.4).astype(int) % 256, np.full_like(x, 150)], axis=-1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    handler = functools.partial(_QuietHandler, directory=str(path.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


async def publish_room_activity(publisher: Publisher, start_s: int, end_s: int, viewers_base: int,
                                extra_chat: dict[int, str] | None = None, room: str = ROOM) -> set[int]:
    """Chat every 0.25-0.5 s, viewers each second, an order every 2 s; returns the viewer counts sent."""
    viewer_counts = set()
    for second in range(start_s, end_s):
        ms = second * 1000
        count = viewers_base + 37 * (second - start_s)
        viewer_counts.add(count)
        await publisher.publish("commerce", CommerceEvent(room_id=room, stream_ms=ms, type="viewers", count=count))
        for k in range(2 + second % 3):
            await publisher.publish("chat", ChatMessage(room_id=room, stream_ms=ms + 100 * k, user_id=f"u{(second * 3 + k) % 11}",
                                                        text=f"message {second}.{k}"))
        if extra_chat and second in extra_chat:
            await publisher.publish("chat", ChatMessage(room_id=room, stream_ms=ms + 500, user_id="u-xss",
                                                        text=extra_chat[second]))
        if second % 2 == 0:
            await publisher.publish("commerce", CommerceEvent(room_id=room, stream_ms=ms + 700, type="order",
                                                              user_id=f"u{second}", product_id="sku-1", amount=59.9))
    await publisher.flush()
    return viewer_counts


async def publish_outputs(producer, topics: TopicNames, *events) -> None:
    """Well-formed OUTPUT events straight onto their output topics (no processor runs for them here)."""
    topic_of = {"transcript": "transcripts", "selling_point": "selling_points", "chat_insight": "chat_insights",
                "chat_window": "chat_windows", "alert": "alerts", "recommendation": "recommendations", "clip": "clips",
                "compliance": "compliance", "forecast": "forecasts"}
    for event in events:
        await producer.send_and_wait(topics.full(topic_of[event.kind]), event.to_bytes(), key=event.key)


def compliance_alert() -> ComplianceAlert:
    start = COMPLIANCE_TEXT.index(COMPLIANCE_TERM)
    violation = {"kind": "absolute_term", "rule": "zh.absolute.lowest_price", "term": COMPLIANCE_TERM,
                 "start": start, "end": start + len(COMPLIANCE_TERM), "severity": "critical",
                 "law": "《广告法》第九条第（三）项", "suggestion": COMPLIANCE_TIP, "start_ms": 2000, "end_ms": 3000}
    return ComplianceAlert(room_id=ROOM, processor="e2e", stream_ms=4000, source="host", source_id="s1",
                           text=COMPLIANCE_TEXT, language="zh", start_ms=1000, end_ms=4000, severity="critical",
                           violations=[violation])


def first_outputs(clip_url: str) -> list:
    room = {"room_id": ROOM, "processor": "e2e"}
    return [
        compliance_alert(),
        Transcript(**room, stream_ms=4000, segment_id="s1", is_final=True, start_ms=1000, end_ms=4000, language="zh",
                   text="家人们看过来，这款保温杯今天直播间专属价五十九块九！"),
        Transcript(**room, stream_ms=8000, segment_id="s2", is_final=True, start_ms=4200, end_ms=8000, language="en",
                   text="It keeps drinks hot for twelve hours. <script>window.__xss=4</script>"),
        Transcript(**room, stream_ms=9500, segment_id="s3", is_final=False, start_ms=8200, end_ms=9500, language="zh",
                   text="库存只剩最后两百"),
        SellingPoint(**room, stream_ms=8000, segment_id="sp1", category="price", label="price_promo", label_zh="价格优惠",
                     label_en="price promo", start_ms=1000, end_ms=4000, confidence=0.91,
                     text="这款保温杯今天直播间专属价五十九块九"),
        SellingPoint(**room, stream_ms=9000, segment_id="sp2", category="function", label="function", label_zh="功能卖点",
                     label_en="function", start_ms=4200, end_ms=8000, confidence=0.84,
                     text="It keeps drinks hot for twelve hours."),
        ChatInsight(**room, stream_ms=3500, message_id="xss-1", user_id="u-xss", text=XSS_CHAT, sentiment="neutral",
                    emotion="curious", intent="price_question", confidence=0.8),
        ChatInsight(**room, stream_ms=5200, message_id="c2", user_id="u3", text="太贵了吧，上次才四十九", sentiment="negative",
                    emotion="anger", intent="complaint", confidence=0.7),
        ChatInsight(**room, stream_ms=6100, message_id="c3", user_id="u5", text="已下单！", sentiment="positive",
                    emotion="joy", intent="purchase", confidence=0.9),
        ChatWindow(**room, stream_ms=10000, start_ms=5000, end_ms=10000, messages=14,
                   top_questions=["这个多少钱？", "Does it ship to Shanghai?"]),
        Alert(**room, stream_ms=6000, alert_type="chat_rate_spike", state="open", severity="warning",
              dedup_key=f"chat_rate_spike:{ROOM}", message="Chat rate 3.1x the room's baseline",
              evidence={"value": 4.2, "baseline": 1.35, "window_s": 10}),
        Alert(**room, stream_ms=9000, alert_type="chat_rate_spike", state="resolved", severity="warning",
              dedup_key=f"chat_rate_spike:{ROOM}", message="Chat rate back to baseline",
              evidence={"value": 1.4, "baseline": 1.35, "window_s": 10}),
        Recommendation(**room, stream_ms=9000, rec_type="answer_price", message_zh="主播请回答价格问题：五十九块九",
                       message_en="Answer the price question: 59.9", reason="12 price questions in 10 s", priority=80,
                       expires_ms=600_000, dedup_key="answer_price"),
        Recommendation(**room, stream_ms=9500, rec_type="push_stock", message_zh="提示库存紧张，促进下单",
                       message_en="Mention low stock to push orders", reason="stock below 200", priority=55,
                       expires_ms=600_000, dedup_key="push_stock"),
        Clip(**room, stream_ms=9000, clip_id="clip-1", status="ready", start_ms=1000, end_ms=8000, category="price",
             title="保温杯 59.9 限时价", score=0.87, files={"mp4": clip_url}),
        Clip(**room, stream_ms=9500, clip_id="clip-2", status="ready", start_ms=4200, end_ms=9000, category="function",
             title=XSS_TITLE, score=0.71, files={"mp4": "/srv/clips/e2e-room/clip-2.mp4", "srt": "/srv/clips/e2e-room/clip-2.srt"},
             hold=True, compliance=compliance_alert().violations),
    ]


def forecast_outputs() -> list:
    """A forecast and the early warning it raised, as the forecast processor publishes them."""
    room = {"room_id": ROOM, "processor": "forecast"}

    def points(values):
        return [ForecastPoint(horizon_min=h, mean=m, lo80=lo, hi80=hi, lo95=lo * 0.9, hi95=hi * 1.1, enough_data=True,
                              model="auto_ets", history_steps=30) for h, (m, lo, hi) in zip((5, 15, 45), values)]

    return [
        RoomForecast(**room, stream_ms=26000, window_start_ms=20000, window_ms=5000, enough_data=True,
                     viewers=points([(4210, 3900, 4520), (2950, 2300, 3600), (900, 0, 2100)]),
                     orders_per_min=points([(12.0, 8.0, 16.0), (9.5, 5.0, 14.0), (4.0, 0.0, 10.0)]),
                     gmv=points([(700, 400, 1000), (560, 250, 870), (230, 0, 600)])),
        Alert(**room, stream_ms=26000, alert_type="forecast_viewers_below_floor", state="open", severity="warning",
              dedup_key=f"{ROOM}:forecast:viewers_below_floor",
              message="Viewers forecast below 200 within 15 min (forecast 150): prepare a giveaway or switch product",
              evidence={"lead_time_min": 15, "metric": "viewers",
                        "message_zh": "预计15分钟内在线人数跌破200（预测150），提前准备福利或换款",
                        "message_en": "Viewers forecast below 200 within 15 min (forecast 150): prepare a giveaway or switch product"}),
    ]


async def test_dashboard_shows_the_live_room_and_updates_over_sse(settings, producer, worker_factory, tmp_path,  # noqa: F811
                                                                   clip_server):
    require_browser()
    from selenium.webdriver.common.by import By

    from sinks.web.app import create_api

    await worker_factory(["metrics"])
    topics = TopicNames(settings.topic_prefix)
    publisher = Publisher(producer, topics)
    await publisher.marker(ROOM, "start", 0)
    first_viewers = await publish_room_activity(publisher, 0, 14, viewers_base=1200, extra_chat={3: XSS_CHAT})
    await publish_outputs(producer, topics, *first_outputs(clip_server))

    api_settings = settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    api = create_api(api_settings, settings.redis_url.get_secret_value(), kafka_bootstrap=None)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(api) as base:
        driver = await asyncio.to_thread(start_chromium, tmp_path / "chromium-profile")
        try:
            # ---- room page: history arrives, then live values
            await asyncio.to_thread(sign_in, driver, base, TOKEN, f"/dashboard/room/{ROOM}")
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_element(By.ID, "conn").text == "● live",
                                    "the SSE feed to connect")
            shown_first = {f"{v:,}" for v in first_viewers}
            await asyncio.to_thread(wait_until, driver,
                                    lambda d: d.find_element(By.ID, "kpi-viewers").text in shown_first,
                                    "phase-1 viewers from the metrics worker")
            await asyncio.to_thread(wait_until, driver, lambda d: "Chat rate back to baseline" in text_of(d, "#alerts-resolved"),
                                    "the resolved alert")
            driver.execute_script("window.__loadMarker = 'first-load'")

            # ---- published AFTER the page loaded: must show up over SSE, without a reload
            late_alert = Alert(room_id=ROOM, stream_ms=16000, processor="e2e", alert_type="viewer_drop", state="open",
                               severity="critical", dedup_key=f"viewer_drop:{ROOM}",
                               message="Viewers fell 38% in 10 s (late alert)",
                               evidence={"value": 3100, "baseline": 5000, "window_s": 10})
            late_final = Transcript(room_id=ROOM, stream_ms=16500, processor="e2e", segment_id="s3", is_final=True,
                                    start_ms=8200, end_ms=11000, language="zh", text="库存只剩最后两百件，抓紧下单！",
                                    display="库存只剩最后200件，抓紧下单！")
            await publish_outputs(producer, topics, late_alert, late_final, *forecast_outputs())
            later_viewers = await publish_room_activity(publisher, 15, 27, viewers_base=5000)
            # two more rooms for the overview: one calm, one with a warning open
            await publish_room_activity(publisher, 0, 12, viewers_base=310, room="e2e-calm")
            await publish_room_activity(publisher, 0, 12, viewers_base=95, room="e2e-warn")
            await publish_outputs(producer, topics, Alert(
                room_id="e2e-warn", stream_ms=9000, processor="e2e", alert_type="payment_failure_spike", state="open",
                severity="warning", dedup_key="payment_failure_spike:e2e-warn", message="Payment failures 4x baseline"))
            shown_later = {f"{v:,}" for v in later_viewers}
            await asyncio.to_thread(wait_until, driver,
                                    lambda d: d.find_element(By.ID, "kpi-viewers").text in shown_later,
                                    "viewers of a metrics window closed after the page loaded")
            await asyncio.to_thread(wait_until, driver, lambda d: "(late alert)" in text_of(d, "#alerts-open"),
                                    "the alert published after page load")
            await asyncio.to_thread(wait_until, driver, lambda d: "抓紧下单" in text_of(d, "#transcript"),
                                    "the final that replaced the partial")
            # ---- the forecast (drawn and tabled) and the early warning with its lead time, over SSE
            await asyncio.to_thread(wait_until, driver, lambda d: "4,210 [3,900–4,520]" in text_of(d, "#forecast-table"),
                                    "the forecast table")
            assert "2,950 [2,300–3,600]" in text_of(driver, "#forecast-table .fc-viewers")
            assert "预测" in text_of(driver, "#forecast-panel h2")
            drawn = driver.execute_script(
                "const c = document.getElementById('forecast-viewers'); const d = c.getContext('2d')"
                ".getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0;"
                " return n;")
            assert drawn > 500, "the viewers forecast chart is empty"
            await asyncio.to_thread(wait_until, driver, lambda d: "提前量 15 分钟" in text_of(d, "#alerts-open .lead-time"),
                                    "the early warning's lead time")
            assert "预计15分钟内在线人数跌破" in text_of(driver, "#alerts-open")  # the zh message of a zh room
            driver.execute_script("document.getElementById('forecast-panel').scrollIntoView()")
            driver.save_screenshot(str(SCREENSHOTS / "dashboard-room-forecast.png"))
            driver.execute_script("window.scrollTo(0, 0)")
            assert driver.execute_script("return window.__loadMarker") == "first-load", "the page was reloaded"
            assert "库存只剩最后200件" in text_of(driver, "#transcript .final")  # the display text, digits
            assert not driver.find_elements(By.CSS_SELECTOR, "#transcript .partial"), "a finalised partial is still shown"

            # ---- untrusted text is shown literally and never executed
            chat_texts = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#chat .chat-text")]
            assert XSS_CHAT in chat_texts
            assert any(e.text == XSS_TITLE for e in driver.find_elements(By.CSS_SELECTOR, "#clips .clip-title"))
            assert "<script>window.__xss=4</script>" in text_of(driver, "#transcript")
            assert driver.find_elements(By.CSS_SELECTOR, "main img, main script") == []
            assert driver.execute_script("return window.__xss") is None

            # ---- a Chinese room's page speaks Chinese: labels, then the zh message first
            assert driver.execute_script("return document.documentElement.lang") == "zh"
            headings = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "h2 [data-i18n], h2[data-i18n]")]
            assert {"实时字幕", "运营建议", "卖点", "切片"} <= set(headings), headings
            assert driver.find_element(By.CSS_SELECTOR, "#recommendations .item-title").text.startswith(("主播", "提示"))

            # ---- the compliance panel: the phrase marked in the text, rule, severity, suggestion
            marks = driver.find_elements(By.CSS_SELECTOR, "#compliance mark.phrase")
            assert [m.text for m in marks] == [COMPLIANCE_TERM]
            body = text_of(driver, "#compliance .item-body")
            assert body == COMPLIANCE_TEXT  # the tags in the text are text, not markup
            panel = text_of(driver, "#compliance")
            assert "zh.absolute.lowest_price" in panel and COMPLIANCE_TIP in panel and "严重" in panel
            assert "主播" in panel and "合规提醒" in headings
            assert "已暂停自动发布" in text_of(driver, "#clips .held")

            # ---- the rest of the room view
            assert "价格优惠" in text_of(driver, "#selling-points")
            assert "主播请回答价格问题" in text_of(driver, "#recommendations")
            assert "这个多少钱？" in text_of(driver, "#questions")
            video = driver.find_element(By.CSS_SELECTOR, "#clips video")
            assert video.get_attribute("src") == clip_server
            await asyncio.to_thread(wait_until, driver, lambda d: d.execute_script(
                "return document.querySelector('#clips video').readyState") >= 1, "the clip preview to load", 20)
            assert "/srv/clips/e2e-room/clip-2.mp4" in text_of(driver, "#clips .clip-files")
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_element(By.ID, "room-status").text.lower() == "red",
                                    "the room status to turn red (critical alert open)", 15)
            driver.execute_script("document.querySelector('#clips video').currentTime = 1.0")
            await asyncio.to_thread(wait_until, driver, lambda d: d.execute_script(
                "const v = document.querySelector('#clips video'); return !v.seeking && v.readyState >= 2"),
                "the preview to show the frame at 1 s", 20)
            driver.save_screenshot(str(SCREENSHOTS / "dashboard-room.png"))

            # ---- overview
            driver.set_window_size(1440, 640)
            await asyncio.to_thread(driver.get, f"{base}/dashboard")  # the session carries over
            row_css = f"#room-rows tr[data-room='{ROOM}']"
            await asyncio.to_thread(wait_until, driver, lambda d: d.find_elements(By.CSS_SELECTOR, row_css), "the room row")
            row = driver.find_element(By.CSS_SELECTOR, row_css)
            assert row.find_element(By.CSS_SELECTOR, ".pill").text.lower() == "red"
            cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
            assert cells[2] in shown_later and cells[5] == "2"  # viewers, open alerts (viewer_drop + the early warning)
            await asyncio.to_thread(wait_until, driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#room-rows tr")) == 3,
                                    "all three rooms on the overview", 30)
            assert driver.execute_script("return window.__xss") is None
            driver.save_screenshot(str(SCREENSHOTS / "dashboard.png"))
        finally:
            await asyncio.to_thread(driver.quit)
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
