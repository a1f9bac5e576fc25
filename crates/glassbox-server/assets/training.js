// Training: the loss curves of this run (log.jsonl, polled while `glassbox train` writes it),
// the semantic space of each kept checkpoint scored (meaning forming), every head's
// previous-token and induction scores over training, and a replay of the kept checkpoints
// with a slider and a play button: all heads' patterns, a sample of text, the embeddings'
// map (aligned across checkpoints, so points glide rather than flip).
import { $, api, applyStatic, el, esc, figure, fmt, heatmap, lineChart, onLang, pct, setupPage, showTip, hideTip, t, tokenText } from "./common.js";

const S = { rows: [], next: 0, steps: [], index: 0, cache: new Map(), playing: null, lastGrowth: 0, attn: null, layer: 0, head: 0, meaning: null, learning: null, mapShown: null, mapAnimation: 0 };
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

/** An exponential moving average, debiased as TensorBoard's smoothing is. */
function smooth(points, beta) {
  let s = 0;
  return points.map(([x, y], i) => { s = beta * s + (1 - beta) * y; return [x, s / (1 - beta ** (i + 1))]; });
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
    lineChart("lr-chart", W, 120, [{ label: t("tr_lr"), points: s.lr, color: "#c77a12" }], { zero: true, xTitle: t("tr_step"), yTitle: t("tr_lr_axis") })) : "");
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
  // a vocabulary that holds none of the words (a task's letters, a character model's):
  // nothing to chart, so no card
  if (!lines.length && rows.length && !res.pending && !(res.errors || []).length) {
    $("#tr-meaning-card").classList.add("hidden");
    return;
  }
  const parts = [];
  if (!lines.length) parts.push(el("div", { class: "muted small", text: "…" }));
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
  drawHeadsOverTraining();
  drawMap();
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

// ---------- every head at this checkpoint ----------
/** The grid of all heads (layers down, heads across), each pattern small; the chosen one
 *  large below it. Under each head, its induction and previous-token scores at this
 *  checkpoint (from the head detector's repeated random sequences). */
function drawAttention() {
  const res = S.attn;
  if (!res) return;
  const T = res.ids.length;
  const labels = res.tokens.map((tok) => tokenText(tok));
  const L = res.attention.length, H = res.attention[0].heads.length;
  S.layer = Math.min(S.layer, L - 1);
  S.head = Math.min(S.head, H - 1);
  const heads = learningRow()?.heads;
  const width = $("#tr-heads-grid").clientWidth || 480;
  const small = Math.max(1, Math.min(6, Math.floor((width - 60) / H / T)));
  const receipt = (l, h) => (q, k, w) => `${t("layer")} ${l} · ${t("head")} ${h}<br>${t("query")} <code>${esc(labels[q])}</code> (${q}) → ${t("key")} <code>${esc(labels[k])}</code> (${k})<br>${t("weight")} = <code>${fmt(w)}</code>`;
  const grid = el("div", { class: "heads-grid", style: { gridTemplateColumns: `auto repeat(${H}, auto)` } });
  grid.append(el("span", {}), ...[...Array(H).keys()].map((h) => el("span", { class: "small muted", text: `${t("head")} ${h}` })));
  for (let l = 0; l < L; l++) {
    grid.append(el("span", { class: "small muted", text: `${t("layer")} ${l}` }));
    for (let h = 0; h < H; h++) {
      const hm = heatmap({ rows: T, cols: T, data: res.attention[l].heads[h].data, scale: "seq", max: 1, cell: small, className: "head-thumb", receipt: receipt(l, h) });
      const score = heads ? heads.scores[l * H + h] : null;
      const chosen = l === S.layer && h === S.head;
      const cell = el("button", { type: "button", class: "head-cell" + (chosen ? " chosen" : ""), "aria-label": `${t("layer")} ${l} ${t("head")} ${h}`, "aria-pressed": chosen ? "true" : "false" },
        hm.node,
        score ? el("span", { class: "small mono", title: t("tr_h_scores_title"), text: `${t("tr_h_ind_short")} ${score.induction.toFixed(2)} · ${t("tr_h_prev_short")} ${score.previous_token.toFixed(2)}` }) : null);
      cell.addEventListener("click", () => { S.layer = l; S.head = h; drawAttention(); });
      grid.append(cell);
    }
  }
  $("#tr-heads-grid").replaceChildren(grid);
  const cell = Math.max(8, Math.min(24, Math.floor(Math.min(420, ($("#tr-attn").clientWidth || 420) - 90) / T)));
  const hm = heatmap({
    rows: T, cols: T, data: res.attention[S.layer].heads[S.head].data, scale: "seq", max: 1, cell, rowLabels: labels, colLabels: labels, className: "replay-canvas",
    receipt: receipt(S.layer, S.head),
  });
  const step = res.step == null ? t("tr_current") : `${t("tr_step")} ${res.step}`;
  const info = el("div", { class: "small muted", style: { marginTop: "6px" } },
    res.prompt_loss != null ? t("tr_prompt_loss", { l: fmt(res.prompt_loss, 3) }) : "",
    " · ", t("tr_predicts"), " ", res.predictions.map((p) => tokenText(p)).join(" "));
  $("#tr-attn").replaceChildren(figure(`${step} · blocks.${S.layer}.attn.hook_pattern[${S.head}]`, `[T=${T}, T=${T}]`, "act", hm.node), info);
  drawSample();
  document.body.dataset.replayStep = String(res.step ?? "current");
}

