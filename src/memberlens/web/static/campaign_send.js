/* The campaign page's send panel, for campaigns memberlens sends (the page leaves it out for an
   imported campaign, which has no ledger): the dry run's figures and guard-rail counts, the ledger's
   status (sent, failed, pending, retried, ...), a scheduled start and, for the roles that may send (admin,
   marketer; the API checks again), the send button, and a preview of any member's message. Every figure comes from
   /api/campaigns/{id}/dry-run, /status and POST /send (see /docs). */
(function () {
  "use strict";
  const M = window.memberlens;
  if (!M) return;
  const { api, send, table, t, tf, fmt } = M;
  const card = document.getElementById("send-card");
  if (!card) return;
  const base = "/api/campaigns/" + encodeURIComponent(card.dataset.campaignId);
  const columns = [{ key: "figure", label: t("send.figure") }, { key: "members", label: t("send.members"), fmt: "int" }];
  const rows = (pairs) => pairs.map(([key, members]) => ({ key, figure: t("send." + key), members }));
  const note = document.getElementById("send-note");

  async function load() {
    let status = null;
    try { status = await api(base + "/status"); } catch (e) { note.textContent = e.message; return; }
    if (!status) return;
    card.classList.remove("hidden");
    table("send-status", columns,
      rows(["sent", "failed", "pending", "retried", "unknown", "control", "excluded"].map((k) => [k, status[k] || 0])));
    try {
      const plan = await api(base + "/dry-run");
      table("send-dry-run", columns, rows([["audience", plan.audience], ["would_send", plan.would_send],
        ["control", plan.control], ["deferred", plan.deferred]].concat(
        Object.entries(plan.excluded).map(([reason, n]) => ["excluded_" + reason, n]))));
      note.textContent = (plan.messages || []).join(" ");
    } catch (e) { note.textContent = e.message; } // a role that may not see members
  }

  const button = document.getElementById("send-button");
  if (button) {
    button.addEventListener("click", async () => {
      const out = document.getElementById("send-result");
      button.disabled = true;
      try {
        const r = await send("POST", base + "/send");
        const withheld = Object.values(r.withheld || {}).reduce((a, b) => a + b, 0);
        out.textContent = r.scheduled ? tf("send.scheduled", { start: r.scheduled })
          : tf("send.done", { sent: fmt.int(r.sent), failed: fmt.int(r.failed),
            pending: fmt.int(r.pending), withheld: fmt.int(withheld) }) + (r.down ? " " + r.down : "");
      } catch (e) { out.textContent = e.message; }
      button.disabled = false;
      await load();
    });
  }
  const form = document.getElementById("preview-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const member = document.getElementById("preview-member").value.trim();
      const out = document.getElementById("preview-out");
      const error = document.getElementById("preview-error");
      error.textContent = "";
      out.classList.add("hidden");
      if (!member) return;
      try {
        const r = await api(base + "/preview?member=" + encodeURIComponent(member));
        document.getElementById("preview-subject").textContent = r.subject || "";
        document.getElementById("preview-body").textContent = r.body;
        document.getElementById("preview-language").textContent = tf("send.preview_language", { language: r.language });
        out.classList.remove("hidden");
      } catch (e) { error.textContent = e.message; }
    });
  }
  load();
})();
