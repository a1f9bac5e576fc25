// Why transformers: a GPT and an LSTM that `glassbox compare` trained on the same text
// with the same parameter count. One text read by both — how much each earlier token
// moves the last prediction (the gradient norm), the GPT's attention from the last token,
// the LSTM's chain of steps with how strongly each state depends on the one before — and
// the comparison's three measurements as charts: forward time against length, validation
// loss against seconds, copying accuracy against distance.
import { $, api, applyStatic, el, esc, fmt, heatmap, hover, lineChart, onLang, pct, seqColor, css, inkFor, setupPage, t, tokenText } from "./common.js";

const S = { info: null, reach: null };
window.glassbox = { state: S };
const COLORS = { gpt: "#6a4fd0", lstm: "#c77a12", rnn: "#2f7d5b" };
const NAMES = { gpt: "GPT", lstm: "LSTM", rnn: "RNN" };

/** A row of token cells coloured by `values` (0–1 after dividing by their largest). */
function strip(tokens, values, label) {
  const max = Math.max(...values, 1e-12);
  return el("div", { class: "why-strip", translate: "no" }, tokens.map((tok, s) => {
    const rgb = seqColor(values[s] / max, 1);
    const cell = el("span", { class: "why-cell", style: { background: css(rgb), color: css(inkFor(rgb)) }, text: tokenText(tok) });
    hover(cell, () => `<b>${esc(tokenText(tok))}</b> · ${esc(label)}: <code>${fmt(values[s], 4)}</code> (${pct(values[s] / max)})`);
    return cell;
  }));
}

function drawReading() {
  const r = S.reach;
  if (!r) return;
  const tokens = r.tokens;
  // the token is the model's own word: data, not language
  const next = (side) => el("div", { class: "small", style: { marginTop: "8px" } }, `${t("why_next")} `,
    el("b", { translate: "no", text: `“${tokenText(side.next_token)}”` }), ` (${pct(side.probability)})`);
  // GPT: influence, then each layer's attention from the last token
  const layers = r.gpt.attention.length, T = tokens.length;
  $("#why-gpt").replaceChildren(
    el("div", { class: "small muted", text: t("why_influence") }),
    strip(tokens, r.gpt.influence, t("why_influence")),
    el("div", { class: "small muted", style: { marginTop: "10px" }, text: t("why_attention", { L: layers }) }),
    heatmap({ rows: layers, cols: T, data: r.gpt.attention.flat(), scale: "seq", max: 1, cell: [Math.max(1, Math.min(18, 420 / T)), 14],
      rowLabels: r.gpt.attention.map((_, l) => `${t("why_layer")} ${l}`), colLabels: tokens.map(tokenText),
      receipt: (row, col, v) => `${esc(t("why_layer"))} ${row} · <b>${esc(tokenText(tokens[col]))}</b>: ${pct(v)}` }).node,
    next(r.gpt));
  // LSTM: influence along the chain; between steps, ‖∂h_t/∂h_{t−1}‖ of the top layer
  const top = r.lstm.dependence[0].length - 1;
  const chain = el("div", { class: "why-chain", translate: "no" });
  const max = Math.max(...r.lstm.influence, 1e-12);
  tokens.forEach((tok, s) => {
    if (s > 0) {
      const d = r.lstm.dependence[s][top];
      const arrow = el("span", { class: "why-arrow", text: `→${d.toFixed(1)}` });
      hover(arrow, () => t("why_arrow_tip", { d: fmt(d, 3), f: r.lstm.forget[s]?.length ? fmt(r.lstm.forget[s][top], 3) : "—" }));
      chain.append(arrow);
    }
    const rgb = seqColor(r.lstm.influence[s] / max, 1);
    const box = el("span", { class: "why-cell", style: { background: css(rgb), color: css(inkFor(rgb)) }, text: tokenText(tok) });
    hover(box, () => `<b>${esc(tokenText(tok))}</b> · ${esc(t("why_influence"))}: <code>${fmt(r.lstm.influence[s], 4)}</code> (${pct(r.lstm.influence[s] / max)})`);
    chain.append(box);
  });
  $("#why-lstm").replaceChildren(
    el("div", { class: "small muted", text: t("why_chain") }), chain,
    next(r.lstm));
  // the verdict: how much the first token still counts, relative to the last
  const share = (v) => v[0] / Math.max(v[v.length - 1], 1e-12);
  $("#why-verdict").textContent = T > 1 ? t("why_verdict", { gpt: pct(share(r.gpt.influence)), lstm: pct(share(r.lstm.influence)), T }) : "";
  document.body.dataset.read = String(T);
}

