/* /dashboard/desk/{room}: the clip editors' desk. The room's clips as a queue (pending first, best
 * ranked first), each with its preview, transcript, selling point, score and compliance flags, and
 * approve / reject / trim / re-render; export of the approved renders for one platform as a zip.
 * /dashboard/desk alone is the room picker.
 *
 * Every piece of clip text (titles, transcripts, cues, compliance terms) is untrusted: it goes on
 * the page through LL.el (textContent) only. */
"use strict";

(() => {
  const { api, el, replaceChildren, mediaUrl, showError, fmtNumber, openStream } = LL;
  const match = window.location.pathname.match(/^\/dashboard\/desk\/([^/]+)$/);
  const room = match ? decodeURIComponent(match[1]) : null;

  const LABELS = { zh: {
    "← rooms": "← 直播间", "Clip desk": "切片审核台", "Room": "直播间", "Platform": "平台",
    "Export approved (zip)": "导出已通过（zip）", "Sign out": "退出登录", "No clips yet.": "暂无切片。",
    "Approve": "通过", "Reject": "不通过", "Trim": "剪辑", "Re-render": "重新渲染", "start s": "起点 秒",
    "end s": "终点 秒", "score": "评分", "rank": "排序分", "pending": "待审", "approved": "已通过",
    "rejected": "未通过", "Selling point": "卖点", "Compliance": "合规提醒", "held for review": "暂停自动发布",
    "trimmed to": "已剪辑为", "rendering…": "渲染中…", "rendered": "已渲染", "renders": "已渲染平台",
    "ranked by": "排序依据", "decisions": "编辑决定", "clip score": "切片评分", "Choose a room": "选择直播间",
    "waiting": "待审", "s": "秒", "duration": "时长", "suggestion": "建议说法", "new clips: show": "新切片：显示", "reason (optional)": "原因（可选）",
  } };
  let lang = "en";
  const tr = (text) => (LABELS[lang] && LABELS[lang][text]) || text;

  function setLanguage(next) {
    lang = next === "zh" ? "zh" : "en";
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = tr(node.dataset.i18n); });
  }

  let platforms = [];
  let clips = [];

  // ---- header: room picker, platform list, export link, sign out ---------------------------------

  async function loadRooms() {
    const rooms = await api("/api/desk/rooms");
    const picker = document.getElementById("room-picker");
    const options = rooms.map((r) => {
      const option = el("option", { text: `${r.room_id} (${r.pending})` });
      option.value = r.room_id;
      option.selected = r.room_id === room;
      return option;
    });
    if (!room) options.unshift(el("option", { text: "—" }));
    replaceChildren(picker, options);
    picker.onchange = () => {
      if (picker.value && picker.value !== room) window.location.assign(`/dashboard/desk/${encodeURIComponent(picker.value)}`);
    };
    if (!room) {
      const list = document.getElementById("rooms");
      list.hidden = false;
      replaceChildren(list, [el("h2", { text: tr("Choose a room") }), ...rooms.map((r) => {
        const link = el("a", { text: `${r.room_id} · ${r.clips} clips · ${r.pending} ${tr("waiting")}` });
        link.href = `/dashboard/desk/${encodeURIComponent(r.room_id)}`;
        link.dataset.room = r.room_id;
        return link;
      })]);
    }
  }

  function fillPlatforms() {
    const select = document.getElementById("platform");
    const previous = select.value;
    const fitting = platforms.filter((p) => p.languages.includes(lang));
    replaceChildren(select, (fitting.length ? fitting : platforms).map((p) => {
      const option = el("option", { text: p.display_name });
      option.value = p.name;
      return option;
    }));
    if (previous && [...select.options].some((o) => o.value === previous)) select.value = previous;
    updateExport();
  }

  function updateExport() {
    const link = document.getElementById("export");
    const platform = document.getElementById("platform").value;
    link.hidden = !room || !platform;
    if (room && platform) {
      link.href = `/api/rooms/${encodeURIComponent(room)}/export?platform=${encodeURIComponent(platform)}&approved=true`;
      link.setAttribute("download", `${room}-${platform}.zip`);
    }
  }

  // ---- the queue ---------------------------------------------------------------------------------

  const seconds = (ms) => (ms / 1000).toFixed(2);

  function complianceFlags(clip) {
    if (!clip.compliance.length && !clip.hold) return null;
    const items = clip.compliance.map((v) => el("li", { text: `${v.term} · ${v.rule}${v.suggestion ? ` → ${tr("suggestion")}: ${v.suggestion}` : ""}` }));
    return el("div", { cls: `flags ${clip.hold ? "held" : ""}` }, [
      el("strong", { text: `${tr("Compliance")}${clip.hold ? ` · ${tr("held for review")}` : ""}` }),
      el("ul", {}, items),
    ]);
  }

  function card(clip) {
    const video = el("video", { cls: "clip-video" });
    video.controls = true;
    video.preload = "metadata";
    const src = mediaUrl(clip.files["clip.mp4"]);
    if (src) video.src = src;
    const poster = mediaUrl(clip.files["thumb.jpg"]);
    if (poster) video.poster = poster;

    const start = el("input", { cls: "trim-start" });
    const end = el("input", { cls: "trim-end" });
    for (const input of [start, end]) { input.type = "number"; input.step = "0.1"; input.min = "0"; }
    const trim = clip.decision && clip.decision.trim;
    start.value = seconds(trim ? trim.start_ms : 0);
    end.value = seconds(trim ? trim.end_ms : clip.duration_ms);
    const trimResult = el("span", { cls: "trim-result muted small",
      text: trim ? `${tr("trimmed to")} ${seconds(trim.start_ms)}–${seconds(trim.end_ms)} ${tr("s")}` : "" });
    const renderResult = el("span", { cls: "render-result muted small",
      text: clip.renders.length ? `${tr("renders")}: ${clip.renders.join(", ")}` : "" });

    const button = (label, cls, onClick) => {
      const b = el("button", { cls, text: tr(label) });
      b.type = "button";
      b.onclick = async () => {
        b.disabled = true;
        try { showError(""); await onClick(); } catch (err) { showError(String(err.message || err)); } finally { b.disabled = false; }
      };
      return b;
    };
    const path = `/api/rooms/${encodeURIComponent(room)}/clips/${encodeURIComponent(clip.clip_id)}`;
    const reason = el("input", { cls: "reason" });
    reason.maxLength = 500;
    reason.placeholder = tr("reason (optional)");
    reason.value = (clip.decision && clip.decision.reason) || "";

    const node = el("article", { cls: `desk-clip status-${clip.status}` }, [
      el("div", { cls: "clip-head" }, [
        el("span", { cls: "clip-title", text: clip.title || clip.clip_id }),
        el("span", { cls: `pill status`, text: tr(clip.status) }),
      ]),
      video,
      el("div", { cls: "facts" }, [
        el("span", { cls: "selling-point", text: `${tr("Selling point")}: ${(clip.label_name || {})[lang] || clip.label || "–"}` }),
        el("span", { cls: "score", text: `${tr("score")} ${fmtNumber(clip.score, 2)}` }),
        el("span", { cls: "rank", text: `${tr("rank")} ${fmtNumber(clip.rank, 2)}` }),
        el("span", { text: `${tr("duration")} ${seconds(clip.duration_ms)} ${tr("s")}` }),
      ]),
      el("div", { cls: "transcript", text: clip.transcript }),
      complianceFlags(clip),
      el("div", { cls: "actions" }, [
        button("Approve", "approve", async () => {
          await api(`${path}/approve`, { method: "POST", body: { reason: reason.value } }); await refresh(); }),
        button("Reject", "reject", async () => {
          await api(`${path}/reject`, { method: "POST", body: { reason: reason.value } }); await refresh(); }),
        reason,
      ]),
      el("div", { cls: "trim" }, [
        el("label", { cls: "small muted", text: tr("start s") }), start,
        el("label", { cls: "small muted", text: tr("end s") }), end,
        button("Trim", "trim-button", async () => {
          const result = await api(`${path}/trim`, { method: "POST", body: {
            start_ms: Math.round(Number(start.value) * 1000), end_ms: Math.round(Number(end.value) * 1000) } });
          // the server snapped the cut to sentence / word boundaries: show where it landed
          start.value = seconds(result.trim.start_ms);
          end.value = seconds(result.trim.end_ms);
          trimResult.textContent = `${tr("trimmed to")} ${seconds(result.trim.start_ms)}–${seconds(result.trim.end_ms)} ${tr("s")}`;
        }),
        trimResult,
      ]),
      el("div", { cls: "render" }, [
        button("Re-render", "render-button", async () => {
          const platform = document.getElementById("platform").value;
          renderResult.textContent = tr("rendering…");
          const meta = await api(`${path}/render?platform=${encodeURIComponent(platform)}`, { method: "POST" });
          renderResult.textContent = `${tr("rendered")} ${platform}: ${meta.title}`;
        }),
        renderResult,
      ]),
    ]);
    node.dataset.clip = clip.clip_id;
    node.dataset.status = clip.status;
    return node;
  }

  async function refresh() {
    clips = await api(`/api/rooms/${encodeURIComponent(room)}/desk`);
    const zh = clips.filter((c) => c.language === "zh").length;
    const next = clips.length && zh * 2 >= clips.length ? "zh" : "en";
    if (next !== lang) { setLanguage(next); fillPlatforms(); }
    const rankedBy = clips.length ? clips[0].ranked_by : "";
    document.getElementById("ranked-by").textContent = rankedBy
      ? `${tr("ranked by")}: ${rankedBy.startsWith("decisions") ? rankedBy.replace("decisions", tr("decisions")) : tr("clip score")}` : "";
    replaceChildren(document.getElementById("queue"), clips.map(card));
    document.getElementById("empty").hidden = clips.length > 0;
  }

  /** New clips arrive over SSE while the editor works: offered, not forced (a re-draw would stop a
   * playing preview and drop a trim being typed). */
  function watchNewClips() {
    const button = document.getElementById("new-clips");
    const fresh = new Set();
    button.onclick = async () => { fresh.clear(); button.hidden = true; await refresh(); };
    openStream({ room, kinds: "clip" }, (event) => {
      if (event.room_id !== room || event.status === "skipped" || clips.some((c) => c.clip_id === event.clip_id)) return;
      fresh.add(event.clip_id);
      button.textContent = `${tr("new clips: show")} (${fresh.size})`;
      button.hidden = false;
    }, () => {});
  }

  async function main() {
    document.getElementById("room-title").textContent = room || "";
    document.getElementById("platform").onchange = updateExport;
    document.getElementById("signout").onclick = async () => {
      await api("/signout", { method: "POST" });
      window.location.assign("/signin");
    };
    try {
      platforms = await api("/api/platforms");
      fillPlatforms();
      await loadRooms();
      if (room) { await refresh(); watchNewClips(); }
      document.body.dataset.ready = "1";
    } catch (err) {
      showError(String(err.message || err));
    }
  }

  main();
})();
