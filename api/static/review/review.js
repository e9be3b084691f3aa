// genperso review UI: actions over the JSON API, keyboard shortcuts, selection in the grid.
// No framework and no build step. Auth is the HttpOnly session cookie plus the CSRF token
// rendered into <meta name="csrf-token">.
(function () {
  "use strict";

  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const page = document.body.dataset.page || "";
  const toastEl = document.getElementById("toast");
  let toastTimer = null;

  function toast(message, isError) {
    if (!toastEl) return;
    toastEl.textContent = message;
    toastEl.classList.toggle("error", !!isError);
    toastEl.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastEl.hidden = true; }, isError ? 6000 : 2500);
  }

  async function api(method, url, body) {
    const resp = await fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      let msg = (data && (data.message || data.detail)) || resp.statusText;
      if (Array.isArray(msg)) msg = msg.map((d) => d.msg || String(d)).join("; ");
      if (resp.status === 401) { window.location.href = "/review/login"; }
      throw new Error(msg);
    }
    return data;
  }

  // ---- dialogs -------------------------------------------------------------------------------
  function openDialog(id) {
    const d = document.getElementById(id);
    if (d && !d.open) d.showModal();
    return d;
  }
  document.querySelectorAll("dialog [data-close]").forEach((b) =>
    b.addEventListener("click", () => b.closest("dialog").close()));

  function askReason() {
    return new Promise((resolve) => {
      const d = openDialog("reject-dialog");
      const form = document.getElementById("reject-form");
      const field = document.getElementById("reject-reason");
      if (!d || !form || !field) { resolve(null); return; }
      field.value = "";
      field.focus();
      const onSubmit = (ev) => {
        ev.preventDefault();
        const reason = field.value.trim();
        if (!reason) { field.focus(); field.setCustomValidity("A reason is required"); field.reportValidity(); return; }
        field.setCustomValidity("");
        cleanup();
        d.close();
        resolve(reason);
      };
      const onClose = () => { cleanup(); resolve(null); };
      function cleanup() { form.removeEventListener("submit", onSubmit); d.removeEventListener("close", onClose); }
      form.addEventListener("submit", onSubmit);
      d.addEventListener("close", onClose);
    });
  }

  // ---- actions -------------------------------------------------------------------------------
  async function act(assetId, action, extra) {
    const base = "/v1/review/assets/" + encodeURIComponent(assetId) + "/";
    try {
      let result;
      if (action === "reject") {
        const reason = extra || await askReason();
        if (!reason) return null;
        result = await api("POST", base + "reject", { reason: reason });
      } else if (action === "pin" || action === "unpin") {
        result = await api("POST", base + "pin", { pinned: action === "pin" });
      } else if (action === "regenerate") {
        result = await api("POST", base + "regenerate", extra || {});
      } else {
        result = await api("POST", base + action);
      }
      const labels = { approve: "Approved", reject: "Rejected", pin: "Pinned", unpin: "Unpinned", regenerate: "Regeneration queued" };
      toast(labels[action] || "Done");
      return result;
    } catch (e) {
      toast(e.message, true);
      return null;
    }
  }

  function typing(ev) {
    const t = ev.target;
    return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName)) ||
      document.querySelector("dialog[open]");
  }

  // ---- grid page: selection + shortcuts --------------------------------------------------------
  function initGrid() {
    const cards = Array.from(document.querySelectorAll("[data-testid=asset-card]"));
    let idx = -1;
    function select(i) {
      if (!cards.length) return;
      idx = Math.max(0, Math.min(cards.length - 1, i));
      cards.forEach((c, j) => c.classList.toggle("selected", j === idx));
      cards[idx].focus({ preventScroll: true });
      cards[idx].scrollIntoView({ block: "nearest" });
    }
    cards.forEach((c, i) => {
      c.addEventListener("click", (ev) => {
        if (ev.target.closest("a, button, video")) return;
        if (idx === i) window.location.href = c.dataset.href; else select(i);
      });
      c.addEventListener("dblclick", () => { window.location.href = c.dataset.href; });
    });
    if (cards.length) select(0);

    function updateCard(card, asset) {
      if (!asset) return;
      const badge = card.querySelector("[data-testid=state]");
      if (badge) { badge.textContent = asset.state; badge.className = "badge state-" + asset.state; }
    }
    document.addEventListener("keydown", async (ev) => {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const card = cards[idx];
      switch (ev.key) {
        case "j": case "ArrowRight": ev.preventDefault(); select(idx + 1); break;
        case "k": case "ArrowLeft": ev.preventDefault(); select(idx - 1); break;
        case "Enter": if (card) window.location.href = card.dataset.href; break;
        case "a": if (card) { ev.preventDefault(); const r = await act(card.dataset.assetId, "approve"); if (r) updateCard(card, r.asset); } break;
        case "r": if (card) { ev.preventDefault(); const r = await act(card.dataset.assetId, "reject"); if (r) updateCard(card, r.asset); } break;
        case "p": if (card) { ev.preventDefault(); const r = await act(card.dataset.assetId, "pin"); if (r) window.location.reload(); } break;
        default: break;
      }
    });

    const policy = document.querySelector("[data-testid=policy-form]");
    if (policy) {
      policy.addEventListener("change", async (ev) => {
        const value = ev.target.value;
        try {
          await api("POST", "/v1/review/titles/" + encodeURIComponent(policy.dataset.titleId) + "/serving-policy", { policy: value });
          toast(value === "approved_only" ? "Now serving approved assets only" : "Now auto-serving safe assets");
        } catch (e) {
          toast(e.message, true);
          window.setTimeout(() => window.location.reload(), 1500);
        }
      });
    }
    document.querySelectorAll(".filters select").forEach((s) =>
      s.addEventListener("change", () => s.form.submit()));
  }

  // ---- detail page -----------------------------------------------------------------------------
  function initDetail() {
    const main = document.querySelector("main[data-asset-id]");
    if (!main) return;
    const assetId = main.dataset.assetId;
    async function run(action, extra) {
      const r = await act(assetId, action, extra);
      if (r) window.setTimeout(() => window.location.reload(), 400);
    }
    document.querySelectorAll("[data-action]").forEach((b) => {
      if (b.tagName !== "BUTTON") return;
      b.addEventListener("click", () => run(b.dataset.action));
    });
    const regen = document.getElementById("regenerate-form");
    if (regen) {
      regen.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const body = {};
        const field = (name) => (regen.elements[name] ? regen.elements[name].value.trim() : "");
        const seed = field("seed");
        const shot = field("shot");
        const frame = field("frame_time");
        if (seed) body.seed = parseInt(seed, 10);
        if (shot) body.shot = parseInt(shot, 10);
        if (frame) body.frame_time = parseFloat(frame);
        run("regenerate", body);
      });
    }
    document.addEventListener("keydown", (ev) => {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const go = (url) => { if (url) window.location.href = url; };
      switch (ev.key) {
        case "j": case "ArrowRight": if (ev.target.tagName !== "VIDEO" && ev.target.tagName !== "AUDIO") go(main.dataset.nextUrl); break;
        case "k": case "ArrowLeft": if (ev.target.tagName !== "VIDEO" && ev.target.tagName !== "AUDIO") go(main.dataset.prevUrl); break;
        case "a": { ev.preventDefault(); const b = document.querySelector("button[data-action=approve]"); if (b && !b.disabled) run("approve"); break; }
        case "r": ev.preventDefault(); run("reject"); break;
        case "p": { ev.preventDefault(); const b = document.querySelector("button[data-action=pin]"); if (b && !b.disabled) run("pin"); break; }
        case "Escape": go(main.dataset.backUrl); break;
        default: break;
      }
    });
  }

  // ---- global: help ------------------------------------------------------------------------------
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "?" && !typing(ev)) { ev.preventDefault(); openDialog("help-dialog"); }
  });

  if (page === "grid") initGrid();
  if (page === "detail") initDetail();
})();