async function read(prompt) {
  const btn = $("#why-form button");
  btn.disabled = true;
  try {
    S.reach = await api("/api/why/reach", { prompt });
    drawReading();
  } catch (e) {
    $("#why-gpt").replaceChildren(el("div", { class: "error", text: String(e.message || e) }));
    $("#why-lstm").replaceChildren();
  } finally {
    btn.disabled = false;
  }
}

const log2 = (v) => Math.log2(v);
const pow2 = (v) => String(Math.round(2 ** v));

function drawCharts() {
  const report = S.info.report || {};
  const archs = ["gpt", "lstm", "rnn"];
  const W = Math.min($("#why-speed").clientWidth || 700, 900);
  const missing = (part) => el("div", { class: "muted small", text: t("why_missing", { part }) });
  if (report.speed) {
    const lines = archs.filter((a) => report.speed.forward_ms[a]).map((a) => ({
      label: NAMES[a], color: COLORS[a], dots: true, points: report.speed.forward_ms[a].map((p) => [log2(p.T), p.ms]),
    }));
    $("#why-speed").replaceChildren(lineChart("why-speed-chart", W, 260, lines, { zero: true, xTitle: t("why_speed_x"), yTitle: t("why_ms"), xTick: pow2, xName: "T", xFormat: pow2 }), legend(lines));
    $("#why-speed-kv").replaceChildren(...archs.filter((a) => report.speed.train_tokens_per_s[a]).map((a) =>
      el("span", {}, el("span", { class: "k", text: `${NAMES[a]} · ${t("why_train_speed")} ` }), el("b", { text: Math.round(report.speed.train_tokens_per_s[a]).toLocaleString() }))));
  } else $("#why-speed").replaceChildren(missing("speed"));
  if (report.quality) {
    const lines = archs.filter((a) => report.quality[a]).map((a) => ({
      label: `${NAMES[a]} (${report.quality[a].steps} ${t("why_steps")})`, color: COLORS[a], dots: true,
      points: report.quality[a].curve.map((p) => [p.seconds, p.val_loss]),
    }));
    $("#why-quality").replaceChildren(lineChart("why-quality-chart", W, 260, lines, { xTitle: t("why_seconds"), yTitle: t("why_val_loss"), xName: t("why_seconds"), xFormat: (v) => v.toFixed(1) }), legend(lines));
  } else $("#why-quality").replaceChildren(missing("quality"));
  if (report.reach) {
    const lines = archs.filter((a) => report.reach[a]).map((a) => ({
      label: NAMES[a], color: COLORS[a], dots: true, points: report.reach[a].runs.map((r) => [log2(r.distance), r.letter_accuracy]),
    }));
    const notes = archs.filter((a) => report.reach[a]).map((a) => {
      const n = report.reach[a].first_length_below_90;
      return el("div", { class: "small", text: n == null ? t("why_reach_held", { m: NAMES[a] }) : t("why_reach_fell", { m: NAMES[a], n }) });
    });
    $("#why-reach").replaceChildren(lineChart("why-reach-chart", W, 260, lines, { percent: true, zero: true, y1: 1, xTitle: t("why_reach_x"), xTick: pow2, xName: t("why_distance"), xFormat: (v) => String(Math.round(2 ** v)) }), legend(lines), ...notes);
  } else $("#why-reach").replaceChildren(missing("reach"));
}

function legend(lines) {
  return el("div", { class: "row small", style: { gap: "14px", marginTop: "4px" } }, lines.map((l) =>
    el("span", {}, el("span", { class: "sw", style: { background: l.color, display: "inline-block", width: "14px", height: "4px", marginRight: "6px", verticalAlign: "middle" } }), el("span", { translate: "no", text: l.label }))));
}

function describeModels() {
  const i = S.info;
  $("#why-models").textContent = t("why_models", { L: i.gpt.layers, H: i.gpt.heads, C: i.gpt.dims, gp: i.gpt.params.toLocaleString(),
    LL: i.lstm.layers, E: i.lstm.embedding, S: i.lstm.hidden, lp: i.lstm.params.toLocaleString() });
}

async function main() {
  await setupPage("/why", { legend: ["prob"] });
  S.info = await api("/api/why");
  if (!S.info.available) {
    $("#why-none").classList.remove("hidden");
    document.body.dataset.ready = "1";
    return;
  }
  $("#why-on").classList.remove("hidden");
  describeModels();
  drawCharts();
  const input = $("#why-prompt");
  // the address's ?prompt=, else the opening of the text both models were trained on
  input.value = new URLSearchParams(location.search).get("prompt") || S.info.sample || "";
  $("#why-form").addEventListener("submit", (e) => { e.preventDefault(); read(input.value); });
  onLang(() => { applyStatic(); describeModels(); drawCharts(); drawReading(); });
  await read(input.value);
  document.body.dataset.ready = "1";
}

main();
