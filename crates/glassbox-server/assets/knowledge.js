// Where knowledge lives: for a prompt, who wrote the answer's logit (direct logit
// attribution: every head, attention bias and MLP's exact share, summing to the logit) and
// which hidden states carry it (causal tracing: the subject spoiled by noise, one state at
// a time put back from the clean run, P(answer) read off — three token × layer heatmaps).
// Every number is the engine's (`/api/attribute`, `/api/causal`); each cell's receipt says
// how it was made.
import { $, api, applyStatic, el, esc, fmt, heatmap, hover, onLang, pct, setupPage, t, tokenText } from "./common.js";

const S = { attribution: null, trace: null };
window.glassbox = { state: S };
const KINDS = { resid: "kn_resid", attn: "kn_attn_out", mlp: "kn_mlp_out" };

function showError(e) {
  const box = $("#kn-error");
  box.textContent = String(e.message || e);
  box.classList.remove("hidden");
}

function drawTokens() {
  const tr = S.trace || S.attribution;
  if (!tr) return;
  const subject = S.trace ? S.trace.subject : [0, 0];
  $("#kn-tokens").replaceChildren(...tr.tokens.map((tok, p) => {
    const inSubject = p >= subject[0] && p < subject[1];
    const cell = el("span", { class: "why-cell", translate: "no", style: inSubject ? { background: "#efe9ff", fontWeight: "700" } : {}, text: tokenText(tok) });
    hover(cell, () => `${t("kn_position")} ${p}${inSubject ? " · " + esc(t("kn_subject")) : ""}`);
    return cell;
  }));
}

function drawAttribution() {
  const a = S.attribution;
  if (!a) return;
  const what = a.versus ? `logit(“${tokenText(a.target)}”) − logit(“${tokenText(a.versus)}”)` : `logit(“${tokenText(a.target)}”)`;
  const total = a.components.reduce((s, c) => s + c.value, 0);
  $("#kn-attr-sum").replaceChildren(el("span", { translate: "no", text: what }), ` = ${fmt(a.logit, 4)} · `,
    el("span", { text: t("kn_attr_total", { sum: fmt(total, 4), rstd: fmt(1 / a.ln_final_rstd, 4) }) }));
  const sorted = [...a.components].sort((x, y) => y.value - x.value);
  const shown = sorted.length > 24 ? [...sorted.slice(0, 14), ...sorted.slice(-8)] : sorted;
  const max = Math.max(...a.components.map((c) => Math.abs(c.value)), 1e-12);
  $("#kn-attr").replaceChildren(...shown.map((c) => {
    const w = (Math.abs(c.value) / max) * 50;
    const fill = el("div", { class: "fill", style: { left: c.value >= 0 ? "50%" : `${50 - w}%`, width: `${w}%`, background: c.value >= 0 ? "#2f7d5b" : "#c8443b" } });
    const row = el("div", { class: "kn-bar" }, el("div", { class: "label", translate: "no", text: c.name }),
      el("div", { class: "track" }, el("div", { class: "mid" }), fill), el("div", { class: "val", text: (c.value >= 0 ? "+" : "") + fmt(c.value, 3) }));
    hover(row, () => `<code>${esc(c.name)}</code>: ${esc(t("kn_attr_receipt", { v: fmt(c.value, 4), rstd: fmt(a.ln_final_rstd, 4) }))}`);
    return row;
  }));
  if (shown.length < sorted.length) $("#kn-attr").append(el("div", { class: "small muted", text: t("kn_attr_more", { n: sorted.length - shown.length }) }));
}

function drawTrace() {
  const tr = S.trace;
  if (!tr) return;
  const answer = `“${tokenText(tr.target)}”`;
  $("#kn-causal-head").textContent = t("kn_causal_head", { a: answer, clean: fmt(tr.clean.prob, 4), bad: fmt(tr.corrupted.prob, 4), n: tr.samples, how: t(tr.corruption === "noise" ? "kn_noise" : "kn_replace") });
  const T = tr.tokens.length, L = tr.kinds[0].prob[0].length;
  const lo = tr.corrupted.prob;
  const hi = Math.max(tr.clean.prob, ...tr.kinds.flatMap((k) => k.prob.flat()));
  let best = null;
  const panels = tr.kinds.map((k) => {
    const data = k.prob.flat().map((p) => Math.max(0, (p - lo) / Math.max(hi - lo, 1e-12)));
    k.prob.forEach((row, p) => row.forEach((v, l) => { if (!best || v > best.v) best = { v, p, l, kind: k.kind }; }));
    const map = heatmap({ rows: T, cols: L, data, scale: "seq", max: 1, cell: [Math.max(10, Math.min(28, 240 / L)), 16],
      rowLabels: tr.tokens.map(tokenText), colLabels: [...Array(L).keys()].map(String),
      receipt: (p, l) => t("kn_cell_receipt", { what: t(KINDS[k.kind]), l, tok: esc(tokenText(tr.tokens[p])), p, a: esc(answer),
        v: fmt(k.prob[p][l], 4), clean: fmt(tr.clean.prob, 4), bad: fmt(tr.corrupted.prob, 4) }) });
    map.node.dataset.kind = k.kind;
    return el("div", { class: "kn-heat" }, el("h3", { text: t(KINDS[k.kind]) }), map.node);
  });
  $("#kn-causal").replaceChildren(...panels);
  $("#kn-causal-best").textContent = best ? t("kn_best", { what: t(KINDS[best.kind]), l: best.l, tok: tokenText(tr.tokens[best.p]), p: best.p, v: fmt(best.v, 4) }) : "";
}

async function run() {
  const prompt = $("#kn-prompt").value, subject = $("#kn-subject").value.trim(), target = $("#kn-target").value.trim();
  const btn = $("#kn-form button");
  btn.disabled = true;
  $("#kn-error").classList.add("hidden");
  try {
    const body = { prompt };
    if (target) body.target = target;
    S.attribution = await api("/api/attribute", body);
    drawAttribution();
    S.trace = await api("/api/causal", { ...body, subject });
    drawTrace();
    drawTokens();
    document.body.dataset.traced = String(S.trace.tokens.length);
  } catch (e) {
    showError(e);
    document.body.dataset.traced = "error";
  } finally {
    btn.disabled = false;
  }
}

async function main() {
  const model = await setupPage("/knowledge", { legend: ["prob"] });
  const example = await api("/api/knowledge");
  const query = new URLSearchParams(location.search);
  $("#kn-prompt").value = query.get("prompt") ?? (example.facts ? example.prompt : model?.default_prompt ?? "");
  $("#kn-subject").value = query.get("subject") ?? (example.facts ? example.subject : "0..1");
  $("#kn-target").value = query.get("target") ?? "";
  $("#kn-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  onLang(() => { applyStatic(); drawAttribution(); drawTrace(); drawTokens(); });
  document.body.dataset.ready = "1";
  await run();
}

main();