// ---------- what it writes ----------
function drawSample() {
  const sample = S.attn?.sample;
  if (!sample) return;
  const task = !!sample.expected;
  $("#tr-sample-sub").textContent = task ? t("tr_sample_task") : t("tr_sample_text", { tau: sample.temperature, seed: sample.seed });
  const prompt = el("span", { class: "sample-prompt", text: sample.prompt.map((v) => tokenText(v)).join("") });
  const written = sample.tokens.map((v, i) => {
    const want = task ? sample.expected[i] : null;
    const right = want ? want.id === v.id : null;
    return el("span", { class: "sample-token" + (right === true ? " right" : right === false ? " wrong" : ""),
      title: want ? `${t("tr_expected")} ${tokenText(want)}` : null, text: tokenText(v) });
  });
  const parts = [el("div", { class: "sample mono", translate: "no" }, prompt, ...written)];
  if (task) {
    const right = sample.tokens.filter((v, i) => sample.expected[i] && sample.expected[i].id === v.id).length;
    parts.push(el("div", { class: "small muted" }, `${t("tr_expected")} `, el("span", { class: "mono", translate: "no", text: sample.expected.map((v) => tokenText(v)).join("") }), ` · ${t("tr_right_of", { r: right, n: sample.expected.length })}`));
  }
  $("#tr-sample").replaceChildren(...parts);
}

// ---------- heads and embeddings over training ----------
// `/api/training/learning`: every snapshot's head scores on repeated random sequences and
// its embedding map, the maps turned so that each lines up with the next. Asked again
// while snapshots are pending.
async function refreshLearning() {
  try {
    S.learning = await api("/api/training/learning");
  } catch (e) {
    $("#tr-heads-card").classList.remove("hidden");
    $("#tr-heads").replaceChildren(el("div", { class: "error-box", text: e.message || String(e) }));
    return;
  }
  drawHeadsOverTraining();
  drawMap();
  drawAttention();
  if (S.learning.pending > 0) setTimeout(refreshLearning, 200);
  else document.body.dataset.learningRows = String(S.learning.rows.length);
}

/** The learning row of the slider's checkpoint: its step, or the run's own model. */
function learningRow() {
  const rows = S.learning?.rows;
  if (!rows?.length) return null;
  const step = stepOf(S.index);
  return step == null ? rows.find((r) => r.model === ".") || rows.at(-1) : rows.find((r) => r.step === step) || null;
}

/** The best head's induction and previous-token scores at each snapshot, and the loss on
 *  the first and second copy of the repeated sequences: the induction bump, when a head
 *  learns to copy and the second copy's loss falls away from the first's. */
