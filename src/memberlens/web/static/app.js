/* memberlens dashboard: small helpers plus one function per page. Every chart and table is fed
   by the documented JSON API under /api/ (see /docs). No inline scripts (CSP: script-src 'self'). */
(function () {
  "use strict";
  const body = document.body;
  const LANG = body.dataset.lang || "zh-CN";
  const CURRENCY = body.dataset.currency || "CNY";
  const I18N = JSON.parse(document.getElementById("i18n").textContent);
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const t = (k) => (k in I18N ? I18N[k] : k);
  const tf = (k, values) => t(k).replace(/\{(\w+)\}/g, (m, name) => (values[name] == null ? m : values[name]));
  const seg = (name) => (name == null ? "" : (I18N["segment." + name] || name));
  const nf = new Intl.NumberFormat(LANG, { maximumFractionDigits: 2 });
  const inf = new Intl.NumberFormat(LANG, { maximumFractionDigits: 0 });
  const mf = new Intl.NumberFormat(LANG, { style: "currency", currency: CURRENCY, maximumFractionDigits: 2 });
  const mfc = new Intl.NumberFormat(LANG, { style: "currency", currency: CURRENCY, notation: "compact", maximumFractionDigits: 1 });
  const pf = new Intl.NumberFormat(LANG, { style: "percent", maximumFractionDigits: 1 });
  const fmt = {
    num: (v) => (v == null ? "—" : nf.format(v)), int: (v) => (v == null ? "—" : inf.format(v)),
    money: (v) => (v == null ? "—" : mf.format(v)), compact: (v) => (v == null ? "—" : mfc.format(v)),
    pct: (v) => (v == null ? "—" : pf.format(v)), text: (v) => (v == null ? "—" : String(v)),
    date: (v) => (v == null ? "—" : String(v).replace("T", " ").slice(0, 16)), seg: (v) => seg(v) || "—",
    day: (v) => (v == null ? "—" : String(v).slice(0, 10)),
    change: (v) => (v == null ? "—" : (v > 0 ? "+" : v < 0 ? "−" : "") + pf.format(Math.abs(v))),
  };
  const COLORS = ["#1f5fbf", "#f5a623", "#1e9e6a", "#d64545", "#7b5cd6", "#19a7c2", "#e0719b", "#8c9a2b", "#6b7385", "#c97c2e", "#3a8fd9"];

  async function api(path, params) {
    const url = new URL(path, location.origin);
    Object.entries(params || {}).forEach(([k, v]) => { if (v !== "" && v != null) url.searchParams.set(k, v); });
    const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (res.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); return null; }
    const data = await res.json();
    if (!res.ok) throw new Error(data.detail || res.statusText);
    return data;
  }
  async function send(method, path, payload) {
    const res = await fetch(path, { method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF, Accept: "application/json" },
      body: payload ? JSON.stringify(payload) : undefined });
    const data = await res.json();
    if (!res.ok) throw new Error(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
    return data;
  }
  const charts = [];
  function chart(id, option) {
    const el = document.getElementById(id);
    if (!el) return null;
    let c = echarts.getInstanceByDom(el);
    if (!c) { c = echarts.init(el); charts.push(c); }
    c.setOption(Object.assign({ color: COLORS, textStyle: { fontFamily: "inherit" } }, option), true);
    return c;
  }
  // A window shrunk to nothing (minimised, or the 1x1 step of a full-page screenshot) leaves the
  // charts zero-sized; ECharts' maps and graphs cannot invert a zero-size view, so those wait.
  window.addEventListener("resize", () => charts.forEach((c) => {
    const box = c.getDom();
    if (!c.isDisposed() && box.clientWidth > 0 && box.clientHeight > 0) c.resize();
  }));
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    if (text != null) e.textContent = text;
    return e;
  }
  function table(id, columns, rows, onClick) {
    const tb = document.getElementById(id);
    if (!tb) return;
    tb.replaceChildren();
    const head = el("thead"); const tr = el("tr");
    columns.forEach((c) => tr.appendChild(el("th", {}, c.label || t("col." + c.key))));
    head.appendChild(tr); tb.appendChild(head);
    const bodyEl = el("tbody");
    if (!rows.length) {
      const r = el("tr"); const td = el("td", { colspan: columns.length, class: "muted" }, t("empty.nodata"));
      r.appendChild(td); bodyEl.appendChild(r);
    }
    rows.forEach((row) => {
      const r = el("tr");
      columns.forEach((c) => {
        const f = fmt[c.fmt || "text"];
        const numeric = ["num", "int", "money", "pct", "compact", "change"].includes(c.fmt);
        r.appendChild(el("td", numeric ? { class: "num" } : {}, f(row[c.key])));
      });
      if (onClick) r.addEventListener("click", () => onClick(row));
      bodyEl.appendChild(r);
    });
    tb.appendChild(bodyEl);
  }
  function empty(data) {
    const box = document.getElementById("empty");
    if (data && data.available === false) {
      if (box) { box.textContent = t("empty.run") + (data.missing ? " (" + data.missing + ")" : ""); box.classList.remove("hidden"); }
      document.querySelectorAll(".content > section").forEach((s) => s.classList.add("hidden"));
      return true;
    }
    return false;
  }
  function fail(err) {
    const c = document.querySelector(".content");
    const box = el("div", { class: "alert", role: "alert" }, String(err.message || err));
    c.prepend(box);
  }
  const memberUrl = (id) => "/members/" + encodeURIComponent(id);
  const hide = (id) => { const e = document.getElementById(id); if (e) e.classList.add("hidden"); };
  const show = (id) => { const e = document.getElementById(id); if (e) e.classList.remove("hidden"); };
  // a stable colour per name (segment, tier, stage), so a name keeps its colour across charts
  const colorOf = (name) => { let h = 0; for (const ch of String(name)) h = (h * 31 + ch.codePointAt(0)) >>> 0; return COLORS[h % COLORS.length]; };

  // ---------------------------------------------------------------- pages
  const pages = {};

  pages.overview = async function () {
    const form = document.getElementById("range-form");
    const q = new URLSearchParams(location.search);
    ["start", "end", "grain"].forEach((k) => { if (q.get(k)) form.elements[k].value = q.get(k); });
    const data = await api("/api/overview", { start: q.get("start"), end: q.get("end"), grain: q.get("grain") || "day" });
    if (!data) return;
    form.elements.start.value = data.start; form.elements.end.value = data.end; form.elements.grain.value = data.grain;
    document.getElementById("range-label").textContent = t("chart.previous") + ": " + data.previous_start + " – " + data.previous_end;
    const spec = [["members", "int"], ["active_members", "int"], ["revenue", "money"], ["orders", "int"],
      ["aov", "money"], ["repurchase_rate", "pct"], ["retention", "pct"], ["new_members", "int"]];
    const box = document.getElementById("kpis"); box.replaceChildren();
    spec.forEach(([k, f]) => {
      const card = el("div", { class: "kpi", "data-kpi": k });
      card.appendChild(el("div", { class: "label" }, t("kpi." + k)));
      card.appendChild(el("div", { class: "value" }, fmt[f](data.current[k])));
      const ch = data.change[k];
      const d = el("div", { class: "delta " + (ch > 0 ? "up" : ch < 0 ? "down" : "") },
        t("kpi.vs_previous") + " " + (ch == null ? "—" : (ch > 0 ? "▲ " : ch < 0 ? "▼ " : "") + pf.format(Math.abs(ch))));
      card.appendChild(d); box.appendChild(card);
    });
    const x = data.trend.map((r) => r.bucket);
    const prevBy = data.previous_trend;
    const line = (key, f) => ({
      tooltip: { trigger: "axis", valueFormatter: f },
      legend: { data: [t("chart.current"), t("chart.previous")], bottom: 0 },
      grid: { left: 60, right: 20, top: 20, bottom: 50 },
      xAxis: { type: "category", data: x, boundaryGap: false },
      yAxis: { type: "value", axisLabel: { formatter: (v) => (key === "revenue" ? mfc.format(v) : inf.format(v)) } },
      series: [
        { name: t("chart.current"), type: "line", smooth: 0.3, showSymbol: false, areaStyle: { opacity: 0.12 }, data: data.trend.map((r) => r[key]) },
        { name: t("chart.previous"), type: "line", smooth: 0.3, showSymbol: false, lineStyle: { type: "dashed" }, data: prevBy.slice(0, x.length).map((r) => r[key]) },
      ],
    });
    chart("chart-revenue", line("revenue", fmt.money));
    chart("chart-active", line("active_members", fmt.int));
  };

  pages.segments = async function () {
    const data = await api("/api/segments");
    if (!data || empty(data)) return;
    const drill = (name) => { location.href = "/members?segment=" + encodeURIComponent(seg(name)); };
    const rows = [];
    Object.entries(data.schemes).forEach(([scheme, segs]) => segs.forEach((s) => rows.push(Object.assign({ scheme }, s))));
    const treemap = (id, scheme) => {
      const segs = data.schemes[scheme] || [];
      const c = chart(id, {
        tooltip: { formatter: (p) => p.name + "<br>" + t("col.members") + ": " + inf.format(p.value) + "<br>" + t("col.revenue_share") + ": " + pf.format(p.data.share || 0) },
        series: [{ type: "treemap", roam: false, nodeClick: false, breadcrumb: { show: false }, top: 0, left: 0, right: 0, bottom: 0,
          label: { formatter: (p) => p.name + "\n" + inf.format(p.value) },
          data: segs.map((s, i) => ({ name: seg(s.segment), raw: s.segment, value: s.members, share: s.revenue_share, itemStyle: { color: COLORS[i % COLORS.length] } })) }],
      });
      if (c) c.on("click", (p) => drill(p.data.raw));
    };
    const names = Object.keys(data.schemes);
    const cn = names.find((n) => /cn|8/.test(n)) || names[0];
    const en = names.find((n) => n !== cn && /en|11|rfm/.test(n)) || names[1];
    treemap("chart-seg-cn", cn);
    if (en) treemap("chart-seg-en", en);
    table("seg-table", [{ key: "scheme" }, { key: "segment", fmt: "seg" }, { key: "members", fmt: "int" },
      { key: "revenue", fmt: "money" }, { key: "revenue_share", fmt: "pct" }, { key: "avg_clv", fmt: "money" }], rows, (r) => drill(r.segment));
    document.getElementById("seg-table").classList.add("clickable");
    const bar = (id, list, key, param) => {
      if (!list) return;
      const c = chart(id, { tooltip: {}, grid: { left: 110, right: 20, top: 10, bottom: 30 },
        xAxis: { type: "value" }, yAxis: { type: "category", data: list.map((r) => seg(r[key])), inverse: true },
        series: [{ type: "bar", data: list.map((r) => r.members), itemStyle: { borderRadius: [0, 4, 4, 0] } }] });
      if (c) c.on("click", (p) => { location.href = "/members?" + param + "=" + encodeURIComponent(p.name); });
    };
    bar("chart-tiers", data.value_tier, "value_tier", "value_tier");
    bar("chart-lifecycle", data.lifecycle_stage, "lifecycle_stage", "lifecycle_stage");
    const moves = (data.transitions || []).filter((m) => m.members > 0);
    if (moves.length) {
      const from = (s) => seg(s) + " ·", to = (s) => "· " + seg(s);
      const names = new Set(); moves.forEach((m) => { names.add(from(m.from_stage)); names.add(to(m.to_stage)); });
      document.getElementById("transitions-period").textContent = String(moves[0].from_as_of).slice(0, 10) + " → " + String(moves[0].to_as_of).slice(0, 10);
      chart("chart-transitions", { tooltip: { trigger: "item", valueFormatter: fmt.int },
        series: [{ type: "sankey", left: 10, right: 120, nodeGap: 10, emphasis: { focus: "adjacency" }, lineStyle: { color: "source", opacity: 0.35 },
          data: [...names].map((n) => ({ name: n })), links: moves.map((m) => ({ source: from(m.from_stage), target: to(m.to_stage), value: m.members })) }] });
    } else {
      document.getElementById("transitions-card").classList.add("hidden");
    }
  };

  pages.members = async function () {
    const form = document.getElementById("member-filter");
    const q = new URLSearchParams(location.search);
    const keys = ["q", "segment", "value_tier", "province", "lifecycle_stage"];
    keys.forEach((k) => { if (form.elements[k] && q.get(k)) form.elements[k].value = q.get(k); });
    let page = Number(q.get("page") || 1);
    const params = () => { const p = {}; keys.forEach((k) => { const v = form.elements[k] ? form.elements[k].value : q.get(k); if (v) p[k] = v; }); return p; };
    const exportLink = (id, format) => {
      const a = document.getElementById(id);
      if (a) a.href = "/api/members/export?" + new URLSearchParams(Object.assign({ format }, params())).toString();
    };
    async function load() {
      const data = await api("/api/members", Object.assign({ page, page_size: 50 }, params()));
      if (!data) return;
      document.getElementById("member-total").textContent = t("members.total").replace("{n}", inf.format(data.total));
      document.getElementById("page-no").textContent = page + " / " + Math.max(1, Math.ceil(data.total / data.page_size));
      const cols = [{ key: "member_id" }];
      if (data.rows.length && "segment_cn8" in data.rows[0]) cols.push({ key: "segment_cn8", fmt: "seg" }, { key: "segment_rfm11", fmt: "seg" }, { key: "value_tier", fmt: "seg" }, { key: "lifecycle_stage", fmt: "seg" });
      cols.push({ key: "frequency", fmt: "int" }, { key: "total_spend", fmt: "money" }, { key: "days_since_last", fmt: "int" });
      if (data.rows.length && "p_alive" in data.rows[0]) cols.push({ key: "p_alive", fmt: "pct" }, { key: "clv", fmt: "money" });
      cols.push({ key: "province" }, { key: "phone_masked" });
      table("member-table", cols, data.rows, (r) => { location.href = memberUrl(r.member_id); });
      exportLink("export-csv", "csv"); exportLink("export-xlsx", "xlsx");
      document.getElementById("prev").disabled = page <= 1;
      document.getElementById("next").disabled = page * data.page_size >= data.total;
    }
    form.addEventListener("submit", (e) => { e.preventDefault(); page = 1; load().catch(fail); });
    document.getElementById("prev").addEventListener("click", () => { page -= 1; load().catch(fail); });
    document.getElementById("next").addEventListener("click", () => { page += 1; load().catch(fail); });
    await load();
  };

  pages.member = async function () {
    const id = document.getElementById("member-root").dataset.memberId;
    const data = await api("/api/members/" + encodeURIComponent(id));
    if (!data) return;
    const dl = (target, obj, skip) => {
      const box = document.getElementById(target); box.replaceChildren();
      Object.entries(obj || {}).forEach(([k, v]) => {
        if ((skip || []).includes(k)) return;
        box.appendChild(el("dt", {}, t("col." + k)));
        let f = fmt.text;
        if (/segment|value_tier|lifecycle_stage/.test(k)) f = fmt.seg; else if (/spend|clv|monetary|aov|amount/.test(k)) f = fmt.money;
        else if (k === "p_alive") f = fmt.pct; else if (/_at$/.test(k)) f = fmt.date; else if (typeof v === "number") f = fmt.num;
        box.appendChild(el("dd", { "data-field": k }, f(v)));
      });
    };
    dl("profile", data.profile, ["member_id"]);
    dl("scores", data.scores, ["member_id", "phone_masked", "email_masked", "province", "city", "registration_channel", "gender"]);
    table("orders-table", [{ key: "order_id" }, { key: "ordered_at", fmt: "date" }, { key: "amount", fmt: "money" }, { key: "status", fmt: "seg" }, { key: "channel" }], data.orders);
    const paid = data.orders.filter((o) => o.status === "paid" || o.status == null).slice().reverse();
    chart("chart-orders", { tooltip: { trigger: "axis", valueFormatter: fmt.money }, grid: { left: 60, right: 20, top: 10, bottom: 30 },
      xAxis: { type: "category", data: paid.map((o) => String(o.ordered_at).slice(0, 10)) }, yAxis: { type: "value" },
      series: [{ type: "bar", data: paid.map((o) => o.amount), itemStyle: { borderRadius: [4, 4, 0, 0] } }] });
    history(data.history || { available: false, rows: [] });
    recommendations(data.recommendations || { available: false, rows: [] });
    const btn = document.getElementById("reveal");
    if (btn) btn.addEventListener("click", async () => {
      const out = document.getElementById("reveal-out");
      try {
        const r = await send("POST", "/api/members/" + encodeURIComponent(id) + "/reveal");
        out.replaceChildren();
        if (r.pseudonymised) out.textContent = t("member.pseudonymised");
        else Object.entries(r.values).forEach(([k, v]) => out.appendChild(el("div", {}, k + ": " + (v == null ? "—" : v))));
      } catch (err) { out.textContent = err.message; }
    });
  };

  const HISTORY_DIMS = ["segment_cn8", "segment_rfm11", "value_tier", "lifecycle_stage"];
  function history(h) {
    const rows = h.rows || [];
    if (!h.available || !rows.length) {
      const box = document.getElementById("history-empty");
      box.textContent = t("empty.history"); box.classList.remove("hidden");
      hide("chart-history"); hide("history-table");
      return;
    }
    const dims = HISTORY_DIMS.filter((d) => d in rows[0]);
    const x = rows.map((r) => String(r.as_of).slice(0, 10));
    const el0 = document.getElementById("chart-history");
    const width = Math.max(40, Math.min(150, (el0.clientWidth - 150) / Math.max(1, x.length) - 6));
    const cells = [];
    rows.forEach((r, i) => dims.forEach((d, j) => {
      if (r[d] != null) cells.push({ value: [i, j], name: seg(r[d]), itemStyle: { color: colorOf(d + ":" + r[d]) } });
    }));
    chart("chart-history", { tooltip: { formatter: (p) => x[p.value[0]] + "<br>" + t("col." + dims[p.value[1]]) + ": " + p.name },
      grid: { left: 130, right: 20, top: 10, bottom: 30 },
      xAxis: { type: "category", data: x, axisTick: { alignWithLabel: true } },
      yAxis: { type: "category", data: dims.map((d) => t("col." + d)), inverse: true },
      series: [{ type: "scatter", symbol: "roundRect", symbolSize: [width, 22], data: cells,
        label: { show: true, color: "#fff", fontSize: 11, formatter: (p) => p.name, overflow: "truncate", width: width - 6 } }] });
    table("history-table", [{ key: "as_of", fmt: "day" }].concat(dims.map((d) => ({ key: d, fmt: "seg" }))), rows.slice().reverse());
  }

  function recommendations(r) {
    const rows = r.rows || [];
    if (!r.available || !rows.length) {
      const box = document.getElementById("recs-empty");
      box.textContent = t("empty.recommendations"); box.classList.remove("hidden");
      hide("recs-table");
      return;
    }
    const reason = LANG === "en" ? "reason_en" : "reason_zh";
    table("recs-table", [{ key: "rank", fmt: "int" }, { key: "product_name" }, { key: "category" }, { key: "score", fmt: "num" },
      { key: "reason", label: t("col.reason") }, { key: "source", label: t("col.source") }],
      rows.map((x) => Object.assign({}, x, { reason: x[reason] || x.reason_en || x.reason_zh,
        source: x.source == null ? null : ("source." + x.source in I18N ? t("source." + x.source) : x.source) })));
  }

  const histogram = (id, hist, f) => chart(id, { tooltip: { trigger: "axis" }, grid: { left: 55, right: 20, top: 10, bottom: 40 },
    xAxis: { type: "category", data: hist.map((b) => f(b.from)) }, yAxis: { type: "value" },
    series: [{ type: "bar", barCategoryGap: "5%", data: hist.map((b) => b.members) }] });

  pages.value = async function () {
    const data = await api("/api/value");
    if (!data) return;
    if (empty(data)) { show("backtest-card"); hide("models-card"); await backtest(null); return; }  // needs orders only
    if (data.clv_histogram) histogram("chart-clv", data.clv_histogram, fmt.compact);
    if (data.p_alive_histogram) histogram("chart-palive", data.p_alive_histogram, (v) => pf.format(v));
    table("churn-table", [{ key: "member_id" }, { key: "segment_cn8", fmt: "seg" }, { key: "value_tier", fmt: "seg" }, { key: "total_spend", fmt: "money" },
      { key: "days_since_last", fmt: "int" }, { key: "p_alive", fmt: "pct" }, { key: "value_at_risk", fmt: "money" }],
      data.churn_risk || [], (r) => { location.href = memberUrl(r.member_id); });
    nextPurchase(data.next_purchase || { available: false });
    const chosen = await models();
    await backtest(["bgnbd", "mbgnbd", "pnbd", "mbgcnbd"].includes(chosen) ? chosen : null);
  };

  async function models() {  // mart_model_comparison: the candidates and the one the run chose
    const m = await api("/api/value/models");
    if (!m || m.available === false) { hide("models-card"); return null; }
    const byHoldout = m.criterion === "holdout";
    const name = (m.models.find((r) => r.chosen) || {}).name || "—";
    document.getElementById("models-summary").textContent = tf(byHoldout ? "value.models_holdout" : "value.models_aic", { model: name });
    const best = m.models.find((r) => r.chosen);
    const warn = document.getElementById("models-warning");  // holdout total off by > threshold
    warn.hidden = !m.warning;
    warn.classList.toggle("alert", Boolean(m.warning));  // an alert only when there is one
    if (m.warning && best) warn.textContent = tf("value.models_warning", { model: name,
      error: pf.format(Math.abs(best.holdout_total_error)), limit: pf.format(m.warning_threshold) });
    table("models-table", [{ key: "name", label: t("col.model") },
      { key: byHoldout ? "holdout_mae" : "aic", label: t(byHoldout ? "col.holdout_mae" : "col.aic"), fmt: "num" },
      { key: "log_likelihood", label: t("col.log_likelihood"), fmt: "num" },
      { key: "health", label: t("col.fit_health") }, { key: "mark", label: t("col.chosen") }],
      m.models.map((r) => Object.assign({}, r, { mark: r.chosen ? "✓" : "", health: r.degenerate ? t("value.degenerate") + (r.note ? ": " + r.note : "") : (r.note || "") })));
    return m.chosen;
  }

  function nextPurchase(np) {
    if (!np.available) { hide("next-card"); return; }
    if (np.members) {
      const w = np.members.weeks;
      chart("chart-next", { tooltip: { trigger: "axis" }, legend: { bottom: 0 }, grid: { left: 55, right: 20, top: 10, bottom: 50 },
        xAxis: { type: "category", data: w.map((r) => r.week_start) }, yAxis: { type: "value" },
        series: [{ name: t("value.next_members"), type: "bar", data: w.map((r) => r.members), itemStyle: { borderRadius: [4, 4, 0, 0] } },
          { name: t("value.next_alive"), type: "line", smooth: 0.3, data: w.map((r) => r.expected) }] });
    } else hide("next-members-box");
    const rp = np.replenishment;
    if (rp) {
      const cats = rp.categories;
      chart("chart-replenishment", { tooltip: { trigger: "axis" }, legend: { bottom: 0 }, grid: { left: 80, right: 20, top: 10, bottom: 50 },
        xAxis: { type: "value" }, yAxis: { type: "category", data: cats.map((c) => c.category), inverse: true },
        series: [{ name: t("col.due"), type: "bar", data: cats.map((c) => c.due) },
          { name: t("col.expected_buyers"), type: "bar", data: cats.map((c) => c.expected_buyers) }] });
      table("likely-table", [{ key: "member_id" }, { key: "category" }, { key: "last_purchase", fmt: "day" }, { key: "cycle_days", fmt: "num" },
        { key: "expected_next_purchase", fmt: "day" }, { key: "days_overdue", fmt: "int" }, { key: "p_within_window", fmt: "pct" }],
        rp.likely || [], (r) => { location.href = memberUrl(r.member_id); });
    } else { hide("replenishment-box"); hide("likely-table"); }
  }

  async function backtest(model) {
    const box = document.getElementById("backtest-summary");
    let b;
    try { b = await api("/api/value/backtest", model ? { model } : undefined); } catch (err) {
      box.textContent = err.message;
      hide("backtest-charts");
      return;
    }
    if (!b) return;
    if (b.available === false) {  // the model could not be fitted on these data: say why
      box.textContent = b.detail;
      hide("backtest-charts");
      return;
    }
    const e = b.error;
    box.textContent = tf("value.backtest_summary", { model: b.model.toUpperCase(), calibration_end: b.calibration_end, holdout_end: b.holdout_end,
      n: inf.format(b.n_members), actual: inf.format(e.actual_total), expected: nf.format(e.expected_total), mae: nf.format(e.mae), r: nf.format(e.correlation) });
    const tr = b.tracking; const x = tr.period_end; const p = tr.periods;
    const cut = { silent: true, symbol: "none", lineStyle: { color: "#6b7385", type: "dotted" },
      label: { formatter: t("value.calibration_end"), position: "insideEndTop" }, data: [{ xAxis: x[Math.max(0, tr.calibration_periods - 1)] }] };
    const track = (actual, expected, kind) => ({ tooltip: { trigger: "axis", valueFormatter: (v) => nf.format(v) }, legend: { bottom: 0 },
      grid: { left: 60, right: 20, top: 20, bottom: 50 }, xAxis: { type: "category", data: x, boundaryGap: false }, yAxis: { type: "value" },
      series: [{ name: t("chart.actual"), type: kind, showSymbol: false, data: actual, markLine: cut },
        { name: t("chart.model"), type: "line", showSymbol: false, lineStyle: { type: "dashed" }, data: expected.map((v) => Math.round(v * 100) / 100) }] });
    chart("chart-tracking-cum", track(p.actual_cumulative, p.expected_cumulative, "line"));
    chart("chart-tracking-inc", track(p.actual_incremental, p.expected_incremental, "line"));
    const f = b.by_frequency;
    chart("chart-condexp", { tooltip: { trigger: "axis", valueFormatter: (v) => (v == null ? "—" : nf.format(v)) }, legend: { top: 0 },
      grid: { left: 60, right: 20, top: 30, bottom: 45 },
      xAxis: { type: "category", data: f.map((r) => r.frequency), name: t("col.calibration_frequency"), nameLocation: "middle", nameGap: 28 },
      yAxis: { type: "value" },
      series: [{ name: t("chart.actual"), type: "bar", data: f.map((r) => r.actual_mean), itemStyle: { borderRadius: [4, 4, 0, 0] } },
        { name: t("chart.model"), type: "line", data: f.map((r) => r.expected_mean) }] });
  }

  pages.cohorts = async function () {
    const data = await api("/api/cohorts");
    if (!data || empty(data)) return;
    const cohorts = [...new Set(data.rows.map((r) => String(r.cohort)))];
    const periods = [...new Set(data.rows.map((r) => r.period))].sort((a, b) => a - b);
    chart("chart-heatmap", { tooltip: { formatter: (p) => cohorts[p.value[1]] + " · " + t("cohorts.period") + " " + periods[p.value[0]] + ": " + pf.format(p.value[2]) },
      grid: { left: 90, right: 30, top: 10, bottom: 70 },
      xAxis: { type: "category", data: periods, name: t("cohorts.period") }, yAxis: { type: "category", data: cohorts, inverse: true },
      visualMap: { min: 0, max: 1, calculable: true, orient: "horizontal", left: "center", bottom: 0, inRange: { color: ["#f4f8ff", "#1f5fbf"] }, formatter: (v) => pf.format(v) },
      series: [{ type: "heatmap", data: data.rows.map((r) => [periods.indexOf(r.period), cohorts.indexOf(String(r.cohort)), r.retention]),
        label: { show: cohorts.length <= 16 && periods.length <= 16, formatter: (p) => pf.format(p.value[2]) } }] });
    const shown = cohorts.slice(-13, -1);  // the last complete year of cohorts
    const curve = data.rows.length && "repurchase_rate" in data.rows[0] ? "repurchase_rate" : "retention";
    chart("chart-curves", { tooltip: { trigger: "axis", valueFormatter: (v) => pf.format(v) }, legend: { bottom: 0, type: "scroll" },
      grid: { left: 50, right: 20, top: 10, bottom: 50 }, xAxis: { type: "category", data: periods },
      yAxis: { type: "value", axisLabel: { formatter: (v) => pf.format(v) } },
      series: shown.map((c) => ({ name: c, type: "line", showSymbol: false, data: periods.map((p) => { const r = data.rows.find((x) => String(x.cohort) === c && x.period === p); return r ? r[curve] : null; }) })) });
  };

  const PROVINCES_EN = { "北京市": "Beijing", "天津市": "Tianjin", "河北省": "Hebei", "山西省": "Shanxi", "内蒙古自治区": "Inner Mongolia",
    "辽宁省": "Liaoning", "吉林省": "Jilin", "黑龙江省": "Heilongjiang", "上海市": "Shanghai", "江苏省": "Jiangsu", "浙江省": "Zhejiang",
    "安徽省": "Anhui", "福建省": "Fujian", "江西省": "Jiangxi", "山东省": "Shandong", "河南省": "Henan", "湖北省": "Hubei", "湖南省": "Hunan",
    "广东省": "Guangdong", "广西壮族自治区": "Guangxi", "海南省": "Hainan", "重庆市": "Chongqing", "四川省": "Sichuan", "贵州省": "Guizhou",
    "云南省": "Yunnan", "西藏自治区": "Tibet", "陕西省": "Shaanxi", "甘肃省": "Gansu", "青海省": "Qinghai", "宁夏回族自治区": "Ningxia",
    "新疆维吾尔自治区": "Xinjiang", "台湾省": "Taiwan", "香港特别行政区": "Hong Kong", "澳门特别行政区": "Macao" };
  const province = (name) => (LANG === "en" && PROVINCES_EN[name]) || name;
  const SUFFIX = /(特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|省|市)$/;
  const GEO_METRICS = {
    members: { value: (p) => p.members, f: (v) => inf.format(v), growth: false },
    revenue: { value: (p) => p.revenue, f: (v) => mf.format(v), growth: false },
    members_growth: { value: (p) => p.change.members, f: fmt.change, growth: true },
    active_growth: { value: (p) => p.change.active_members, f: fmt.change, growth: true },
    revenue_growth: { value: (p) => p.change.revenue, f: fmt.change, growth: true },
  };
  let chinaGeo = null;
  pages.geo = async function () {
    const form = document.getElementById("range-form");
    const q = new URLSearchParams(location.search);
    ["start", "end", "metric"].forEach((k) => { if (q.get(k)) form.elements[k].value = q.get(k); });
    async function load() {
      const data = await api("/api/geography", { start: form.elements.start.value, end: form.elements.end.value });
      if (!data || empty(data)) return;
      form.elements.start.value = data.start; form.elements.end.value = data.end;
      document.getElementById("range-label").textContent = tf("geo.period", data);
      if (data.provinces && data.provinces.length) await drawProvinces(data, form.elements.metric.value);
      else { hide("china-card"); hide("growth-card"); }
      drawCountries(data);
    }
    form.addEventListener("submit", (e) => { e.preventDefault(); load().catch(fail); });
    form.elements.metric.addEventListener("change", () => load().catch(fail));
    await load();
  };

  async function drawProvinces(data, metric) {
    const provinces = data.provinces;
    const rows = provinces.map((p) => Object.assign({ province_label: province(p.province), members_end: p.current.members,
      members_change: p.change.members, new_members: p.current.new_members, new_members_previous: p.previous.new_members,
      active_members: p.current.active_members, active_members_previous: p.previous.active_members, active_change: p.change.active_members,
      revenue_current: p.current.revenue, revenue_previous: p.previous.revenue, revenue_change: p.change.revenue }, p));
    table("province-table", [{ key: "province_label", label: t("col.province") }, { key: "members", fmt: "int" }, { key: "members_change", fmt: "change" },
      { key: "new_members", fmt: "int" }, { key: "new_members_previous", fmt: "int" }, { key: "active_members", fmt: "int" },
      { key: "active_members_previous", fmt: "int" }, { key: "active_change", fmt: "change" }, { key: "revenue_current", fmt: "money" },
      { key: "revenue_previous", fmt: "money" }, { key: "revenue_change", fmt: "change" }, { key: "revenue", fmt: "money", label: t("col.revenue_total") }],
      rows, (r) => { location.href = "/members?province=" + encodeURIComponent(r.province); });
    if (!chinaGeo) {
      chinaGeo = await (await fetch("/static/vendor/maps/china.json")).json();
      echarts.registerMap("china", chinaGeo);
    }
    const full = {};
    chinaGeo.features.forEach((f) => { full[f.properties.name.replace(SUFFIX, "")] = f.properties.name; });
    const m = GEO_METRICS[metric] || GEO_METRICS.members;
    // with nameMap (English), ECharts matches data to the mapped names
    const values = provinces.map((p) => { const n = full[String(p.province).replace(SUFFIX, "")] || p.province;
      return { name: LANG === "en" ? province(n) : n, value: m.value(p), raw: p }; });
    const nums = values.map((v) => v.value).filter((v) => v != null);
    const top = Math.max(m.growth ? 0.01 : 1, ...nums.map((v) => (m.growth ? Math.abs(v) : v)));
    const visual = m.growth
      ? { min: -top, max: top, inRange: { color: ["#d64545", "#f7f7f7", "#1e9e6a"] }, formatter: (v) => fmt.change(v) }
      : { min: 0, max: top, inRange: { color: ["#eef4fd", "#1f5fbf", "#142b4f"] }, formatter: (v) => m.f(v) };
    chart("chart-china", { tooltip: { formatter: (p) => { const r = p.data && p.data.raw; if (!r) return province(p.name);
        return province(p.name) + "<br>" + t("col.members") + ": " + inf.format(r.members) + " (" + fmt.change(r.change.members) + ")"
          + "<br>" + t("col.active_members") + ": " + inf.format(r.current.active_members) + " (" + fmt.change(r.change.active_members) + ")"
          + "<br>" + t("col.revenue_current") + ": " + mf.format(r.current.revenue) + " (" + fmt.change(r.change.revenue) + ")"; } },
      visualMap: Object.assign({ left: 10, bottom: 10, calculable: true }, visual),
      series: [{ type: "map", map: "china", roam: true, nameMap: LANG === "en" ? PROVINCES_EN : undefined, layoutCenter: ["50%", "55%"], layoutSize: "120%", label: { show: false }, data: values }] });
  }

  function drawCountries(data) {
    const countries = data.countries || [];
    if (!countries.length) { hide("chart-world"); hide("country-table"); show("no-countries"); return; }
    const name = (c) => (LANG === "en" ? c.name_en : c.name_zh);
    table("country-table", [{ key: "label", label: t("col.country") }, { key: "iso2" }, { key: "orders", fmt: "int" }, { key: "members", fmt: "int" },
      { key: "revenue", fmt: "money" }, { key: "revenue_current", fmt: "money" }, { key: "revenue_previous", fmt: "money" }, { key: "revenue_change", fmt: "change" }],
      countries.map((c) => Object.assign({ label: name(c), revenue_current: c.current.revenue, revenue_previous: c.previous.revenue, revenue_change: c.change.revenue }, c)));
    const mapped = countries.filter((c) => c.map_name);
    const values = mapped.map((c) => ({ name: LANG === "en" ? c.map_name : (data.world_names_zh || {})[c.map_name] || c.map_name, value: c.revenue, raw: c }));
    const max = Math.max(1, ...values.map((v) => v.value));
    chart("chart-world", { tooltip: { formatter: (p) => { const c = p.data && p.data.raw; if (!c) return p.name;
        return name(c) + "<br>" + t("col.revenue") + ": " + mf.format(c.revenue) + "<br>" + t("col.members") + ": " + inf.format(c.members)
          + "<br>" + t("col.revenue_change") + ": " + fmt.change(c.change.revenue); } },
      visualMap: { min: 0, max, left: 10, bottom: 10, calculable: true, inRange: { color: ["#fff4e0", "#f5a623", "#8a5a00"] }, formatter: (v) => mfc.format(v) },
      series: [{ type: "map", map: "world", roam: true, nameMap: LANG === "en" ? undefined : data.world_names_zh, label: { show: false },
        itemStyle: { areaColor: "#eef1f6", borderColor: "#c3cad6" }, emphasis: { label: { show: false } }, data: values }] });
  }

  pages.baskets = async function () {
    const form = document.getElementById("rule-filter");
    async function load() {
      const data = await api("/api/baskets", { min_lift: form.elements.min_lift.value, min_confidence: form.elements.min_confidence.value });
      if (!data || empty(data)) return;
      const items = (v) => (Array.isArray(v) ? v.join(" + ") : String(v == null ? "∅" : v));
      const rows = data.rows.map((r) => Object.assign({}, r, { lhs: items(r.antecedent ?? r.antecedents), rhs: items(r.consequent ?? r.consequents) }));
      table("rules-table", [{ key: "lhs", label: t("baskets.lhs") }, { key: "rhs", label: t("baskets.rhs") }, { key: "support", fmt: "pct" },
        { key: "confidence", fmt: "pct" }, { key: "lift", fmt: "num" }], rows);
      const net = document.getElementById("chart-network");
      net.classList.toggle("hidden", !rows.length);  // no rule passes the filters: the table says so
      if (!rows.length) return;
      const nodes = {}; const links = [];
      rows.slice(0, 60).forEach((r) => { nodes[r.lhs] = 1; nodes[r.rhs] = 1; links.push({ source: r.lhs, target: r.rhs, value: r.lift }); });
      chart("chart-network", { tooltip: {}, series: [{ type: "graph", layout: "force", roam: true,
        force: { repulsion: 400, edgeLength: 140, layoutAnimation: false }, edgeSymbol: ["none", "arrow"], edgeSymbolSize: 9,
        lineStyle: { width: 2, opacity: 0.7 }, label: { show: true, position: "right", fontSize: 13 },
        data: Object.keys(nodes).map((n) => ({ name: n, symbolSize: 22 })), links }] });
    }
    form.addEventListener("submit", (e) => { e.preventDefault(); load().catch(fail); });
    const recsForm = document.getElementById("recs-form");
    recsForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const id = recsForm.elements.member_id.value.trim();
      if (!id) return;
      hide("recs-empty"); show("recs-table");
      api("/api/members/" + encodeURIComponent(id)).then((data) => {
        recommendations((data && data.recommendations) || { available: false, rows: [] });
      }).catch(fail);
    });
    await load();
  };

  pages.data = async function () {
    const st = await api("/api/data/status");
    if (!st) return;
    table("status-table", [{ key: "table" }, { key: "rows_stored", fmt: "int" }, { key: "rows_quarantined", fmt: "int" },
      { key: "first_at", fmt: "date" }, { key: "last_at", fmt: "date" }, { key: "last_load", fmt: "date" }], st.tables);
    table("loads-table", [{ key: "table_name", label: t("col.table") }, { key: "source" }, { key: "rows_read", fmt: "int" },
      { key: "rows_stored", fmt: "int" }, { key: "rows_quarantined", fmt: "int" }, { key: "finished_at", fmt: "date", label: t("col.last_load") }], st.loads);
    const runs = await api("/api/data/runs");
    table("runs-table", [{ key: "run_id" }, { key: "step" }, { key: "status" }, { key: "rows_out", fmt: "int" }, { key: "finished_at", fmt: "date" }], runs.runs);
    const sel = document.getElementById("q-table");
    st.tables.forEach((tb) => sel.appendChild(el("option", { value: tb.table }, tb.table + " (" + inf.format(tb.rows_quarantined) + ")")));
    async function loadQ() {
      if (!sel.value) return;
      const q = await api("/api/data/quarantine/" + encodeURIComponent(sel.value), { limit: 100 });
      const cols = q.rows.length ? Object.keys(q.rows[0]).map((k) => ({ key: k, label: t("col." + k) })) : [{ key: "rule" }];
      table("quarantine-table", cols, q.rows);
    }
    document.getElementById("quarantine-form").addEventListener("submit", (e) => { e.preventDefault(); loadQ().catch(fail); });
    await loadQ();
  };

  pages.admin = async function () {
    async function load() {
      const users = await api("/api/users");
      table("users-table", [{ key: "username", label: t("login.username") }, { key: "role", label: t("admin.role") }, { key: "active", label: t("col.active") }, { key: "created_at", fmt: "date", label: t("col.created") }], users.users);
      const audit = await api("/api/audit", { limit: 200 });
      table("audit-table", [{ key: "at", fmt: "date", label: t("audit.time") }, { key: "username", label: t("login.username") }, { key: "action", label: t("audit.action") },
        { key: "target", label: t("audit.target") }, { key: "ip", label: "IP" }], audit.events);
    }
    document.getElementById("add-user").addEventListener("submit", async (e) => {
      e.preventDefault(); const f = e.target;
      try { await send("POST", "/api/users", { username: f.username.value, password: f.password.value, role: f.role.value }); f.reset(); await load(); } catch (err) { fail(err); }
    });
    await load();
  };

  pages.account = async function () {
    async function load() {
      const r = await api("/api/tokens");
      const tb = document.getElementById("tokens-table");
      table("tokens-table", [{ key: "name" }, { key: "prefix" }, { key: "created_at", fmt: "date", label: t("col.created") },
        { key: "last_used_at", fmt: "date", label: t("col.last_used") }, { key: "revoked" }], r.tokens, async (row) => {
        if (!row.revoked && confirm(t("admin.revoke") + " " + row.prefix + "…?")) { await send("DELETE", "/api/tokens/" + row.id); await load(); }
      });
      tb.classList.add("clickable");
    }
    document.getElementById("new-token").addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await send("POST", "/api/tokens", { name: e.target.name.value || "script" });
      document.getElementById("token-value").textContent = r.token;
      document.getElementById("token-once").classList.remove("hidden");
      await load();
    });
    await load();
  };

  const name = body.dataset.page === "members" && document.getElementById("member-root") ? "member" : body.dataset.page;
  if (pages[name]) pages[name]().catch(fail);
  // helpers for the page scripts loaded after this one (static/campaigns.js, static/audiences.js)
  window.memberlens = { charts, api, send, chart, table, el, fmt, t, tf, fail, empty, hide, show, COLORS, seg };
})();
