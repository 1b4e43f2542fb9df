/* Shared helpers for the livelens ops pages. Plain browser JS, no build step, nothing external.
 *
 * SAFETY RULE: every piece of event text (chat, transcript, titles, alert messages) is untrusted.
 * It is put on the page only through `textContent` (see el()); this file never uses innerHTML.
 */
"use strict";

const LL = (() => {
  // Signed in once at /signin: the browser holds an HttpOnly session cookie that every same-origin
  // request (fetch, EventSource, <video>) carries by itself. No token in any URL.

  /** Back to the sign-in page, returning here afterwards (the session expired or was dropped). */
  function signIn() {
    window.location.assign(`/signin?next=${encodeURIComponent(window.location.pathname)}`);
  }

  /** Fetch JSON from the API (GET), or send JSON (`method`, `body`): state-changing requests carry
   * the CSRF header the API requires of cookie-authenticated requests. */
  async function api(path, { method = "GET", body, raw = false } = {}) {
    const opts = { method, cache: "no-store", credentials: "same-origin", headers: {} };
    if (method !== "GET") opts.headers["X-Livelens-CSRF"] = "1";
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    if (res.status === 401) { signIn(); throw new Error("signed out"); }
    if (!res.ok) {
      let detail = "";
      try { detail = (await res.json()).detail || ""; } catch (_) { /* not JSON */ }
      throw new Error(`${path}: HTTP ${res.status}${detail ? `: ${detail}` : ""}`);
    }
    return raw ? res : res.json();
  }

  /** Create an element; `text` goes in as textContent (never parsed as HTML). */
  function el(tag, opts = {}, children = []) {
    const node = document.createElement(tag);
    if (opts.cls) node.className = opts.cls;
    if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
    if (opts.title) node.title = String(opts.title);
    for (const child of children) if (child) node.appendChild(child);
    return node;
  }

  function replaceChildren(node, children) {
    node.replaceChildren(...children.filter(Boolean));
  }

  /** Only absolute http(s) URLs may become href/src (no javascript:, data:, file paths). */
  function safeUrl(value) {
    if (typeof value !== "string" || !/^https?:\/\//i.test(value)) return null;
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  /** A clip file served by this API (sinks/web/clips.py: /clips/{room}/{clip_id}/{file}, session required). */
  const CLIP_FILE_PATH = /^\/clips\/[A-Za-z0-9_.:\-]{1,128}\/[A-Za-z0-9_\-]{1,64}\/[A-Za-z0-9_.\-]{1,64}$/;

  /** URL for <video>/<a>: an absolute http(s) URL, or one of our clip-file paths (the cookie goes along). */
  function mediaUrl(value) {
    if (typeof value === "string" && CLIP_FILE_PATH.test(value)) return value;
    return safeUrl(value);
  }

  /** Link to another dashboard page. */
  function pageHref(path) {
    return path;
  }

  /**
   * Subscribe to the SSE feed. `onEvent(event)` gets each parsed event; `onState(s)` gets
   * "live" / "reconnecting". EventSource reconnects by itself.
   */
  function openStream(query, onEvent, onState) {
    const qs = new URLSearchParams(query);
    const source = new EventSource(`/api/stream?${qs.toString()}`);
    source.onopen = () => onState("live");
    source.onerror = () => onState(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    source.onmessage = (msg) => {
      let event;
      try { event = JSON.parse(msg.data); } catch (_) { return; }
      onEvent(event);
    };
    window.addEventListener("beforeunload", () => source.close());
    return source;
  }

  function setConn(state) {
    const node = document.getElementById("conn");
    if (!node) return;
    node.className = `conn conn-${state}`;
    node.textContent = { live: "● live", reconnecting: "reconnecting…", closed: "disconnected" }[state] || state;
  }

  function showError(message) {
    const node = document.getElementById("error");
    if (!node) return;
    node.hidden = !message;
    node.textContent = message || "";
  }

  function fmtNumber(value, digits = 0) {
    if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
    return Number(value).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  }

  function fmtAge(seconds) {
    if (seconds === null || seconds === undefined) return "never";
    if (seconds < 1) return "now";
    if (seconds < 60) return `${Math.round(seconds)} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    return `${Math.floor(seconds / 3600)} h ago`;
  }

  /** Stream time (ms since the room's stream start) as m:ss or h:mm:ss. */
  function fmtStreamMs(ms) {
    const total = Math.max(0, Math.floor((ms || 0) / 1000));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? `${h}:` : "") + `${mm}:${String(s).padStart(2, "0")}`;
  }

  /** Draw a sparkline of `values` (nulls are gaps) on a <canvas>, crisp on HiDPI screens. */
  function sparkline(canvas, values, color) {
    const ratio = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || canvas.width, cssH = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(cssW * ratio)) {
      canvas.width = Math.round(cssW * ratio);
      canvas.height = Math.round(cssH * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const finite = values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
    if (finite.length === 0) {
      ctx.fillStyle = "#6b7280";
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText("no data yet", 8, cssH / 2 + 4);
      return;
    }
    const pad = 6, top = 16;  // top: room for the scale label above the line
    const lo = Math.min(0, ...finite), hi = Math.max(...finite);
    const span = hi - lo || 1;
    const x = (i) => pad + (values.length <= 1 ? (cssW - 2 * pad) / 2 : (i * (cssW - 2 * pad)) / (values.length - 1));
    const y = (v) => cssH - pad - ((v - lo) / span) * (cssH - pad - top);
    // baseline
    ctx.strokeStyle = "#2a3140";
    ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(pad, y(lo)); ctx.lineTo(cssW - pad, y(lo)); ctx.stroke();
    // area + line
    ctx.strokeStyle = color;
    ctx.fillStyle = color + "33";
    ctx.lineWidth = 2;
    ctx.lineJoin = "round";
    let started = false, firstX = 0, lastX = 0;
    ctx.beginPath();
    values.forEach((v, i) => {
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      if (!started) { ctx.moveTo(x(i), y(v)); started = true; firstX = x(i); } else ctx.lineTo(x(i), y(v));
      lastX = x(i);
    });
    ctx.stroke();
    ctx.lineTo(lastX, y(lo)); ctx.lineTo(firstX, y(lo)); ctx.closePath(); ctx.fill();
    // last point
    const lastIndex = values.map((v) => v !== null && v !== undefined && Number.isFinite(v)).lastIndexOf(true);
    ctx.fillStyle = color;
    ctx.beginPath(); ctx.arc(x(lastIndex), y(values[lastIndex]), 3, 0, Math.PI * 2); ctx.fill();
    // scale
    ctx.fillStyle = "#8b93a5";
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillText(`max ${fmtNumber(hi, hi < 10 ? 1 : 0)} · ${values.length} windows`, pad, 11);
  }

  /** Coalesce many calls into one per animation frame. */
  function throttled(fn) {
    let pending = false;
    return () => {
      if (pending) return;
      pending = true;
      window.requestAnimationFrame(() => { pending = false; fn(); });
    };
  }

  return { signIn, api, el, replaceChildren, safeUrl, mediaUrl, pageHref, openStream, setConn, showError,
           fmtNumber, fmtAge, fmtStreamMs, sparkline, throttled };
})();
