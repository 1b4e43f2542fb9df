/* /dashboard/room/{room}: history from the read API, then live updates over SSE.
 * Every event goes through ingest(), which de-duplicates by event_id, so the feed may be opened
 * before the history is loaded without losing or doubling anything. */
"use strict";

(() => {
  const { api, el, replaceChildren, mediaUrl, pageHref, openStream, setConn, showError,
          fmtNumber, fmtStreamMs, sparkline, throttled } = LL;
  const room = decodeURIComponent(window.location.pathname.split("/").filter(Boolean).pop() || "");
  const SPARK_WINDOWS = 60;
  const HISTORY = { room_metrics: SPARK_WINDOWS, transcript: 300, selling_point: 50, alert: 200,
                    clip: 30, recommendation: 50, chat_insight: 50, chat_window: 1, compliance: 50, forecast: 1,
                    retention: 100 };
  const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };

  const seen = new Set();
  const metrics = new Map();          // window_start_ms -> room_metrics
  const finals = new Map();           // segment_id -> final transcript
  let partial = null;                 // newest partial transcript
  const sellingPoints = new Map();    // segment_id -> selling_point (latest)
  const alerts = new Map();           // dedup_key -> latest alert
  const clips = new Map();            // clip_id -> clip
  const recommendations = new Map();  // dedup_key -> recommendation
  const compliance = new Map();       // event_id -> compliance alert
  const chat = [];                    // newest last
  let chatWindow = null;
  let forecast = null;                // the newest forecast event
  const retention = new Map();        // segment_id -> newest retention row (the final one wins)
  let streamMs = 0;

  const newer = (a, b) => !b || (a.emitted_at || 0) >= (b.emitted_at || 0);

  // The page speaks the room's language: a Chinese room's operators read Chinese labels,
  // recommendations and selling-point names first. The room's language is its transcripts'.
  const LABELS = { zh: {
    "Viewers": "在线人数", "Messages / s": "弹幕/秒", "Orders / min": "订单/分钟", "Orders (total)": "订单总数",
    "GMV (total)": "成交额", "Open alerts": "未处理告警", "Live transcript": "实时字幕", "Alerts": "告警",
    "Resolved": "已解决", "Recommendations": "运营建议", "Selling points": "卖点", "Chat": "弹幕", "Clips": "切片",
    "← rooms": "← 直播间", "No open alerts.": "暂无告警。", "None.": "无。", "No recommendations yet.": "暂无建议。",
    "No selling points yet.": "暂无卖点。", "No analysed chat yet.": "暂无弹幕分析。", "No clips yet.": "暂无切片。",
    "No speech transcribed yet.": "暂无字幕。", "Top questions": "热门问题", "expired": "已过期", "stream": "直播时长",
    "score": "评分", "open clip": "打开切片",
    "Compliance": "合规提醒", "No compliance issues.": "暂无违规。", "host": "主播", "chat": "弹幕",
    "suggestion": "建议说法", "held for review (compliance)": "已暂停自动发布（合规待审）",
    "critical": "严重", "warning": "警告", "info": "提示",
    "Forecast": "预测", "GMV / min": "成交额/分钟", "lead time": "提前量", "why": "原因", "min": "分钟", "now": "现在",
    "No forecast yet.": "暂无预测。", "not enough data yet: wide intervals": "数据不足：区间较宽",
    "80% interval": "80%区间", "in": "后",
    "Retention around selling points": "卖点前后的观众留存", "No retention yet.": "暂无留存数据。",
    "selling point": "卖点", "viewers start → end → +1 min": "开始 → 结束 → 1分钟后", "joined": "进入", "left": "离开",
  } };
  let roomLang = "";
  const tr = (text) => (LABELS[roomLang] && LABELS[roomLang][text]) || text;

  function setRoomLanguage(lang) {
    if (!lang || lang === roomLang) return;
    roomLang = lang;
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = tr(node.dataset.i18n); });
  }

  function ingest(ev) {
    if (!ev || ev.room_id !== room || !ev.event_id || seen.has(ev.event_id)) return;
    seen.add(ev.event_id);
    streamMs = Math.max(streamMs, ev.stream_ms || 0);
    switch (ev.kind) {
      case "room_metrics": metrics.set(ev.window_start_ms, ev); break;
      case "transcript":
        if (ev.is_final) {
          finals.set(ev.segment_id, ev);
          if (ev.text) setRoomLanguage(ev.language);
          if (partial && partial.segment_id === ev.segment_id) partial = null;
        } else if (!finals.has(ev.segment_id) && newer(ev, partial)) partial = ev;
        break;
      case "selling_point":
        if (newer(ev, sellingPoints.get(ev.segment_id))) sellingPoints.set(ev.segment_id, ev);
        break;
      case "alert": if (newer(ev, alerts.get(ev.dedup_key))) alerts.set(ev.dedup_key, ev); break;
      case "clip": clips.set(ev.clip_id, ev); break;
      case "recommendation":
        if (newer(ev, recommendations.get(ev.dedup_key))) recommendations.set(ev.dedup_key, ev);
        break;
      case "chat_insight": chat.push(ev); chat.sort((a, b) => a.stream_ms - b.stream_ms); chat.splice(0, chat.length - 100); break;
      case "chat_window": if (!chatWindow || ev.end_ms >= chatWindow.end_ms) chatWindow = ev; break;
      case "compliance": compliance.set(ev.event_id, ev); break;
      case "forecast": if (!forecast || ev.window_start_ms >= forecast.window_start_ms) forecast = ev; break;
      case "retention": {
        const before = retention.get(ev.segment_id);
        if (!before || (ev.final && !before.final)) retention.set(ev.segment_id, ev);
        break;
      }
      default: return;
    }
    scheduleRender();
  }

  // ---------------------------------------------------------------- rendering

  function renderMetrics() {
    const windows = [...metrics.values()].sort((a, b) => a.window_start_ms - b.window_start_ms).slice(-SPARK_WINDOWS);
    const last = windows[windows.length - 1];
    const series = [
      ["viewers", (m) => m.viewers, "#60a5fa", 0],
      ["mps", (m) => m.messages_per_s, "#34d399", 1],
      ["opm", (m) => m.orders_per_min, "#fbbf24", 1],
    ];
    for (const [id, pick, color, digits] of series) {
      const values = windows.map((m) => { const v = pick(m); return v === null || v === undefined ? null : Number(v); });
      sparkline(document.getElementById(`spark-${id}`), values, color);
      document.getElementById(`spark-${id}-last`).textContent = last ? fmtNumber(pick(last), digits) : "";
    }
    // viewers: the last window that reported a count
    const withViewers = windows.filter((m) => m.viewers !== null && m.viewers !== undefined);
    document.getElementById("kpi-viewers").textContent = withViewers.length ? fmtNumber(withViewers[withViewers.length - 1].viewers) : "–";
    document.getElementById("kpi-mps").textContent = last ? fmtNumber(last.messages_per_s, 1) : "–";
    document.getElementById("kpi-opm").textContent = last ? fmtNumber(last.orders_per_min, 1) : "–";
    document.getElementById("kpi-orders").textContent = last ? fmtNumber(last.total_orders) : "–";
    document.getElementById("kpi-gmv").textContent = last ? fmtNumber(last.total_gmv, 2) : "–";
  }

  function renderTranscript() {
    const node = document.getElementById("transcript");
    const atBottom = node.scrollHeight - node.scrollTop - node.clientHeight < 40;
    // display: numbers and prices as digits ("29.9元"); the words as heard stay in the tooltip
    const shown = (t) => el("span", { text: t.display || t.text, title: t.display && t.display !== t.text ? t.text : undefined });
    const lines = [...finals.values()].sort((a, b) => a.start_ms - b.start_ms).slice(-80).map((t) =>
      el("p", { cls: "line final" }, [el("span", { cls: "ts", text: fmtStreamMs(t.start_ms) }), shown(t)]));
    if (partial) {
      lines.push(el("p", { cls: "line partial", title: "partial: may still change" },
        [el("span", { cls: "ts", text: fmtStreamMs(partial.start_ms) }), shown(partial)]));
    }
    if (!lines.length) lines.push(el("p", { cls: "empty", text: tr("No speech transcribed yet.") }));
    replaceChildren(node, lines);
    if (atBottom) node.scrollTop = node.scrollHeight;
  }

  function alertItem(a) {
    const evidence = a.evidence || {};
    const facts = ["value", "baseline", "window_s", "window"].filter((k) => k in evidence)
      .map((k) => `${k}: ${typeof evidence[k] === "number" ? fmtNumber(evidence[k], 2) : String(evidence[k])}`);
    // early warnings (forecast_*) carry their lead time and a message in each language
    const lead = typeof evidence.lead_time_min === "number"
      ? el("span", { cls: "pill lead-time", text: `${tr("lead time")} ${fmtNumber(evidence.lead_time_min)} ${tr("min")}` }) : null;
    const message = (roomLang === "zh" && evidence.message_zh) || (roomLang === "en" && evidence.message_en) || a.message;
    return el("div", { cls: `item alert sev-${a.severity} state-${a.state}` }, [
      el("div", { cls: "item-head" }, [
        el("span", { cls: `pill sev sev-${a.severity}`, text: a.severity }),
        el("span", { cls: "item-title", text: a.alert_type }),
        lead,
        el("span", { cls: "muted", text: `${a.state} · ${fmtStreamMs(a.stream_ms)}` }),
      ]),
      el("div", { cls: "item-body", text: message }),
      facts.length ? el("div", { cls: "muted small", text: facts.join(" · ") }) : null,
    ]);
  }

  function renderAlerts() {
    const all = [...alerts.values()];
    const open = all.filter((a) => a.state !== "resolved").sort((a, b) =>
      (SEVERITY_ORDER[a.severity] ?? 9) - (SEVERITY_ORDER[b.severity] ?? 9) || b.stream_ms - a.stream_ms);
    const resolved = all.filter((a) => a.state === "resolved").sort((a, b) => b.stream_ms - a.stream_ms).slice(0, 10);
    replaceChildren(document.getElementById("alerts-open"),
      open.length ? open.map(alertItem) : [el("p", { cls: "empty ok", text: tr("No open alerts.") })]);
    replaceChildren(document.getElementById("alerts-resolved"),
      resolved.length ? resolved.map(alertItem) : [el("p", { cls: "empty", text: tr("None.") })]);
    document.getElementById("alerts-count").textContent = open.length ? String(open.length) : "";
    document.getElementById("kpi-alerts").textContent = String(open.length);
    document.getElementById("kpi-alerts").className = `kpi-value ${open.length ? "alerting" : ""}`;
  }

  /** What moves the orders forecast (fusion's per-modality influence), in the room's language. */
  function whyOf(r) {
    const evidence = r.evidence || {};
    return (roomLang === "en" ? evidence.fusion_why_en : evidence.fusion_why_zh) || "";
  }

  function renderRecommendations() {
    const recs = [...recommendations.values()].sort((a, b) => b.priority - a.priority || b.stream_ms - a.stream_ms).slice(0, 15);
    replaceChildren(document.getElementById("recommendations"), recs.length ? recs.map((r) => {
      const expired = r.expires_ms && r.expires_ms < streamMs;
      return el("div", { cls: `item rec ${expired ? "expired" : ""}` }, [
        el("div", { cls: "item-head" }, [
          el("span", { cls: "pill prio", text: `P${r.priority}` }),
          el("span", { cls: "item-title", text: roomLang === "en" ? r.message_en || r.message_zh : r.message_zh || r.message_en }),
          expired ? el("span", { cls: "muted", text: tr("expired") }) : null,
        ]),
        r.message_en && r.message_zh ? el("div", { cls: "item-body", text: roomLang === "en" ? r.message_zh : r.message_en }) : null,
        el("div", { cls: "muted small", text: `${r.rec_type} · ${r.reason}` }),
        whyOf(r) ? el("div", { cls: "small why", text: `${tr("why")}: ${whyOf(r)}` }) : null,
      ]);
    }) : [el("p", { cls: "empty", text: tr("No recommendations yet.") })]);
  }

  /** The checked text with each flagged phrase in its own <mark>: text nodes only, never markup. */
  function highlighted(text, violations) {
    const spans = [...violations].filter((v) => v.end > v.start).sort((a, b) => a.start - b.start);
    const parts = [];
    let at = 0;
    for (const v of spans) {
      if (v.start < at) continue;  // overlapping phrases: the first one is marked
      if (v.start > at) parts.push(document.createTextNode(text.slice(at, v.start)));
      parts.push(el("mark", { cls: "phrase", text: text.slice(v.start, v.end), title: v.rule }));
      at = v.end;
    }
    if (at < text.length) parts.push(document.createTextNode(text.slice(at)));
    return el("div", { cls: "item-body" }, parts);
  }

  function renderCompliance() {
    const items = [...compliance.values()].sort((a, b) =>
      (SEVERITY_ORDER[a.severity] ?? 9) - (SEVERITY_ORDER[b.severity] ?? 9) || b.stream_ms - a.stream_ms).slice(0, 20);
    replaceChildren(document.getElementById("compliance"), items.length ? items.map((c) =>
      el("div", { cls: `item compliance sev-${c.severity}` }, [
        el("div", { cls: "item-head" }, [
          el("span", { cls: `pill sev sev-${c.severity}`, text: tr(c.severity) }),
          el("span", { cls: "item-title", text: tr(c.source) }),
          el("span", { cls: "muted", text: `${fmtStreamMs(c.start_ms)}–${fmtStreamMs(c.end_ms)}` }),
        ]),
        highlighted(String(c.text || ""), c.violations || []),
        ...(c.violations || []).map((v) => el("div", { cls: "muted small violation" }, [
          el("span", { cls: "rule", text: `${v.rule} · ${v.kind} · ${tr(v.severity)}` }),
          v.suggestion ? el("div", { cls: "suggestion", text: `${tr("suggestion")}: ${v.suggestion}` }) : null,
        ])),
      ])) : [el("p", { cls: "empty ok", text: tr("No compliance issues.") })]);
    document.getElementById("compliance-count").textContent = compliance.size ? String(compliance.size) : "";
  }

  function renderSellingPoints() {
    const points = [...sellingPoints.values()].sort((a, b) => b.start_ms - a.start_ms).slice(0, 20);
    replaceChildren(document.getElementById("selling-points"), points.length ? points.map((p) =>
      el("div", { cls: "item sp" }, [
        el("div", { cls: "item-head" }, [
          el("span", { cls: "pill cat", text: (roomLang === "en" ? p.label_en : p.label_zh) || p.label || p.category }),
          el("span", { cls: "muted", text: `${fmtStreamMs(p.start_ms)}–${fmtStreamMs(p.end_ms)} · ${fmtNumber(p.confidence * 100)}%` }),
        ]),
        el("div", { cls: "item-body", text: p.text }),
      ])) : [el("p", { cls: "empty", text: tr("No selling points yet.") })]);
  }

  /** Viewers around each selling point (newest first): counts at its start, end and a minute
   * later, and how many joined / left meanwhile (the rises / falls of the viewer count). */
  function renderRetention() {
    const rows = [...retention.values()].sort((a, b) => b.start_ms - a.start_ms).slice(0, 12);
    const table = document.getElementById("retention");
    if (!rows.length) {
      replaceChildren(table, [el("tr", {}, [el("td", { cls: "empty", text: tr("No retention yet.") })])]);
      return;
    }
    const count = (v) => (v === null || v === undefined ? "…" : fmtNumber(v));
    const head = el("tr", {}, [tr("selling point"), tr("viewers start → end → +1 min"), tr("joined"), tr("left")]
      .map((text) => el("th", { text })));
    const body = rows.map((r) => {
      const point = sellingPoints.get(r.segment_id) || {};
      const name = (roomLang === "en" ? point.label_en : point.label_zh) || r.label;
      return el("tr", { cls: `retention-row ${r.final ? "final" : "open"}` }, [
        el("td", { text: `${name} · ${fmtStreamMs(r.start_ms)}` }),
        el("td", { text: `${count(r.viewers_start)} → ${count(r.viewers_end)} → ${count(r.viewers_after)}` }),
        el("td", { cls: "joined", text: `+${fmtNumber(r.joined)}` }),
        el("td", { cls: "left", text: `−${fmtNumber(r.left)}` }),
      ]);
    });
    replaceChildren(table, [head, ...body]);
  }

  function renderChat() {
    const questions = chatWindow && chatWindow.top_questions ? chatWindow.top_questions.slice(0, 3) : [];
    replaceChildren(document.getElementById("questions"), questions.length
      ? [el("div", { cls: "muted small", text: tr("Top questions") }), ...questions.map((q) => el("div", { cls: "question", text: q }))]
      : []);
    const node = document.getElementById("chat");
    const lines = chat.slice(-30).reverse().map((c) => el("div", { cls: `chat-line sent-${c.sentiment}` }, [
      el("span", { cls: "chat-user", text: c.user_id || "?" }),
      el("span", { cls: "chat-text", text: c.text }),
      el("span", { cls: "chat-tags muted", text: `${c.sentiment} · ${c.intent}` }),
    ]));
    replaceChildren(node, lines.length ? lines : [el("p", { cls: "empty", text: tr("No analysed chat yet.") })]);
  }

  function clipMedia(clip) {
    const files = clip.files || {};
    const preferred = ["mp4", "vertical", "webm", "url"].map((k) => files[k]);
    const byExt = Object.values(files).filter((f) => /\.(mp4|webm|m3u8)(\?|$)/i.test(String(f)));
    const videoUrl = [...preferred, ...byExt].map(mediaUrl).find(Boolean);
    if (videoUrl) {
      const video = el("video", { cls: "clip-video" });
      video.controls = true;
      video.preload = "metadata";
      video.muted = true;
      video.src = videoUrl;
      const poster = mediaUrl(files.thumb);
      if (poster) video.poster = poster;
      return video;
    }
    const anyUrl = Object.values(files).map(mediaUrl).find(Boolean);
    if (anyUrl) {
      const link = el("a", { cls: "clip-link", text: tr("open clip") });
      link.href = anyUrl;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      return link;
    }
    const paths = Object.entries(files).map(([role, path]) => `${role}: ${path}`);
    return el("div", { cls: "clip-files muted small", text: paths.length ? paths.join("\n") : "no files" });
  }

  function renderClips() {
    const list = [...clips.values()].sort((a, b) => b.start_ms - a.start_ms).slice(0, 12);
    replaceChildren(document.getElementById("clips"), list.length ? list.map((c) =>
      el("div", { cls: `clip status-${c.status}` }, [
        clipMedia(c),
        el("div", { cls: "clip-title", text: c.title || c.label || c.clip_id }),
        el("div", { cls: "muted small", text:
          `${c.status}${c.reason ? ` (${c.reason})` : ""} · ${fmtStreamMs(c.start_ms)}–${fmtStreamMs(c.end_ms)} · score ${fmtNumber(c.score, 2)}` }),
        c.hold ? el("div", { cls: "small held", text: `${tr("held for review (compliance)")}: ${
          (c.compliance || []).map((v) => v.term).join(", ")}` }) : null,
      ])) : [el("p", { cls: "empty", text: tr("No clips yet.") })]);
  }

  /** The forecast of one metric from now (its last observed value) to each horizon: the 95 % and
   * 80 % intervals as bands, the mean as a line. */
  function forecastChart(canvas, now, points, color) {
    const ratio = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || canvas.width, cssH = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(cssW * ratio)) { canvas.width = Math.round(cssW * ratio); canvas.height = Math.round(cssH * ratio); }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const usable = points.filter((p) => p.mean !== null && p.mean !== undefined);
    if (!usable.length) {
      ctx.fillStyle = "#6b7280"; ctx.font = "12px system-ui, sans-serif";
      ctx.fillText(tr("No forecast yet."), 8, cssH / 2 + 4);
      return;
    }
    const start = { horizon_min: 0, mean: now ?? usable[0].mean, lo80: now ?? usable[0].mean, hi80: now ?? usable[0].mean,
                    lo95: now ?? usable[0].mean, hi95: now ?? usable[0].mean };
    const series = [start, ...usable];
    const hi = Math.max(...series.map((p) => p.hi95 ?? p.mean)), span = hi || 1;
    const maxH = Math.max(...series.map((p) => p.horizon_min)) || 1;
    const pad = 8, top = 14, bottom = 14;
    const x = (h) => pad + (h / maxH) * (cssW - 2 * pad);
    const y = (v) => cssH - bottom - (Math.max(0, v) / span) * (cssH - bottom - top);
    const band = (lo, hiKey, alpha) => {
      ctx.fillStyle = color + alpha;
      ctx.beginPath();
      series.forEach((p, i) => (i ? ctx.lineTo(x(p.horizon_min), y(p[hiKey] ?? p.mean)) : ctx.moveTo(x(p.horizon_min), y(p[hiKey] ?? p.mean))));
      [...series].reverse().forEach((p) => ctx.lineTo(x(p.horizon_min), y(p[lo] ?? p.mean)));
      ctx.closePath(); ctx.fill();
    };
    band("lo95", "hi95", "22");
    band("lo80", "hi80", "44");
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath();
    series.forEach((p, i) => (i ? ctx.lineTo(x(p.horizon_min), y(p.mean)) : ctx.moveTo(x(p.horizon_min), y(p.mean))));
    ctx.stroke();
    ctx.fillStyle = "#8b93a5"; ctx.font = "10px system-ui, sans-serif";
    for (const p of series) {
      const label = p.horizon_min ? `+${fmtNumber(p.horizon_min)}` : tr("now");
      ctx.fillText(label, Math.min(x(p.horizon_min), cssW - 24), cssH - 2);
    }
    ctx.fillText(`max ${fmtNumber(hi, hi < 10 ? 1 : 0)}`, pad, 10);
  }

  function renderForecast() {
    const table = document.getElementById("forecast-table");
    const note = document.getElementById("forecast-note");
    const windows = [...metrics.values()].sort((a, b) => a.window_start_ms - b.window_start_ms);
    const last = windows[windows.length - 1];
    const rows = [["viewers", "Viewers", "#60a5fa", 0, last && last.viewers],
                  ["orders_per_min", "Orders / min", "#fbbf24", 1, last && last.orders_per_min],
                  ["gmv", "GMV / min", "#34d399", 0, null]];
    for (const [key, , color, , now] of rows) {
      const id = { viewers: "forecast-viewers", orders_per_min: "forecast-opm", gmv: "forecast-gmv" }[key];
      forecastChart(document.getElementById(id), now ?? null, forecast ? forecast[key] || [] : [], color);
    }
    if (!forecast) {
      replaceChildren(table, [el("tr", {}, [el("td", { cls: "empty", text: tr("No forecast yet.") })])]);
      note.textContent = "";
      return;
    }
    note.textContent = `${fmtStreamMs(forecast.stream_ms)} · ${tr("80% interval")}${forecast.enough_data ? "" : ` · ${tr("not enough data yet: wide intervals")}`}`;
    const horizons = (forecast.viewers || []).map((p) => p.horizon_min);
    const head = el("tr", {}, [el("th", { text: "" }), ...horizons.map((h) => el("th", { text: `${tr("in")} ${fmtNumber(h)} ${tr("min")}` }))]);
    const body = rows.map(([key, label, , digits]) => el("tr", { cls: `fc-${key}` }, [
      el("th", { text: tr(label) }),
      ...(forecast[key] || []).map((p) => el("td", { cls: p.enough_data ? "" : "muted",
        text: p.mean === null || p.mean === undefined ? "–" : `${fmtNumber(p.mean, digits)} [${fmtNumber(p.lo80, digits)}–${fmtNumber(p.hi80, digits)}]` })),
    ]));
    replaceChildren(table, [head, ...body]);
  }

  const scheduleRender = throttled(() => {
    renderMetrics();
    renderTranscript();
    renderAlerts();
    renderRecommendations();
    renderCompliance();
    renderSellingPoints();
    renderChat();
    renderRetention();
    renderClips();
    renderForecast();
    document.getElementById("stream-time").textContent = streamMs ? `${tr("stream")} ${fmtStreamMs(streamMs)}` : "";
  });

  // ---------------------------------------------------------------- status pill (from the overview rows)

  async function refreshStatus() {
    try {
      const row = (await api("/api/dashboard/rooms")).find((r) => r.room_id === room);
      const pill = document.getElementById("room-status");
      pill.className = `pill pill-${row ? row.status : "unknown"}`;
      pill.textContent = row ? row.status : "unknown room";
      pill.title = row ? (row.reasons || []).join(", ") : "";
    } catch (err) {
      showError(`Could not load room status: ${err.message}`);
    }
  }

  // ---------------------------------------------------------------- start

  document.title = `livelens · ${room}`;
  document.getElementById("room-title").textContent = room;
  document.getElementById("back").href = pageHref("/dashboard");
  scheduleRender();
  openStream({ room }, ingest, setConn);  // first, so nothing published during the history load is missed
  (async () => {
    try {
      const loads = Object.entries(HISTORY).map(async ([kind, count]) => {
        const events = await api(`/api/rooms/${encodeURIComponent(room)}/events/${kind}?count=${count}`);
        events.reverse().forEach(ingest);  // the API returns newest first
      });
      await Promise.all(loads);
      showError("");
    } catch (err) {
      showError(`Could not load history: ${err.message}`);
    }
    document.body.dataset.loaded = "1";
  })();
  refreshStatus();
  setInterval(refreshStatus, 5000);
  window.addEventListener("resize", scheduleRender);
})();
