/* /dashboard/prompter/{room}: what the host needs while selling, large, updated live over SSE.
 *
 * - Explain next: the newest live `explain_next` recommendation, split into its headline and its
 *   one-line reason (the message's text before / after the first colon).
 * - Viewers ask: the newest chat window's top question (else the explain-next evidence's).
 * - Promotion: the running promotion from the commerce feed (a `promotion` event, made from its
 *   promotion_start / promotion_end events) and a countdown to its planned end, in stream time
 *   advanced by the wall clock between events; it goes when it ends (an `ended` event or its end
 *   time). With none running: the newest live promotion recommendation (run_promotion,
 *   launch_coupon, launch_lucky_bag) as a suggestion, without a countdown.
 * - Compliance: an open alert whose alert_type starts with "compliance", or an event of kind
 *   "compliance" (when a compliance processor publishes one), shown in red across the top.
 * Untrusted text goes on the page through textContent only (LL.el / textContent). */
"use strict";

(() => {
  const { api, el, replaceChildren, openStream, setConn, showError } = LL;
  const room = decodeURIComponent(window.location.pathname.split("/").filter(Boolean).pop() || "");
  const HISTORY = { recommendation: 50, alert: 100, chat_window: 1, transcript: 20, promotion: 20 };
  const PROMOTION_TYPES = new Set(["run_promotion", "launch_coupon", "launch_lucky_bag"]);
  const LABELS = { zh: {
    "Explain next": "接下来", "Viewers ask": "观众在问", "Promotion": "促销", "Compliance": "合规提醒",
    "Waiting for the next suggestion…": "等待下一条建议…", "No promotion running": "暂无促销", "Suggested": "建议",
  } };

  const seen = new Set();
  const recs = new Map();        // dedup_key -> newest recommendation
  const alerts = new Map();      // dedup_key -> newest alert
  const compliance = new Map();  // key -> newest "compliance" event
  const promotions = new Map();  // promotion_id -> newest "promotion" event (running / ended)
  let chatWindow = null;
  let streamMs = 0, streamSeenAt = Date.now();
  let lang = "";

  const tr = (text) => (LABELS[lang] && LABELS[lang][text]) || text;
  const newer = (a, b) => !b || (a.emitted_at || 0) >= (b.emitted_at || 0);
  const nowStream = () => streamMs + (Date.now() - streamSeenAt);
  const textOf = (r) => (lang === "en" ? r.message_en || r.message_zh : r.message_zh || r.message_en) || r.message || r.text || "";

  function setLanguage(value) {
    if (!value || value === lang) return;
    lang = value;
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = tr(node.dataset.i18n); });
  }

  function ingest(ev) {
    if (!ev || ev.room_id !== room || !ev.event_id || seen.has(ev.event_id)) return;
    seen.add(ev.event_id);
    if ((ev.stream_ms || 0) > streamMs) { streamMs = ev.stream_ms; streamSeenAt = Date.now(); }
    switch (ev.kind) {
      case "recommendation": if (newer(ev, recs.get(ev.dedup_key))) recs.set(ev.dedup_key, ev); break;
      case "alert": if (newer(ev, alerts.get(ev.dedup_key))) alerts.set(ev.dedup_key, ev); break;
      case "chat_window": if (!chatWindow || ev.end_ms >= chatWindow.end_ms) chatWindow = ev; break;
      case "transcript": if (ev.is_final && ev.text) setLanguage(ev.language); break;
      case "compliance": compliance.set(ev.dedup_key || ev.event_id, ev); break;
      case "promotion": {
        const before = promotions.get(ev.promotion_id);
        if (!before || ev.stream_ms >= before.stream_ms) promotions.set(ev.promotion_id, ev);
        break;
      }
      default: return;
    }
    render();
  }

  /** "下一个讲「面料」：讲完后…" -> ["下一个讲「面料」", "讲完后…"]; no colon: all headline. */
  function split(message) {
    const m = /^(.*?)(?:：|: )(.*)$/s.exec(message);
    return m ? [m[1], m[2]] : [message, ""];
  }

  function live(list, now) {
    return list.filter((r) => !r.expires_ms || r.expires_ms > now).sort((a, b) => b.stream_ms - a.stream_ms);
  }

  function fmtCountdown(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function render() {
    const now = nowStream();
    const all = [...recs.values()];
    const next = live(all.filter((r) => r.rec_type === "explain_next"), now)[0];
    const [title, reason] = next ? split(textOf(next)) : [tr("Waiting for the next suggestion…"), ""];
    document.getElementById("next-title").textContent = title;
    document.getElementById("next-reason").textContent = reason;
    document.body.dataset.next = next ? next.event_id : "";

    const evidence = (next && next.evidence) || {};
    const question = (chatWindow && (chatWindow.top_questions || [])[0]) || evidence.top_question || evidence.room_top_question || "–";
    document.getElementById("question").textContent = question;

    const running = [...promotions.values()]
      .filter((p) => p.state === "running" && (p.ends_ms == null || p.ends_ms > now))
      .sort((a, b) => (a.ends_ms ?? Infinity) - (b.ends_ms ?? Infinity))[0];  // the one ending first
    const suggested = live(all.filter((r) => PROMOTION_TYPES.has(r.rec_type)), now)[0];
    const countdown = document.getElementById("promo-countdown");
    const left = running && running.ends_ms != null ? running.ends_ms - now : null;
    countdown.textContent = left != null ? fmtCountdown(left) : "–";
    countdown.className = `countdown ${left != null && left < 30000 ? "ending" : ""}`;
    document.body.dataset.promotion = running ? running.promotion_id : "";
    document.getElementById("promo-text").textContent = running ? (running.title || running.promotion_id)
      : suggested ? `${tr("Suggested")}: ${textOf(suggested)}` : tr("No promotion running");

    const warnings = [...alerts.values()].filter((a) => String(a.alert_type || "").startsWith("compliance") && a.state !== "resolved")
      .concat([...compliance.values()].filter((c) => c.state !== "resolved"))
      .sort((a, b) => b.stream_ms - a.stream_ms);
    const box = document.getElementById("compliance");
    box.hidden = !warnings.length;
    const top = warnings[0];
    const topText = top ? ((lang === "zh" && top.evidence && top.evidence.message_zh) || textOf(top)) : "";
    replaceChildren(document.getElementById("compliance-text"), top ? [el("span", { text: topText })] : []);
  }

  document.title = `livelens · prompter · ${room}`;
  document.getElementById("room-title").textContent = room;
  render();
  openStream({ room }, ingest, setConn);  // first, so nothing published during the history load is missed
  (async () => {
    try {
      await Promise.all(Object.entries(HISTORY).map(async ([kind, count]) => {
        const events = await api(`/api/rooms/${encodeURIComponent(room)}/events/${kind}?count=${count}`);
        events.reverse().forEach(ingest);
      }));
      showError("");
    } catch (err) {
      showError(`Could not load history: ${err.message}`);
    }
    document.body.dataset.loaded = "1";
  })();
  setInterval(render, 1000);  // the countdown, and recommendations expiring
})();
