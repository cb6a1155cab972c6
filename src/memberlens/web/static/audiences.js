/* The Audiences page: a builder that sizes the expression while it is typed (count and breakdown
   by segment, tier and province), the saved audiences, and the overlap of the ticked ones.
   Everything comes from /api/audiences* (see /docs). Helpers are app.js's (window.memberlens). */
(function () {
  "use strict";
  if (document.body.dataset.page !== "audiences") return;
  const { api, send, chart, el, fail, t, tf, fmt, seg } = window.memberlens;
  const form = document.getElementById("audience-form");
  const where = document.getElementById("where");
  const count = document.getElementById("live-count");
  const error = document.getElementById("where-error");
  const notes = document.getElementById("where-notes");
  const picked = new Set();
  let timer = null;
  let asked = 0;

  const label = (column, key) => (key === "__other__" ? t("aud.other") : key == null ? "—" : column === "province" ? key : seg(key));

  function bars(id, column, rows) {
    const items = rows.slice().reverse();
    chart(id, {
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: items.map((r) => label(column, r.key)) },
      series: [{ type: "bar", data: items.map((r) => r.members), label: { show: true, position: "right" } }],
    });
  }

  async function size() {
    const text = where.value.trim();
    const mine = ++asked;
    if (!text) { count.textContent = ""; error.classList.add("hidden"); return; }
    try {
      const r = await api("/api/audiences/size", { where: text });
      if (!r || mine !== asked) return;
      error.classList.add("hidden");
      count.textContent = tf("aud.count", { size: fmt.int(r.size), total: fmt.int(r.total), share: fmt.pct(r.share) });
      count.dataset.size = r.size;
      notes.textContent = (r.notes || []).join("; ");
      bars("chart-aud-segment", "segment_cn8", r.breakdowns.segment_cn8 || []);
      bars("chart-aud-tier", "value_tier", r.breakdowns.value_tier || []);
      bars("chart-aud-province", "province", r.breakdowns.province || []);
    } catch (err) {
      if (mine !== asked) return;
      count.textContent = ""; notes.textContent = ""; delete count.dataset.size;
      error.textContent = String(err.message || err); error.classList.remove("hidden");
    }
  }
  where.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(size, 350); });

  async function overlap() {
    const names = [...picked];
    const tb = document.getElementById("overlap-table");
    if (names.length < 2) { tb.replaceChildren(); chart("chart-overlap", {}); return; }
    const r = await api("/api/audiences/overlap?" + names.map((n) => "names=" + encodeURIComponent(n)).join("&"));
    if (!r) return;
    const rows = r.intersections;
    chart("chart-overlap", {
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: [...names, ...rows.map((i) => i.audiences.join(" ∩ "))].reverse() },
      series: [{ type: "bar", data: [...names.map((n) => r.sizes[n]), ...rows.map((i) => i.members)].reverse(), label: { show: true, position: "right" } }],
    });
    tb.replaceChildren();
    const head = el("tr");
    [t("aud.intersection"), t("aud.size"), t("aud.share_union"), t("aud.share_smallest")].forEach((h) => head.appendChild(el("th", {}, h)));
    tb.appendChild(head);
    rows.forEach((i) => {
      const tr = el("tr");
      tr.appendChild(el("td", {}, i.audiences.join(" ∩ ")));
      tr.appendChild(el("td", { class: "num" }, fmt.int(i.members)));
      tr.appendChild(el("td", { class: "num" }, fmt.pct(i.share_of_union)));
      tr.appendChild(el("td", { class: "num" }, fmt.pct(i.share_of_smallest)));
      tb.appendChild(tr);
    });
  }

  async function saved() {
    const r = await api("/api/audiences");
    if (!r) return;
    const tb = document.getElementById("audiences-table");
    tb.replaceChildren();
    const head = el("tr");
    ["", t("aud.name"), t("aud.expression"), ""].forEach((h) => head.appendChild(el("th", {}, h)));
    tb.appendChild(head);
    r.audiences.forEach((a) => {
      const tr = el("tr", { "data-audience": a.name });
      const box = el("input", { type: "checkbox", "aria-label": a.name });
      box.checked = picked.has(a.name);
      box.addEventListener("change", () => { box.checked ? picked.add(a.name) : picked.delete(a.name); overlap().catch(fail); });
      const td = el("td"); td.appendChild(box); tr.appendChild(td);
      const name = el("td", {}, a.name); name.classList.add("link");
      name.addEventListener("click", () => { where.value = a.expression; form.elements.name.value = a.name; size(); });
      tr.appendChild(name);
      tr.appendChild(el("td", { class: "mono" }, a.expression));
      const actions = el("td");
      const freeze = el("button", { type: "button", class: "link" }, t("aud.freeze"));
      freeze.addEventListener("click", async () => {
        try { const s = await send("POST", "/api/audiences/" + encodeURIComponent(a.name) + "/freeze", {});
          document.getElementById("freeze-note").textContent = a.name + ": " + tf("aud.frozen", { size: fmt.int(s.size), as_of: s.as_of }); } catch (err) { fail(err); }
      });
      const exp = el("a", { href: "/api/audiences/" + encodeURIComponent(a.name) + "/export?format=xlsx", class: "link" }, t("aud.export"));
      const del = el("button", { type: "button", class: "link" }, t("aud.delete"));
      del.addEventListener("click", async () => {
        if (!confirm(t("aud.delete") + " " + a.name + "?")) return;
        try { await send("DELETE", "/api/audiences/" + encodeURIComponent(a.name)); picked.delete(a.name); await saved(); await overlap(); } catch (err) { fail(err); }
      });
      [freeze, exp, del].forEach((b) => actions.appendChild(b));
      tr.appendChild(actions);
      tb.appendChild(tr);
    });
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await send("POST", "/api/audiences", { name: form.elements.name.value.trim(), where: where.value, replace: true });
      await saved();
    } catch (err) { error.textContent = String(err.message || err); error.classList.remove("hidden"); }
  });

  saved().catch(fail);
})();
