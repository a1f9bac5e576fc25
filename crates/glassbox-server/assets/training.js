// Training: the loss curves of this run (log.jsonl, polled while `glassbox train` writes it),
// the semantic space of each kept checkpoint scored (meaning forming), and the attention
// patterns of its kept checkpoints, replayed with a slider.
import { $, api, applyStatic, el, esc, figure, fmt, heatmap, onLang, pct, setupPage, showTip, hideTip, t, tokenText } from "./common.js";

const S = { rows: [], next: 0, steps: [], index: 0, cache: new Map(), playing: null, lastGrowth: 0, attn: null, layer: 0, head: 0, meaning: null };
window.glassbox = { state: S };

// ---------- the log ----------
async function poll() {
  try {
    const res = await api(`/api/training/log?from=${S.next}`);
    if (!res.is_run) {
      $("#tr-not-run").classList.remove("hidden");
      document.body.dataset.ready = "1";
      return false;
    }
    $("#tr-run").classList.remove("hidden");
    if (res.reset) S.rows = [];
    // "live" only when the log grows while the page watches: what is there at the first
    // read is history, not a running `glassbox train`
    if (res.rows.length) { S.rows.push(...res.rows); if (S.polled) S.lastGrowth = Date.now(); drawCurves(); }
    S.polled = true;
    S.next = res.next;
    const live = Date.now() - S.lastGrowth < 60000 && S.lastGrowth > 0;
    $("#tr-live").classList.toggle("on", live);
    $("#tr-live-text").textContent = t(live ? "tr_live" : "tr_idle");
    document.body.dataset.rows = String(S.rows.length);
  } catch (_) { /* the server may be restarting; try again */ }
  return true;
}

function series() {
  const train = [], val = [], lr = [], acc = [];
  let tps = null;
  for (const r of S.rows) {
    if (typeof r.step !== "number") continue;
    if (typeof r.loss === "number") train.push([r.step, r.loss]);
    if (typeof r.val_loss === "number") val.push([r.step, r.val_loss]);
    if (typeof r.lr === "number") lr.push([r.step, r.lr]);
    if (typeof r.accuracy === "number") acc.push([r.step, r.accuracy]);
    if (typeof r.tokens === "number" && typeof r.ms === "number" && r.ms > 0) tps = (r.tokens / r.ms) * 1000;
    else if (typeof r.tokens_per_s === "number") tps = r.tokens_per_s;
  }
  return { train, val, lr, acc, tps };
}

/** Round numbers between lo and hi, about n of them. */
function niceTicks(lo, hi, n) {
  const span = hi - lo || 1;
  const raw = span / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v));
  return out;
}

/** Round tick values covering [lo, hi]: multiples of 1, 2 or 5 × a power of ten. */
function niceValues(lo, hi, n) {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out = [];
  for (let k = Math.floor(lo / step); k * step <= hi + step * 1e-9; k++) out.push(Number((k * step).toFixed(decimals)));
  if (out[0] > lo) out.unshift(Number((out[0] - step).toFixed(decimals)));
  if (out.at(-1) < hi) out.push(Number((out.at(-1) + step).toFixed(decimals)));
  return { ticks: out, decimals };
}

/** An exponential moving average, debiased as TensorBoard's smoothing is. */
function smooth(points, beta) {
  let s = 0;
  return points.map(([x, y], i) => { s = beta * s + (1 - beta) * y; return [x, s / (1 - beta ** (i + 1))]; });
}

