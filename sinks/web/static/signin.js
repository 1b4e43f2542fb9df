/* /signin: exchange the API token for a session cookie (POST /signin), then go where we were. */
"use strict";

(() => {
  const form = document.getElementById("signin-form");
  const error = document.getElementById("error");
  const next = new URLSearchParams(window.location.search).get("next") || "/dashboard";

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const token = document.getElementById("token").value.trim();
    let res;
    try {
      res = await fetch("/signin", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", "X-Livelens-CSRF": "1" },
        body: JSON.stringify({ token, next }),
      });
    } catch (err) {
      error.textContent = String(err);
      error.hidden = false;
      return;
    }
    if (res.ok) {
      const body = await res.json();
      window.location.assign(body.next || "/dashboard");  // the server checked it is a local path
      return;
    }
    let detail = `HTTP ${res.status}`;
    try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
    error.textContent = detail;  // textContent: never markup
    error.hidden = false;
  });
})();