function drawHeadsOverTraining() {
  const res = S.learning;
  if (!res || !res.has_checkpoints) return;
  const rows = res.rows.filter((r) => r.heads);
  $("#tr-heads-card").classList.remove("hidden");
  if (!rows.length) {
    const why = res.rows.find((r) => r.heads_error)?.heads_error;
    $("#tr-heads").replaceChildren(el("div", { class: "muted small", text: why || "…" }));
    return;
  }
  const best = (r, key) => Math.max(...r.heads.scores.map((s) => s[key]));
  const steps = S.rows.filter((r) => typeof r.step === "number").map((r) => r.step);
  const x0 = Math.min(steps[0] ?? rows[0].step, rows[0].step), x1 = Math.max(steps.at(-1) ?? 0, rows.at(-1).step);
  const marker = learningRow()?.step ?? null;
  const W = Math.min($("#tr-heads").clientWidth || 900, 1180);
  const scoreLines = [
    { label: t("tr_h_induction"), color: "#c0392b", width: 2, dots: true, points: rows.map((r) => [r.step, best(r, "induction")]) },
    { label: t("tr_h_previous"), color: "#2f6fd0", width: 2, dots: true, points: rows.map((r) => [r.step, best(r, "previous_token")]) },
  ];
  const lossLines = [
    { label: t("tr_h_loss_first"), color: "#8a8794", width: 2, dots: true, points: rows.map((r) => [r.step, r.heads.loss_first]) },
    { label: t("tr_h_loss_second"), color: "#6a4fd0", width: 2, dots: true, points: rows.map((r) => [r.step, r.heads.loss_second]) },
    { label: t("tr_h_loss_uniform"), color: "#8a8794", width: 1.2, dash: true, points: rows.map((r) => [r.step, r.heads.loss_uniform]) },
  ];
  const last = rows.at(-1).heads;
  $("#tr-heads-sub").textContent = t("tr_heads_sub", { n: last.n, s: last.sequences });
  $("#tr-heads").replaceChildren(
    lineChart("heads-chart", W, 200, scoreLines, { percent: true, zero: true, y1: 1, x0, x1, marker, xTitle: t("tr_step"), yTitle: t("tr_h_axis") }),
    legend(scoreLines.map((l) => [l.label, l.color])),
    lineChart("heads-loss-chart", W, 170, lossLines, { zero: true, x0, x1, marker, xTitle: t("tr_step"), yTitle: t("tr_loss_axis") }),
    legend(lossLines.map((l) => [l.label, l.color, l.dash])),
    el("p", { class: "small muted", text: t("tr_heads_how") }));
}

const GROUP_COLORS = ["#c0392b", "#2f6fd0", "#2a8a4a", "#8a8794", "#c77a12", "#6a4fd0", "#b03a8c", "#1d8a8a", "#7a5c2e", "#444"];

/** The map of the slider's checkpoint. Between checkpoints the points glide from where
 *  they were to where they are (the maps are aligned, so the motion is the model's). */