function lineChart(id, W, H, lines, opts = {}) {
  const pad = { l: opts.yTitle ? 62 : 48, r: 14, t: 10, b: opts.xTitle ? 38 : 26 };
  const xs = lines.flatMap((l) => l.points.map((p) => p[0]));
  let ys = lines.flatMap((l) => l.points.map((p) => p[1])).filter((v) => Number.isFinite(v));
  const log = !!opts.log && ys.every((v) => v > 0);
  const f = (v) => (log ? Math.log10(v) : v);
  ys = ys.map(f);
  const x0 = opts.x0 ?? Math.min(...xs), x1 = opts.x1 ?? Math.max(...xs);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (!opts.log && opts.zero) y0 = Math.min(0, y0);
  if (opts.y1 != null) y1 = Math.max(y1, opts.y1);
  if (y1 === y0) { y1 += 1; y0 -= 1; }
  // linear axes get round ticks, and the axis reaches the first and last of them
  let yTicks = null, decimals = 2;
  if (!log) {
    const nice = niceValues(y0, y1, opts.percent ? 4 : 4);
    yTicks = nice.ticks;
    decimals = nice.decimals;
    y0 = yTicks[0];
    y1 = yTicks.at(-1);
  }
  const yText = (v) => (opts.percent ? `${Math.round(v * 100)}%` : log ? fmt(v, 3) : v.toFixed(opts.digits ?? decimals));
  const sx = (v) => pad.l + ((v - x0) / (x1 - x0 || 1)) * (W - pad.l - pad.r);
  const sy = (v) => H - pad.b - ((f(v) - y0) / (y1 - y0)) * (H - pad.t - pad.b);
  const out = [`<svg class="chart" id="${id}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`];
  const tickX = opts.yTitle ? 18 : 4;
  if (yTicks) {
    for (const yv of yTicks) {
      const y = sy(yv);
      out.push(`<line class="grid" x1="${pad.l}" x2="${W - pad.r}" y1="${y}" y2="${y}"/><text x="${tickX}" y="${y + 3}">${yText(yv)}</text>`);
    }
  } else {
    for (let g = 0; g <= 4; g++) {
      const yv = y0 + ((y1 - y0) * g) / 4;
      const y = H - pad.b - (g / 4) * (H - pad.t - pad.b);
      out.push(`<line class="grid" x1="${pad.l}" x2="${W - pad.r}" y1="${y}" y2="${y}"/><text x="${tickX}" y="${y + 3}">${yText(10 ** yv)}</text>`);
    }
  }
  // x ticks inside the plot, so the last one is never cut at the right edge
  for (const xv of niceTicks(x0, x1, 5)) {
    const x = sx(xv);
    const anchor = x > W - pad.r - 20 ? "end" : x < pad.l + 20 ? "start" : "middle";
    out.push(`<text x="${x}" y="${H - pad.b + 14}" text-anchor="${anchor}">${xv}</text>`);
  }
  if (opts.xTitle) out.push(`<text class="axis-title" x="${W - pad.r}" y="${H - 4}" text-anchor="end">${esc(opts.xTitle)}</text>`);
  if (opts.yTitle) out.push(`<text class="axis-title" transform="translate(11 ${(pad.t + H - pad.b) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yTitle)}</text>`);
  for (const l of lines) {
    if (!l.points.length) continue;
    out.push(`<polyline data-label="${esc(l.label)}" points="${l.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ")}" fill="none" stroke="${l.color}" stroke-width="${l.width || 1.6}" stroke-opacity="${l.opacity || 1}"${l.dash ? ' stroke-dasharray="5 4"' : ""}/>`);
    if (l.dots) for (const p of l.points) out.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="${l.color}"/>`);
  }
  if (opts.marker != null && opts.marker >= x0 && opts.marker <= x1) {
    out.push(`<line class="marker" x1="${sx(opts.marker)}" x2="${sx(opts.marker)}" y1="${pad.t}" y2="${H - pad.b}" stroke="#c77a12" stroke-width="1.5"/>`);
  }
  out.push(`<rect class="hit" x="${pad.l}" y="${pad.t}" width="${W - pad.l - pad.r}" height="${H - pad.t - pad.b}" fill="transparent"/></svg>`);
  const holder = el("div", { html: out.join("") });
  const rect = holder.querySelector("rect.hit");
  rect.addEventListener("pointermove", (e) => {
    const r = rect.getBoundingClientRect();
    const step = x0 + ((e.clientX - r.left) / r.width) * (x1 - x0);
    const lines2 = lines.map((l) => {
      if (!l.points.length) return "";
      let best = l.points[0];
      for (const p of l.points) if (Math.abs(p[0] - step) < Math.abs(best[0] - step)) best = p;
      return `<span class="k">${esc(l.label)}</span> ${t("tr_step")} ${best[0]}: <code>${opts.percent ? pct(best[1]) : fmt(best[1], 4)}</code>`;
    }).filter(Boolean);
    showTip(lines2.join("<br>"), e.clientX, e.clientY);
  });
  rect.addEventListener("pointerleave", hideTip);
  return holder;
}

/** The moving average's β: each point is 95% the trend so far, 5% its own loss. */
const SMOOTHING = 0.95;

function drawCurves() {
  const s = series();
  const W = Math.min($("#tr-chart").clientWidth || 900, 1180);
  const last = S.rows.filter((r) => typeof r.step === "number").at(-1);
  const kv = [
    [t("tr_step"), last ? last.step : "—"],
    [t("tr_train"), s.train.length ? fmt(s.train.at(-1)[1], 4) : "—"],
    [t("tr_val"), s.val.length ? fmt(s.val.at(-1)[1], 4) : "—"],
  ];
  if (s.acc.length) kv.push([t("tr_accuracy"), pct(s.acc.at(-1)[1])]);
  if (s.tps != null) kv.push([t("tr_tokens_s"), Math.round(s.tps).toLocaleString()]);
  $("#tr-kv").replaceChildren(...kv.map(([k, v]) => el("div", {}, k + " ", el("b", { text: String(v) }))));
  const log = $("#tr-log").checked;
  // each step's loss is one batch's: noisy. The smoothed curve (a debiased moving average)
  // shows the trend; the raw one stays, faint, behind it
  const lines = [
    { label: t("tr_train_raw"), points: s.train, color: "#6a4fd0", opacity: 0.22, width: 1 },
    { label: t("tr_train_smooth"), points: smooth(s.train, SMOOTHING), color: "#6a4fd0", width: 2 },
    { label: t("tr_val"), points: s.val, color: "#1d1c22", width: 2.2, dots: true },
  ];
  const axes = { xTitle: t("tr_step"), yTitle: t("tr_loss_axis") };
  const chart = s.train.length || s.val.length ? lineChart("loss-chart", W, 300, lines, { log, ...axes }) : el("div", { class: "muted", text: "…" });
  $("#tr-chart").replaceChildren(chart, legend([[t("tr_train_raw"), "rgba(106,79,208,0.3)"], [t("tr_train_smooth"), "#6a4fd0"], [t("tr_val"), "#1d1c22"]]));
  $("#tr-lr").replaceChildren(s.lr.length ? el("div", {}, el("div", { class: "small muted", text: t("tr_lr") }),
    lineChart("lr-chart", W, 120, [{ label: t("tr_lr"), points: s.lr, color: "#c77a12" }], { zero: true, xTitle: t("tr_step"), yTitle: "lr" })) : "");
}

function legend(items) {
  return el("div", { class: "small muted", style: { display: "flex", flexWrap: "wrap", gap: "6px 16px", marginTop: "4px" } },
    ...items.map(([label, color, dash]) => el("span", {},
      el("span", { class: "sw", style: { display: "inline-block", width: "16px", height: "0", borderTop: `${dash ? "2px dashed" : "3px solid"} ${color}`, verticalAlign: "3px", marginRight: "5px" } }),
      label)));
}

// ---------- meaning over training ----------
// Each kept checkpoint's embeddings scored as `glassbox space RUN eval --checkpoints` does:
// the built-in analogies beside their baseline, the category words' cluster purity and
// nearest-word agreement beside chance. The server scores a few checkpoints per request
// and says how many are pending; ask again until none are.
async function refreshMeaning() {
  let res;
  try {
    res = await api("/api/training/meaning");
  } catch (e) {
    $("#tr-meaning-card").classList.remove("hidden");
    $("#tr-meaning").replaceChildren(el("div", { class: "error-box", text: e.message || String(e) }));
    return;
  }
  S.meaning = res;
  drawMeaning();
  if (res.pending > 0) setTimeout(refreshMeaning, 200);
  else document.body.dataset.meaningRows = String(res.rows.length);
}

const MEANING_COLORS = { purity: "#2a8a4a", agree: "#2f6fd0", analogy: "#c0392b" };

function drawMeaning() {
  const res = S.meaning;
  if (!res || !res.has_checkpoints) return;
  $("#tr-meaning-card").classList.remove("hidden");
  if (res.unavailable) {
    $("#tr-meaning").replaceChildren(el("div", { class: "muted small", text: res.unavailable }));
    return;
  }
  const rows = res.rows;
  const line = (label, color, pick, dash) => ({ label, color, dash, width: dash ? 1.2 : 2, dots: !dash, points: rows.map((r) => [r.step, pick(r)]).filter((p) => typeof p[1] === "number") });
  const lines = [
    line(t("tr_m_purity"), MEANING_COLORS.purity, (r) => r.clusters?.purity),
    line(t("tr_m_purity_chance"), MEANING_COLORS.purity, (r) => r.clusters?.purity_chance, true),
    line(t("tr_m_agree"), MEANING_COLORS.agree, (r) => r.clusters?.neighbour_agreement),
    line(t("tr_m_agree_chance"), MEANING_COLORS.agree, (r) => r.clusters?.neighbour_chance, true),
    line(t("tr_m_analogy"), MEANING_COLORS.analogy, (r) => r.analogy.accuracy_excluding_query),
    line(t("tr_m_baseline"), MEANING_COLORS.analogy, (r) => r.analogy.accuracy_baseline, true),
  ].filter((l) => l.points.length);
  const last = rows.at(-1);
  const kv = [];
  if (last) {
    kv.push([t("tr_step"), last.step]);
    if (last.clusters) kv.push([t("tr_m_purity"), `${pct(last.clusters.purity)} (${t("tr_m_chance")} ${pct(last.clusters.purity_chance)})`]);
    if (last.clusters) kv.push([t("tr_m_words"), t("tr_m_words_of", { w: last.clusters.words, c: last.clusters.categories, n: res.category_words })]);
    kv.push([t("tr_m_covered"), t("tr_m_covered_of", { c: last.analogy.covered, n: last.analogy.questions })]);
    if (last.analogy.covered) kv.push([t("tr_m_analogy"), `${pct(last.analogy.accuracy_excluding_query)} (${t("tr_m_baseline")} ${pct(last.analogy.accuracy_baseline)})`]);
  }
  if (res.pending > 0) kv.push([t("tr_m_pending"), res.pending]);
  $("#tr-meaning-kv").replaceChildren(...kv.map(([k, v]) => el("div", {}, k + " ", el("b", { text: String(v) }))));
  const W = Math.min($("#tr-meaning").clientWidth || 900, 1180);
  // the same steps across as the loss chart above, so the two read together
  const steps = S.rows.filter((r) => typeof r.step === "number").map((r) => r.step);
  const x0 = steps.length && last ? Math.min(steps[0], rows[0].step) : undefined;
  const x1 = steps.length && last ? Math.max(steps.at(-1), last.step) : undefined;
  const marker = S.steps.length && S.index < S.steps.length ? S.steps[S.index] : null;
  const parts = [];
  if (!lines.length) parts.push(el("div", { class: "muted small", text: rows.length ? t("tr_m_none") : "…" }));
  else parts.push(lineChart("meaning-chart", W, 240, lines, { percent: true, zero: true, y1: 1, x0, x1, marker, xTitle: t("tr_step") }),
    legend(lines.map((l) => [l.label, l.color, l.dash])));
  for (const e of res.errors || []) parts.push(el("div", { class: "error-box", text: `${t("tr_step")} ${e.step}: ${e.error}` }));
  parts.push(el("p", { class: "small muted", text: t("tr_m_how") }));
  $("#tr-meaning").replaceChildren(...parts);
}

// ---------- checkpoints ----------
async function refreshCheckpoints() {
  const res = await api("/api/training/checkpoints");
  const steps = res.steps;
  const changed = steps.length !== S.steps.length;
  S.steps = steps;
  $("#tr-no-ckpt").classList.toggle("hidden", steps.length > 0);
  $("#tr-replay").classList.remove("hidden");
  const slider = $("#tr-slider");
  const atEnd = S.index >= Number(slider.max);
  slider.max = String(steps.length); // the last stop is the current model
  if (atEnd) S.index = steps.length;
  slider.value = String(S.index);
  return changed;
}

function stepOf(i) { return i >= S.steps.length ? null : S.steps[i]; }

async function loadAttention(i) {
  const step = stepOf(i);
  const prompt = $("#tr-prompt").value;
  const key = `${step}|${prompt}`;
  if (!S.cache.has(key)) {
    const body = { prompt };
    if (step != null) body.step = step;
    S.cache.set(key, api("/api/training/attention", body));
  }
  try {
    return await S.cache.get(key);
  } catch (e) {
    S.cache.delete(key);
    throw e;
  }
}

async function showStep(i) {
  S.index = i;
  drawMeaning();
  const step = stepOf(i);
  $("#tr-step-label").textContent = step == null ? t("tr_current") : `${t("tr_step")} ${step}`;
  try {
    const res = await loadAttention(i);
    if (S.index !== i) return;
    S.attn = res;
    drawAttention();
  } catch (e) {
    $("#tr-attn").replaceChildren(el("div", { class: "error-box", text: e.message || String(e) }));
  }
}

function drawAttention() {
  const res = S.attn;
  if (!res) return;
  const layer = res.attention[Math.min(S.layer, res.attention.length - 1)];
  const hd = layer.heads[Math.min(S.head, layer.heads.length - 1)];
  const T = res.ids.length;
  const labels = res.tokens.map((tok) => tokenText(tok));
  const cell = Math.max(8, Math.min(28, Math.floor(Math.min(560, ($("#tr-attn").clientWidth || 600) - 100) / T)));
  const hm = heatmap({
    rows: T, cols: T, data: hd.pattern ? hd.pattern.data : hd.data, scale: "seq", max: 1, cell, rowLabels: labels, className: "replay-canvas",
    receipt: (q, k, w) => `${t("query")} <code>${esc(labels[q])}</code> (${q}) → ${t("key")} <code>${esc(labels[k])}</code> (${k})<br>${t("weight")} = <code>${fmt(w)}</code>`,
  });
  const step = res.step == null ? t("tr_current") : `${t("tr_step")} ${res.step}`;
  const info = el("div", { class: "small muted", style: { marginTop: "6px" } },
    res.prompt_loss != null ? t("tr_prompt_loss", { l: fmt(res.prompt_loss, 3) }) : "",
    " · ", res.predictions.map((p) => tokenText(p)).join(" "));
  $("#tr-attn").replaceChildren(figure(`${step} · blocks.${S.layer}.attn.hook_pattern[${S.head}]`, `[T=${T}, T=${T}]`, "act", hm.node), info);
  document.body.dataset.replayStep = String(res.step ?? "current");
}

function fillSelect(sel, n, value) {
  sel.replaceChildren(...[...Array(n).keys()].map((i) => el("option", { value: String(i), selected: i === value ? true : null, text: String(i) })));
}

async function main() {
  const model = await setupPage("/training");
  if (model) {
    fillSelect($("#tr-layer"), model.n_layer, 0);
    fillSelect($("#tr-head"), model.n_head, 0);
    $("#tr-prompt").value = new URLSearchParams(location.search).get("prompt") || model.default_prompt || "";
  }
  $("#tr-log").addEventListener("change", drawCurves);
  $("#tr-layer").addEventListener("change", (e) => { S.layer = Number(e.target.value); drawAttention(); });
  $("#tr-head").addEventListener("change", (e) => { S.head = Number(e.target.value); drawAttention(); });
  $("#tr-form").addEventListener("submit", (e) => { e.preventDefault(); S.cache.clear(); showStep(S.index); });
  $("#tr-slider").addEventListener("input", (e) => showStep(Number(e.target.value)));
  $("#tr-play").addEventListener("click", () => {
    if (S.playing) { clearInterval(S.playing); S.playing = null; $("#tr-play").textContent = t("tr_play"); return; }
    $("#tr-play").textContent = t("tr_pause");
    if (S.index >= S.steps.length) S.index = -1;
    S.playing = setInterval(async () => {
      const next = S.index + 1;
      if (next > S.steps.length) { clearInterval(S.playing); S.playing = null; $("#tr-play").textContent = t("tr_play"); return; }
      $("#tr-slider").value = String(next);
      await showStep(next);
    }, 700);
  });
  onLang(() => { applyStatic(); if (S.rows.length) drawCurves(); drawMeaning(); drawAttention(); });
  const isRun = await poll();
  if (!isRun) return;
  await refreshCheckpoints();
  refreshMeaning();
  await showStep(S.index);
  document.body.dataset.ready = "1";
  setInterval(poll, 2000);
  setInterval(async () => { if (await refreshCheckpoints()) { showStep(S.index); refreshMeaning(); } }, 5000);
}
main();
