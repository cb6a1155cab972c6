/* Campaigns, one campaign's report (with its uplift curves) and the Experiments page (sample
   size calculator, programme ROI, cost settings). Every figure comes from /api/campaigns* and
   /api/experiments* (see /docs); the helpers are app.js's (window.memberlens). */
(function () {
  "use strict";
  const M = window.memberlens;
  if (!M) return;
  const { api, send, chart, table, el, fmt, t, tf, fail, empty, hide, show } = M;
  const page = document.body.dataset.page;
  const metric = (m) => { const k = "metric." + m; const v = t(k); return v === k ? m : v; };
  const valueFmt = (m) => (/revenue/.test(m) ? fmt.money : fmt.pct);

  function notes(box, messages, srm) {
    box.replaceChildren();
    (messages || []).forEach((m) => {
      const bad = srm && srm.mismatch && m === srm.message;
      box.appendChild(el("div", { class: "note-box" + (bad ? " srm" : ""), "data-note": bad ? "srm" : "note" }, m));
    });
    return (messages || []).length;
  }

  async function campaignsPage() {
    const data = await api("/api/campaigns");
    if (!data) return;
    if (!data.available || !data.campaigns.length) {
      empty({ available: false });
      document.getElementById("empty").textContent = t("campaigns.none");
      return;
    }
    const rows = data.campaigns.map((r) => Object.assign({ treated: (r.members || 0) - (r.control || 0) }, r));
    table("campaigns-table", [{ key: "campaign_id" }, { key: "name" }, { key: "channel" }, { key: "starts_at", fmt: "day" },
      { key: "ends_at", fmt: "day" }, { key: "members", fmt: "int" }, { key: "control", fmt: "int" }], rows,
      (r) => { location.href = "/campaigns/" + encodeURIComponent(r.campaign_id); });
    chart("chart-campaigns", { tooltip: { trigger: "axis" }, legend: { bottom: 0, data: [t("col.arm"), t("col.control")] },
      grid: { left: 60, right: 20, top: 10, bottom: 60 },
      xAxis: { type: "category", data: rows.map((r) => r.campaign_id), axisLabel: { rotate: 30 } }, yAxis: { type: "value" },
      series: [{ name: t("col.arm"), type: "bar", stack: "n", data: rows.map((r) => r.treated) },
        { name: t("col.control"), type: "bar", stack: "n", data: rows.map((r) => r.control || 0) }] });
  }

  async function campaignPage() {
    const root = document.getElementById("campaign-root");
    const id = root.dataset.campaignId;
    const form = document.getElementById("report-form");
    const q = new URLSearchParams(location.search);
    if (q.get("by")) form.elements.by.value = q.get("by");
    const params = () => (form.elements.by.value ? { by: form.elements.by.value } : {});
    const exportLink = (aid, format) => {
      document.getElementById(aid).href = "/api/campaigns/" + encodeURIComponent(id) + "/export?" +
        new URLSearchParams(Object.assign({ format }, params())).toString();
    };
    async function load() {
      const r = await api("/api/campaigns/" + encodeURIComponent(id), params());
      if (!r) return;
      document.getElementById("campaign-title").textContent = r.campaign_id + " " + (r.name || "");
      const n = notes(document.getElementById("notes"), r.messages, r.srm);
      document.getElementById("notes-card").classList.toggle("hidden", n === 0);
      table("arms-table", [{ key: "arm" }, { key: "n", fmt: "int" }, { key: "responders", fmt: "int" }, { key: "buyers", fmt: "int" },
        { key: "response_rate", fmt: "pct" }, { key: "conversion_rate", fmt: "pct" }, { key: "aov", fmt: "money" },
        { key: "revenue", fmt: "money" }, { key: "revenue_per_member", fmt: "money" }, { key: "retention_rate", fmt: "pct" }], r.arms);
      const comps = (r.comparisons || []).map((c) => Object.assign({}, c, { metric_label: metric(c.metric),
        diff: valueFmt(c.metric)(c.difference), low: valueFmt(c.metric)(c.ci_low), high: valueFmt(c.metric)(c.ci_high),
        loss: valueFmt(c.metric)(c.expected_loss) }));
      document.getElementById("comparisons-card").classList.toggle("hidden", !comps.length);
      table("comparisons-table", [{ key: "arm" }, { key: "metric_label", label: t("col.metric") }, { key: "diff", label: t("col.difference") },
        { key: "relative_lift", fmt: "change" }, { key: "low", label: t("col.ci_low") }, { key: "high", label: t("col.ci_high") },
        { key: "p_value", fmt: "num" }, { key: "p_value_adjusted", fmt: "num" }, { key: "probability_to_beat_control", fmt: "pct" },
        { key: "loss", label: t("col.expected_loss") }], comps);
      const rel = comps.filter((c) => c.relative_lift != null);
      if (rel.length) {
        const labels = rel.map((c) => c.arm + " · " + c.metric_label);
        chart("chart-lift", { tooltip: { trigger: "axis", valueFormatter: fmt.change }, grid: { left: 200, right: 30, top: 10, bottom: 30 },
          xAxis: { type: "value", axisLabel: { formatter: (v) => fmt.change(v) } }, yAxis: { type: "category", data: labels, inverse: true },
          series: [{ type: "bar", data: rel.map((c) => c.relative_lift), barWidth: 14 },
            { type: "custom", renderItem: (p, a) => { const lo = a.coord([a.value(0), p.dataIndex]), hi = a.coord([a.value(1), p.dataIndex]);
              return { type: "line", shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style: { stroke: "#142b4f", lineWidth: 2 } }; },
            data: rel.map((c) => [c.relative_ci_low, c.relative_ci_high]), encode: { x: [0, 1] } }] });
      } else { hide("chart-lift"); }
      const econ = r.economics || [];
      document.getElementById("economics-card").classList.toggle("hidden", !econ.length);
      table("economics-table", [{ key: "arm" }, { key: "incremental_revenue", fmt: "money" }, { key: "ci_low", fmt: "money" }, { key: "ci_high", fmt: "money" },
        { key: "incremental_margin", fmt: "money" }, { key: "cost", fmt: "money" }, { key: "roi", fmt: "change" }, { key: "reason", label: t("campaign.notes") }], econ);
      const seg = [];
      (r.segments || []).forEach((s) => (s.comparisons || []).forEach((c) => seg.push(Object.assign({ segment: s.segment, metric_label: metric(c.metric),
        diff: valueFmt(c.metric)(c.difference), low: valueFmt(c.metric)(c.ci_low), high: valueFmt(c.metric)(c.ci_high),
        loss: valueFmt(c.metric)(c.expected_loss) }, c))));
      document.getElementById("segments-card").classList.toggle("hidden", !(r.segments || []).length);
      document.getElementById("segments-as-of").textContent = r.segments_as_of
        ? t("campaign.segments_as_of") + ": " + r.segments_as_of + " (" + r.segments_source + ")" : "";
      table("segments-table", [{ key: "segment", fmt: "seg", label: r.by || t("col.segment") }, { key: "arm" }, { key: "metric_label", label: t("col.metric") },
        { key: "diff", label: t("col.difference") }, { key: "low", label: t("col.ci_low") }, { key: "high", label: t("col.ci_high") },
        { key: "p_value_adjusted", fmt: "num" }, { key: "probability_to_beat_control", fmt: "pct" },
        { key: "loss", label: t("col.expected_loss") }], seg);
      exportLink("export-xlsx", "xlsx"); exportLink("export-html", "html");
    }
    form.addEventListener("submit", (e) => { e.preventDefault(); load().catch(fail); });
    await load();
    await upliftSection(id);
  }

  async function upliftSection(id) {
    const u = await api("/api/campaigns/" + encodeURIComponent(id) + "/uplift");
    if (!u) return;
    if (!u.available) { hide("uplift-body"); document.getElementById("uplift-empty").textContent = tf("uplift.none", { id }); return; }
    document.getElementById("uplift-empty").textContent = tf("uplift.chosen", { method: u.chosen_method });
    table("uplift-models", [{ key: "method" }, { key: "qini_coefficient", fmt: "num" }, { key: "auuc", fmt: "num" }, { key: "n", fmt: "int" }], u.evaluations);
    const series = u.evaluations.map((e) => ({ name: e.method, type: "line", showSymbol: false, data: e.qini_x.map((x, i) => [x, e.qini_y[i]]) }));
    const first = u.evaluations[0];
    const end = [first.qini_x[first.qini_x.length - 1], first.qini_y[first.qini_y.length - 1]];
    series.push({ name: t("uplift.random"), type: "line", showSymbol: false, lineStyle: { type: "dashed" }, data: [[0, 0], end] });
    chart("chart-qini", { title: { text: t("uplift.qini"), textStyle: { fontSize: 13 } }, tooltip: { trigger: "axis" }, legend: { bottom: 0 },
      grid: { left: 50, right: 20, top: 40, bottom: 60 }, xAxis: { type: "value", name: t("uplift.x"), nameLocation: "middle", nameGap: 25 },
      yAxis: { type: "value" }, series });
    const best = u.evaluations.find((e) => e.method === u.chosen_method) || first;
    chart("chart-deciles", { title: { text: t("uplift.deciles"), textStyle: { fontSize: 13 } }, tooltip: { trigger: "axis", valueFormatter: fmt.pct },
      legend: { bottom: 0, data: [t("col.observed_uplift"), t("col.predicted_uplift")] }, grid: { left: 60, right: 20, top: 40, bottom: 50 },
      xAxis: { type: "category", data: best.deciles.map((d) => d.decile) }, yAxis: { type: "value", axisLabel: { formatter: (v) => fmt.pct(v) } },
      series: [{ name: t("col.observed_uplift"), type: "bar", data: best.deciles.map((d) => d.observed_uplift) },
        { name: t("col.predicted_uplift"), type: "line", data: best.deciles.map((d) => d.predicted_uplift) }] });
    await upliftTargets(id);
  }

  // the top members from mart_uplift_scores, or (the toggle) scored now by the saved model
  async function upliftTargets(id) {
    const box = document.getElementById("uplift-rescore");
    const note = document.getElementById("uplift-targets-note");
    const cols = [{ key: "member_id" }, { key: "uplift", fmt: "pct" }, { key: "expected_incremental_revenue", fmt: "money" },
      { key: "expected_incremental_profit", fmt: "money" }];
    async function load() {
      box.disabled = true;
      try {
        const r = await api("/api/campaigns/" + encodeURIComponent(id) + "/uplift/targets", { top: 100, rescore: box.checked });
        if (!r) return;
        const asOf = r.targets.length ? fmt.day(r.targets[0].scored_as_of) : "-";
        note.textContent = tf(r.rescored ? "uplift.from_model" : "uplift.from_mart", { as_of: asOf });
        note.dataset.rescored = String(r.rescored);
        table("uplift-targets", cols, r.targets, (row) => { location.href = "/members/" + encodeURIComponent(row.member_id); });
      } catch (err) {
        note.textContent = String(err.message || err);  // e.g. no saved model: the command to run
        note.dataset.rescored = "error";
        table("uplift-targets", cols, []);
      } finally {
        box.disabled = false;
      }
    }
    box.addEventListener("change", () => { load(); });
    await load();
  }

  function numbers(form) {
    const out = {};
    Array.from(form.elements).forEach((e) => { if (e.name && e.value !== "") out[e.name] = Number(e.value); });
    return out;
  }

  async function experimentsPage() {
    const planForm = document.getElementById("plan-form");
    async function plan() {
      const p = await api("/api/experiments/plan", numbers(planForm));
      if (!p) return;
      const dl = document.getElementById("plan-result"); dl.replaceChildren();
      [["plan.per_arm", fmt.int(p.n_per_arm)], ["plan.total", fmt.int(p.n_total)], ["plan.days", fmt.int(p.days)]].forEach(([k, v]) => {
        dl.appendChild(el("dt", {}, t(k))); dl.appendChild(el("dd", { "data-field": k }, v));
      });
      chart("chart-plan", { tooltip: { trigger: "axis", valueFormatter: fmt.pct }, grid: { left: 60, right: 20, top: 10, bottom: 30 },
        xAxis: { type: "category", data: [t("plan.baseline"), t("plan.target")] }, yAxis: { type: "value", axisLabel: { formatter: (v) => fmt.pct(v) } },
        series: [{ type: "bar", data: [p.baseline, p.target_rate], barWidth: 40 }] });
    }
    planForm.addEventListener("submit", (e) => { e.preventDefault(); plan().catch(fail); });
    const roiForm = document.getElementById("roi-form");
    async function roi() {
      const r = await send("POST", "/api/experiments/roi", numbers(roiForm));
      const rows = [r.blanket, r.targeted].map((x) => Object.assign({ plan_label: t("roi." + x.plan) }, x));
      table("roi-table", [{ key: "plan_label", label: t("roi.plan") }, { key: "messaged", fmt: "int" }, { key: "incremental_buyers", fmt: "num" },
        { key: "incremental_margin", fmt: "money" }, { key: "cost_per_year", fmt: "money" }, { key: "net_per_year", fmt: "money" }, { key: "roi", fmt: "change" }], rows);
      const dl = document.getElementById("roi-summary"); dl.replaceChildren();
      [["roi.advantage", fmt.money(r.advantage_per_year)], ["roi.break_even", fmt.num(r.break_even_campaigns)]].forEach(([k, v]) => {
        dl.appendChild(el("dt", {}, t(k))); dl.appendChild(el("dd", { "data-field": k }, v));
      });
      notes(document.getElementById("roi-notes"), r.messages);
      chart("chart-roi", { tooltip: { trigger: "axis", valueFormatter: fmt.money }, legend: { bottom: 0 }, grid: { left: 80, right: 20, top: 10, bottom: 50 },
        xAxis: { type: "category", data: rows.map((x) => x.plan_label) }, yAxis: { type: "value", axisLabel: { formatter: (v) => fmt.compact(v) } },
        series: [{ name: t("col.cost_per_year"), type: "bar", data: rows.map((x) => x.cost_per_year) },
          { name: t("col.net_per_year"), type: "bar", data: rows.map((x) => x.net_per_year) }] });
    }
    roiForm.addEventListener("submit", (e) => { e.preventDefault(); roi().catch(fail); });
    const costsForm = document.getElementById("costs-form");
    const showCosts = (c) => {
      costsForm.elements.message.value = Object.entries(c.message || {}).map(([k, v]) => k + "=" + v).join(", ");
      costsForm.elements.coupon.value = c.coupon == null ? "" : c.coupon;
      costsForm.elements.margin.value = c.margin == null ? "" : c.margin;
      if (!c.can_edit) { Array.from(costsForm.elements).forEach((e) => { e.disabled = true; }); show("costs-readonly"); }
    };
    costsForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const message = {};
      costsForm.elements.message.value.split(",").map((s) => s.trim()).filter(Boolean).forEach((pair) => {
        const [k, v] = pair.split("="); message[(k || "").trim()] = Number(v);
      });
      const num = (v) => (v === "" ? null : Number(v));
      try {
        showCosts(await send("PUT", "/api/experiments/costs", { message, coupon: num(costsForm.elements.coupon.value), margin: num(costsForm.elements.margin.value) }));
        document.getElementById("costs-status").textContent = t("costs.saved");
      } catch (err) { fail(err); }
    });
    const costs = await api("/api/experiments/costs");
    if (costs) showCosts(costs);
    await plan();
    await roi();
  }

  const run = page === "campaigns" ? (document.getElementById("campaign-root") ? campaignPage : campaignsPage)
    : page === "experiments" ? experimentsPage : null;
  if (run) run().catch(fail);
})();