function drawMap() {
  const res = S.learning;
  const holder = $("#tr-map");
  if (!res || !res.has_checkpoints) return;
  if (!res.map_words) { holder.replaceChildren(el("div", { class: "muted small", text: res.map_unavailable || "" })); return; }
  const row = learningRow();
  if (!row?.map) { holder.replaceChildren(el("div", { class: "muted small", text: "…" })); S.mapShown = null; return; }
  const words = res.map_words;
  const W = Math.min(holder.clientWidth || 420, 560), H = Math.round(W * 0.78), pad = 18;
  // one scale for every checkpoint (each map has a root-mean-square radius of 1)
  const extent = Math.max(...res.rows.filter((r) => r.map).flatMap((r) => r.map.flatMap((p) => [Math.abs(p[0]), Math.abs(p[1])])), 1e-6);
  const sx = (v) => W / 2 + (v / extent) * (W / 2 - pad), sy = (v) => H / 2 - (v / extent) * (H / 2 - pad);
  let svg = holder.querySelector("svg#learn-map");
  if (!svg || svg.dataset.points !== String(words.labels.length) || svg.dataset.w !== String(W)) {
    const parts = [`<svg id="learn-map" class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" data-points="${words.labels.length}" data-w="${W}">`,
      `<line class="grid" x1="${W / 2}" x2="${W / 2}" y1="0" y2="${H}"/><line class="grid" x1="0" x2="${W}" y1="${H / 2}" y2="${H / 2}"/>`];
    words.labels.forEach((label, i) => {
      const color = GROUP_COLORS[words.groups[i] % GROUP_COLORS.length];
      parts.push(`<g class="pt" data-i="${i}"><circle r="3.2" fill="${color}"/><text x="5" y="3" fill="${color}" translate="no">${esc(label)}</text></g>`);
    });
    parts.push("</svg>");
    const used = [...new Set(words.groups)].sort((a, b) => a - b);
    const groupName = (g) => (words.grouped_by === "characters" ? t(`tr_kind_${words.group_names[g]}`) : words.group_names[g]);
    holder.replaceChildren(el("div", { html: parts.join("") }),
      legend(used.map((g) => [groupName(g), GROUP_COLORS[g % GROUP_COLORS.length]])),
      el("div", { class: "small muted", id: "learn-map-axes" }));
    svg = holder.querySelector("svg#learn-map");
    S.mapShown = null;
  }
  const from = S.mapShown || row.map, to = row.map;
  const nodes = [...svg.querySelectorAll("g.pt")];
  const place = (k) => nodes.forEach((g, i) => {
    const x = from[i][0] + (to[i][0] - from[i][0]) * k, y = from[i][1] + (to[i][1] - from[i][1]) * k;
    g.setAttribute("transform", `translate(${sx(x).toFixed(1)} ${sy(y).toFixed(1)})`);
  });
  cancelAnimationFrame(S.mapAnimation);
  const start = performance.now(), duration = S.mapShown && S.mapShown !== to ? 450 : 0;
  const tick = (now) => {
    const k = duration ? Math.min(1, Math.max(0, (now - start) / duration)) : 1;
    place(k * k * (3 - 2 * k));
    if (k < 1) S.mapAnimation = requestAnimationFrame(tick);
  };
  tick(start);
  S.mapShown = to;
  svg.dataset.step = String(row.step);
  $("#learn-map-axes").textContent = t("tr_map_axes", { a: pct(row.explained[0]), b: pct(row.explained[1]) });
}

function legend(items) {
  return el("div", { class: "small muted legend-row" },
    ...items.map(([label, color, dash]) => el("span", {},
      el("span", { class: "sw", style: { display: "inline-block", width: "16px", height: "0", borderTop: `${dash ? "2px dashed" : "3px solid"} ${color}`, verticalAlign: "3px", marginRight: "5px" } }),
      label)));
}

async function main() {
  const model = await setupPage("/training", { legend: false }); // its charts carry their own legends
  if (model) {
    $("#tr-prompt").value = new URLSearchParams(location.search).get("prompt") || model.default_prompt || "";
  }
  $("#tr-log").addEventListener("change", drawCurves);
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
  onLang(() => {
    applyStatic();
    const step = stepOf(S.index);
    $("#tr-step-label").textContent = step == null ? t("tr_current") : `${t("tr_step")} ${step}`;
    if (S.rows.length) drawCurves();
    drawMeaning();
    drawHeadsOverTraining();
    $("#learn-map")?.remove(); // its legend names the groups in the old language
    drawMap();
    drawAttention();
  });
  const isRun = await poll();
  if (!isRun) return;
  await refreshCheckpoints();
  refreshMeaning();
  refreshLearning();
  await showStep(S.index);
  document.body.dataset.ready = "1";
  setInterval(poll, 2000);
  setInterval(async () => { if (await refreshCheckpoints()) { showStep(S.index); refreshMeaning(); refreshLearning(); } }, 5000);
}
main();
