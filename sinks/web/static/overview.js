/* /dashboard: every room with its live health. Rows come from /api/dashboard/rooms; the SSE
 * feed (all rooms, metrics and alerts only) triggers a refresh as soon as something changes. */
"use strict";

(() => {
  const { api, el, replaceChildren, pageHref, openStream, setConn, showError, fmtNumber, fmtAge } = LL;
  const STATUS_ORDER = { red: 0, amber: 1, green: 2, ended: 3 };
  let rows = [];
  let fetchedAt = Date.now();

  function ageNow(row) {
    return row.age_s === null || row.age_s === undefined ? null : row.age_s + (Date.now() - fetchedAt) / 1000;
  }

  function render() {
    const body = document.getElementById("room-rows");
    const sorted = [...rows].sort((a, b) =>
      (STATUS_ORDER[a.status] ?? 9) - (STATUS_ORDER[b.status] ?? 9) || a.room_id.localeCompare(b.room_id));
    replaceChildren(body, sorted.map((row) => {
      const link = el("a", { text: row.room_id });
      link.href = pageHref(`/dashboard/room/${encodeURIComponent(row.room_id)}`);
      const tr = el("tr", { cls: `row-${row.status}` }, [
        el("td", {}, [el("span", { cls: `pill pill-${row.status}`, text: row.status })]),
        el("td", { cls: "room" }, [link]),
        el("td", { cls: "num", text: fmtNumber(row.viewers) }),
        el("td", { cls: "num", text: fmtNumber(row.messages_per_s, 1) }),
        el("td", { cls: "num", text: fmtNumber(row.orders_per_min, 1) }),
        el("td", { cls: `num ${row.open_alerts ? "alerting" : ""}`, text: fmtNumber(row.open_alerts) }),
        el("td", { cls: "num age", text: fmtAge(ageNow(row)) }),
        el("td", { cls: "num", text: fmtNumber(row.total_messages) }),
        el("td", { cls: "num", text: fmtNumber(row.total_orders) }),
        el("td", { cls: "num", text: fmtNumber(row.total_gmv, 2) }),
        el("td", { cls: "reasons", text: (row.reasons || []).join(", ") }),
      ]);
      tr.dataset.room = row.room_id;
      return tr;
    }));
    document.getElementById("empty").hidden = rows.length > 0;
    const counts = rows.reduce((acc, r) => ((acc[r.status] = (acc[r.status] || 0) + 1), acc), {});
    document.getElementById("summary").textContent =
      `${rows.length} rooms · ${counts.red || 0} red · ${counts.amber || 0} amber · ${counts.green || 0} green`;
  }

  async function refresh() {
    try {
      rows = await api("/api/dashboard/rooms");
      fetchedAt = Date.now();
      showError("");
      render();
    } catch (err) {
      showError(`Could not load rooms: ${err.message}`);
    }
  }

  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 300);
  }

  refresh();
  openStream({ kinds: "room_metrics,alert" }, refreshSoon, setConn);
  setInterval(refresh, 5000);  // staleness grows without events: recompute it
  setInterval(() => {          // tick the "last update" ages between refreshes
    document.querySelectorAll("#room-rows tr").forEach((tr) => {
      const row = rows.find((r) => r.room_id === tr.dataset.room);
      if (row) tr.querySelector(".age").textContent = fmtAge(ageNow(row));
    });
  }, 1000);
})();
