// The walkthrough: the user's prompt through this model, stage by stage, with the real
// tensors (from /api/walkthrough), in chapters. ← → step through them.
import {
  $, api, applyStatic, count, css, el, esc, figure, fmt, heatmap, hideTip, hover, inkFor, lang, maxAbs, showTip,
  onLang, partText, pct, seqColor, setupPage, t, tokenChip, tokenReceipt, tokenText,
} from "./common.js";
import { CHAPTERS } from "./i18n.js";

const CH = [
  { id: "overview", stage: "overview" },
  { id: "tokenization", stage: "tokenize" },
  { id: "embedding", stage: "embed" },
  { id: "layernorm", stage: "ln" },
  { id: "attention", stage: "attn" },
  { id: "residual", stage: "add" },
  { id: "mlp", stage: "mlp" },
  { id: "stack", stage: "stack" },
  { id: "final_ln", stage: "lnf" },
  { id: "head", stage: "head" },
  { id: "softmax", stage: "softmax" },
  { id: "lens", stage: "lens" },
];

const S = {
  prompt: "",
  data: null,
  chapter: 0,
  layer: 0,
  head: 0,
  position: null,
  ln: "ln1",
  temperature: 1,
  topK: 0,
  topP: 1,
  sampled: null,
  renders: 0,
  pending: null,
};
window.glassbox = { state: S, go: (id) => go(CH.findIndex((c) => c.id === id)) };

// ---------- data ----------
// The server sends what a chapter draws (`parts`): the walkthrough's summary and the
// focused position's logits for each prompt and focus; the embedding rows, the attention
// patterns and a block's full tensors only when a chapter shows them, once per prompt
// (once per layer for the tensors). None of those depend on the focus, so a token click
// keeps them.
const CHAPTER_PARTS = {
  embedding: ["embedding_rows"],
  attention: ["attention_patterns", "block"],
  residual: ["block"],
  mlp: ["block"],
};
// what does not depend on the focus, for the prompt in S.extra.prompt
S.extra = { prompt: null, rows: null, patterns: null, blocks: {} };
S.summary = null; // the last answer with the walkthrough's summary
S.partsPending = null;

function missingParts() {
  const have = { embedding_rows: !!S.extra.rows, attention_patterns: !!S.extra.patterns, block: !!S.extra.blocks[S.layer] };
  return (CHAPTER_PARTS[CH[S.chapter].id] || []).filter((p) => !have[p]);
}

/** Keeps the focus-free parts of an answer: embedding rows, attention patterns, tensors. */
function absorb(res) {
  const w = res.walkthrough || {};
  if (w.embedding && w.embedding.rows) S.extra.rows = w.embedding.rows;
  if (w.blocks && w.blocks.length && w.blocks[0].attention.heads.length && w.blocks[0].attention.heads[0].pattern) {
    S.extra.patterns = w.blocks.map((b) => b.attention.heads.map((h) => ({ pattern: h.pattern, scores: h.scores })));
  }
  if (res.tensors) S.extra.blocks[res.layer] = res.tensors;
}

/** "Running the model…" beside Run while a request takes longer than a blink. */
const BUSY = { count: 0, timer: 0 };
function busy(on) {
  BUSY.count = Math.max(0, BUSY.count + (on ? 1 : -1));
  clearTimeout(BUSY.timer);
  if (BUSY.count) BUSY.timer = setTimeout(() => $("#busy").classList.remove("hidden"), 150);
  else $("#busy").classList.add("hidden");
  $("#stage").setAttribute("aria-busy", BUSY.count ? "true" : "false");
}

async function load() {
  busy(true);
  try {
    await loadWhole();
  } finally {
    busy(false);
  }
}

async function loadWhole() {
  const err = $("#error");
  err.classList.add("hidden");
  if (S.pending) S.pending.abort();
  const ctrl = new AbortController();
  S.pending = ctrl;
  document.body.dataset.ready = "0";
  $("#stage").style.opacity = "0.55";
  try {
    // the prompt as typed, or as token ids once the loop has appended sampled tokens
    const key = S.ids ? `ids:${S.ids.join(",")}` : S.prompt;
    if (S.extra.prompt !== key) S.extra = { prompt: key, rows: null, patterns: null, blocks: {} };
    const body = { layer: S.layer, parts: ["summary", "focus_logits", ...missingParts()] };
    if (S.ids) body.ids = S.ids; else body.prompt = S.prompt;
    if (S.position != null) body.position = S.position;
    const res = await api("/api/walkthrough", body, { signal: ctrl.signal });
    if (ctrl.signal.aborted) return;
    absorb(res);
    S.summary = res;
    S.data = adapt(res);
    if (S.ids) $("#prompt").value = S.prompt = S.data.raw.tokens.map((tok) => tok.text ?? "").join("");
    S.position = S.data.position;
    S.head = Math.min(S.head, S.data.model.n_head - 1);
    S.sampled = null;
    render();
  } catch (e) {
    if (e.name === "AbortError") return;
    showError(e);
  } finally {
    if (S.pending === ctrl) S.pending = null;
    $("#stage").style.opacity = "";
  }
}

/** A rejected prompt clears the old picture: what is on screen must be what was asked. */
function showError(e) {
  const err = $("#error");
  err.textContent = e.message || String(e);
  err.classList.remove("hidden");
  S.data = null;
  S.summary = null;
  S.extra = { prompt: null, rows: null, patterns: null, blocks: {} };
  for (const id of ["#strip", "#pipeline", "#chapter", "#stage"]) $(id).replaceChildren();
  document.body.dataset.ready = "error";
}

/** Fetches what the chapter on screen needs and the page does not have, then draws again. */
async function loadMissing(parts) {
  const key = `${S.layer}:${parts.join(",")}`;
  if (S.partsPending && S.partsPending.key === key) return;
  if (S.partsPending) S.partsPending.ctrl.abort();
  const ctrl = new AbortController();
  S.partsPending = { key, ctrl };
  const extra = S.extra;
  busy(true);
  try {
    const res = await api("/api/walkthrough", { ids: S.data.ids, layer: S.layer, position: S.position, parts }, { signal: ctrl.signal });
    if (S.extra !== extra) return; // another prompt came meanwhile
    absorb(res);
    S.data = adapt(S.summary);
    render();
  } catch (e) {
    if (e.name !== "AbortError") showError(e);
  } finally {
    busy(false);
    if (S.partsPending && S.partsPending.ctrl === ctrl) S.partsPending = null;
  }
}

/**
 * The server sends the engine's walkthrough (`inspect::explain`, the JSON of
 * `glassbox explain --json`) in parts, every logit of the focused position and, when
 * asked, one block's full tensors (`inspect::trace`). This shapes them into matrices for
 * drawing; no number is changed.
 */
function adapt(res) {
  const w = res.walkthrough, info = res.model;
  const T = w.tokens.length, C = w.model.n_embd;
  const square = (jagged, fill) => {
    const out = new Array(T * T).fill(fill);
    jagged.forEach((row, q) => row.forEach((v, k) => { out[q * T + k] = v; }));
    return out;
  };
  const embeddingRows = S.extra.rows;
  const rows = (key, name) => ({ name, shape: [T, C], data: embeddingRows.flatMap((r) => r[key]) });
  const ln = (f) => ({ ...f, eps: f.epsilon });
  const logits = res.focus_logits;
  const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a] || a - b);
  const views = {};
  for (const [id, v] of Object.entries(w.vocab)) views[id] = vocabView(v);
  const patterns = S.extra.patterns;
  const data = {
    raw: w,
    model: info,
    T,
    ids: w.tokens.map((t) => t.id),
    tokens: w.tokens.map(promptView),
    position: w.focus,
    embedding: embeddingRows
      ? { wte: rows("token", "hook_embed"), wpe: rows("position_embedding", "hook_pos_embed"), sum: rows("sum", "blocks.0.hook_resid_pre") }
      : null,
    attention: patterns
      ? patterns.map((heads, l) => ({
        layer: l,
        heads: heads.map((h, i) => ({
          pattern: { name: `blocks.${l}.attn.hook_pattern[${i}]`, shape: [T, T], data: square(h.pattern, 0) },
          scores: { name: `blocks.${l}.attn.hook_attn_scores[${i}]`, shape: [T, T], data: square(h.scores, null) },
        })),
      }))
      : null,
    residual: {
      stages: w.residual.stages.map((name) => {
        const m = /^blocks\.(\d+)\.hook_resid_(pre|mid|post)$/.exec(name);
        return { name, layer: m ? Number(m[1]) : -1, kind: !m || m[2] === "pre" ? "embed" : m[2] === "mid" ? "attn" : "mlp" };
      }),
      norms: w.residual.norms,
      added: w.blocks.map((b) => ({ attn: b.attn_out_norm, mlp: b.mlp_out_norm })),
    },
    ln_final: ln(w.ln_f),
    logits: { position: w.logits.position, values: logits, top: order, max: w.logits.max, min: w.logits.min, mean: w.logits.mean },
    lens: w.lens,
    vocab: views,
  };
  data.block = blockData(w, S.layer);
  return data;
}

/** Block `L`: the walkthrough's summaries of it, and its full tensors once they are here. */
function blockData(w, L) {
  const ln = (f) => ({ ...f, eps: f.epsilon });
  const tensors = S.extra.blocks[L];
  const tensor = (suffix) => (tensors ? tensors[`blocks.${L}.${suffix}`] : null);
  return {
    layer: L,
    ln1: ln(w.blocks[L].ln_1),
    ln2: ln(w.blocks[L].ln_2),
    mlp: w.blocks[L].mlp,
    resid_pre: tensor("hook_resid_pre"),
    q: tensor("attn.hook_q"), k: tensor("attn.hook_k"), v: tensor("attn.hook_v"), z: tensor("attn.hook_z"),
    attn_out: tensor("hook_attn_out"), resid_mid: tensor("hook_resid_mid"),
    ln2_normalized: tensor("ln2.hook_normalized"),
    mlp_pre: tensor("mlp.hook_pre"), mlp_post: tensor("mlp.hook_post"), mlp_out: tensor("hook_mlp_out"),
    resid_post: tensor("hook_resid_post"),
  };
}
const hexOf = (bytes) => bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ");
/** A prompt token of the walkthrough as a token view (text, or the character it helps form). */
function promptView(t) {
  const parts = t.text != null ? [{ text: t.text }] : t.part_of != null ? [{ part_of: t.part_of }] : t.bytes.length ? [{ invalid: t.bytes[0] }] : [{ text: t.label }];
  return { id: t.id, bytes: t.bytes, hex: hexOf(t.bytes), text: t.text ?? "", parts, whole: t.text != null, bare: !t.bytes.length, label: t.label };
}
function vocabView(v) {
  const parts = v.text != null ? [{ text: v.text }] : v.bytes.length ? [{ part_of: null }] : [{ text: v.display }];
  return { id: v.id, bytes: v.bytes, hex: hexOf(v.bytes), text: v.text ?? v.display, parts, whole: v.text != null, bare: !v.bytes.length };
}

function setFocus(pos) {
  if (pos === S.position) return;
  S.position = pos;
  load();
}
function setLayer(layer) {
  if (layer === S.layer) return;
  S.layer = layer;
  S.data.block = blockData(S.data.raw, layer); // the summaries are here; the tensors come if a chapter needs them
  render();
}

// ---------- frame: strip, pipeline, chapter text, footer ----------
function tokLabel(i) {
  return tokenText(S.data.tokens[i]);
}
function vocabText(id) {
  const v = S.data.vocab[String(id)];
  return v ? tokenText(v) : `#${id}`;
}

function renderStrip() {
  const strip = $("#strip");
  // a built-in task's model: the positions whose next token is part of the answer
  const task = S.data.model.task;
  const first = task ? task.prompt_tokens - 1 : Infinity;
  strip.replaceChildren(...S.data.tokens.map((tok, i) => {
    const writes = i >= first && i < first + task.answer_tokens;
    const extra = `${t("position")} ${i}` + (writes ? `<br>${t("writes_answer", { k: i - first + 1, n: task.answer_tokens })}` : "");
    const chip = tokenChip(tok, { focus: i === S.position, onclick: () => setFocus(i), extra });
    if (writes) chip.classList.add("writes-answer");
    chip.tabIndex = 0;
    chip.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); setFocus(i); } });
    return chip;
  }));
  const named = task && t(`task_${task.name}`);
  $("#strip-note").textContent = task ? t("task_note", { task: named === `task_${task.name}` ? task.describe : named, from: first }) : "";
}

function renderPipeline() {
  const m = S.data.model;
  const T = S.data.T;
  const cur = CH[S.chapter].stage;
  const step = (key, shape, stage, extra = {}) => {
    const on = cur === stage && (extra.ln == null || extra.ln === S.ln || stage !== "ln");
    return el("div", {
      class: "pipe-step" + (on ? " on" : ""), dataset: { stage },
      onclick: () => { if (extra.ln) S.ln = extra.ln; go(CH.findIndex((c) => c.stage === stage)); },
    }, el("span", { text: t(key) }), el("span", { class: "shape", text: shape }));
  };
  const arrow = () => el("div", { class: "pipe-arrow", text: "↓" });
  const inBlock = ["ln", "attn", "add", "mlp"].includes(cur);
  const block = el("div", { class: "pipe-block" + (inBlock ? " on" : "") },
    el("div", { class: "label" }, el("span", { text: t("block_n", { l: S.layer }) }), el("span", { text: t("blocks_x", { L: m.n_layer }) })),
    step("stage_ln1", `[${T},${m.n_embd}]`, "ln", { ln: "ln1" }), arrow(),
    step("stage_attn", `[${m.n_head},${T},${T}]`, "attn"), arrow(),
    step("stage_add", "x + Δx", "add"), arrow(),
    step("stage_ln2", `[${T},${m.n_embd}]`, "ln", { ln: "ln2" }), arrow(),
    step("stage_mlp", `[${T},${4 * m.n_embd}]`, "mlp"));
  $("#pipeline").replaceChildren(
    step("stage_overview", "", "overview"), arrow(),
    step("stage_tokenize", `[${T}]`, "tokenize"), arrow(),
    step("stage_embed", `[${T},${m.n_embd}]`, "embed"), arrow(),
    block, arrow(),
    step("stage_stack", `×${m.n_layer}`, "stack"), arrow(),
    step("stage_lnf", `[${T},${m.n_embd}]`, "lnf"), arrow(),
    step("stage_head", `[${T},${m.vocab_size}]`, "head"), arrow(),
    step("stage_softmax", `[${m.vocab_size}]`, "softmax"), arrow(),
    step("stage_lens", `[${m.n_layer + 1},${T}]`, "lens"));
  // On a phone the pipeline is one scrolling row: keep the current stage in view.
  const on = $("#pipeline .pipe-step.on");
  const bar = $("#pipeline");
  if (on && bar.scrollWidth > bar.clientWidth) bar.scrollLeft = Math.max(0, on.offsetLeft - bar.clientWidth / 2 + on.offsetWidth / 2);
}

function lnData() {
  const d = S.data;
  if (CH[S.chapter].id === "final_ln") return d.ln_final;
  return S.ln === "ln2" ? d.block.ln2 : d.block.ln1;
}

/** The tokenizer in words, in the page's language. */
function tokenizerText(tok) {
  if (tok.kind === "bpe") return t("tok_bpe", { size: tok.size, merges: tok.merges ?? "?" });
  if (tok.kind === "char") return t("tok_char", { size: tok.size });
  return t("tok_ids", { size: tok.size });
}

function chapterVars() {
  const d = S.data, m = d.model, p = S.position;
  const ln = lnData();
  const v = {
    name: `<span translate="no">${esc(m.name)}</span>`, L: m.n_layer, H: m.n_head, C: m.n_embd, d: m.d_head, V: m.vocab_size, nctx: m.n_ctx,
    T: d.T, params: count(m.params.total), perBlock: count(m.params.block), layer: S.layer, head: S.head, pos: p,
    tok: `<code>${esc(tokLabel(p))}</code>`, tokenizer: esc(tokenizerText(m.tokenizer)),
    chars: [...S.prompt].length,
  };
  v.lnName = `<code>${esc(CH[S.chapter].id === "final_ln" ? "ln_f" : `h.${S.layer}.${S.ln === "ln2" ? "ln_2" : "ln_1"}`)}</code>`;
  v.mean = fmt(ln.mean);
  v.var = fmt(ln.var);
  v.std = fmt(ln.std);
  v.eps = epsText(ln.eps);
  const added = d.residual.added[S.layer];
  v.addedAttn = fmt(added.attn[p], 3);
  v.normIn = fmt(d.residual.norms[2 * S.layer][p], 3);
  v.active = d.block.mlp.active;
  const top = d.logits.top[0];
  v.topLogit = fmt(d.logits.values[top], 3);
  v.topTok = `<code>${esc(vocabText(top))}</code>`;
  return v;
}

function renderChapter() {
  const ch = CH[S.chapter];
  const text = (CHAPTERS[lang] || CHAPTERS.en)[ch.id];
  const box = $("#chapter");
  box.replaceChildren(
    el("div", { class: "num", text: t("chapter", { n: S.chapter + 1, of: CH.length }) }),
    el("h2", { text: text.title }),
    el("div", { class: "chapter-text", id: "chapter-text", html: text.body(chapterVars()) }),
    controlsFor(ch.id));
  $("#foot-title").textContent = `${S.chapter + 1} / ${CH.length} · ${text.title}`;
  $("#dots").replaceChildren(...CH.map((c, i) => el("button", {
    class: i === S.chapter ? "on" : "", title: (CHAPTERS[lang] || CHAPTERS.en)[c.id].title, "aria-label": c.id, onclick: () => go(i),
  })));
  $("#prev").disabled = S.chapter === 0;
  $("#next").disabled = S.chapter === CH.length - 1;
}

function select(label, value, options, onchange, id) {
  return el("label", { class: "field" }, t(label),
    el("select", { id, onchange: (e) => onchange(Number(e.target.value)) },
      options.map((o) => el("option", { value: o.value, selected: o.value === value ? true : null, text: o.label }))));
}
function layerSelect() {
  return select("layer", S.layer, [...Array(S.data.model.n_layer).keys()].map((l) => ({ value: l, label: `${l}` })), setLayer, "layer-select");
}
function headSelect() {
  return select("head", S.head, [...Array(S.data.model.n_head).keys()].map((h) => ({ value: h, label: `${h}` })), (h) => { S.head = h; render(); }, "head-select");
}
function positionSelect() {
  return select("position", S.position, S.data.tokens.map((tok, i) => ({ value: i, label: `${i}: ${tokenText(tok)}` })), setFocus, "position-select");
}

function controlsFor(id) {
  const wrap = el("div", { class: "controls" });
  if (["layernorm", "attention", "residual", "mlp"].includes(id)) wrap.append(layerSelect());
  if (id === "layernorm") {
    wrap.append(select("which_ln", S.ln === "ln2" ? 2 : 1, [{ value: 1, label: "ln_1" }, { value: 2, label: "ln_2" }],
      (v) => { S.ln = v === 2 ? "ln2" : "ln1"; render(); }, "ln-select"));
  }
  if (id === "attention") wrap.append(headSelect());
  if (["layernorm", "residual", "mlp", "stack", "final_ln", "head", "softmax"].includes(id)) wrap.append(positionSelect());
  if (id === "softmax") wrap.append(...samplingControls());
  return wrap.childElementCount ? wrap : el("div");
}

function render() {
  if (!S.data) return;
  hideTip(); // its element may be about to go
  renderStrip();
  renderPipeline();
  renderChapter();
  const stage = $("#stage");
  const scroll = stage.scrollTop;
  stage.replaceChildren();
  const width = Math.max(260, stage.clientWidth - 40);
  const id = CH[S.chapter].id;
  S.renders++;
  document.body.dataset.chapter = id;
  const missing = missingParts();
  if (missing.length) {
    stage.append(el("div", { class: "loading", text: t("loading") }));
    document.body.dataset.renders = String(S.renders);
    document.body.dataset.ready = "0";
    loadMissing(missing);
    return;
  }
  RENDER[id](stage, width);
  stage.scrollTop = scroll;
  document.body.dataset.renders = String(S.renders);
  document.body.dataset.ready = "1";
}

function go(i) {
  if (i < 0 || i >= CH.length) return;
  const changed = i !== S.chapter;
  S.chapter = i;
  history.replaceState(null, "", `${location.pathname}${location.search}#${CH[i].id}`);
  render();
  if (changed) { $("#stage").scrollTop = 0; $("#chapter").scrollTop = 0; }
}

// ---------- helpers for tensors ----------
function epsText(eps) {
  return Number(eps.toPrecision(3)).toExponential().replace("e-", "e−");
}
const rowsOf = (tensor) => tensor.shape[0];
function row(tensor, r) {
  const cols = tensor.data.length / tensor.shape[0];
  return tensor.data.slice(r * cols, (r + 1) * cols);
}
/** Columns [h·d, (h+1)·d) of a [T, H, d] tensor, as [T, d]. */
function headSlice(tensor, h) {
  const [T, H, d] = tensor.shape;
  const out = new Array(T * d);
  for (let r = 0; r < T; r++) for (let i = 0; i < d; i++) out[r * d + i] = tensor.data[r * H * d + h * d + i];
  return out;
}
function tokenRows() {
  return S.data.tokens.map((tok) => tokenText(tok));
}
function shapeText(dims) {
  return "[" + dims.join(", ") + "]";
}
function matrixFigure(name, tensor, kind, width, extraReceipt, opts = {}) {
  const T = S.data.T;
  const cols = tensor.data.length / tensor.shape[0];
  const labels = opts.rowLabels || tokenRows();
  const hm = heatmap({
    rows: rowsOf(tensor), cols, data: tensor.data, width, rowLabels: opts.noLabels ? null : labels, focusRow: S.position,
    scale: opts.scale || "div", max: opts.max, minRowHeight: opts.minRowHeight ?? (T <= 24 ? 14 : 10),
    receipt: (r, c, v) => `<span class="k">${esc(name)}</span> [${r}, ${c}] = <code>${fmt(v)}</code><br><span class="k">${t("token")}</span> <code>${esc(labels[r] || "")}</code> · <span class="k">${t("dim")}</span> ${c}` + (extraReceipt ? "<br>" + extraReceipt(r, c, v) : ""),
    className: opts.className,
  });
  return figure(tensor.name || name, opts.shape || shapeText(opts.dims || [`T=${T}`, `${cols}`]), kind, hm.node, opts.note);
}
function sign(s) {
  return el("div", { class: "op", text: s });
}

// ---------- chapters ----------
const RENDER = {};

RENDER.overview = (stage, width) => {
  const d = S.data, m = d.model;
  const probs = softmax(d.logits.values, 1);
  const order = d.logits.top.slice(0, 3);
  const last = tokLabel(d.position);
  stage.append(el("div", { class: "answer" }, t("predicts", { last }), " ",
    ...order.map((id, i) => el("span", {}, i ? " · " : "", el("span", { class: "tokbig", text: vocabText(id) }), " ", pct(probs[id])))));
  const box = (k, shape, cls, title) => el("div", { class: "flow-box " + (cls || ""), title: title || "" },
    el("div", { class: "t", text: k }), el("div", { class: "shape", translate: "no", text: shape }));
  const arrow = () => el("span", { class: "flow-arrow", text: "→" });
  stage.append(el("h3", { text: t("stage_overview") }), el("div", { class: "overview-flow" },
    box(t("flow_text"), `“${S.prompt.length > 14 ? S.prompt.slice(0, 13) + "…" : S.prompt}”`), arrow(),
    box(t("flow_ids"), `[T=${d.T}]`), arrow(),
    box("wte + wpe", `[V, C] + [n_ctx, C]`, "w"), arrow(),
    box(t("flow_x"), `[${d.T}, ${m.n_embd}]`, "a"), arrow(),
    box(t("flow_blocks", { L: m.n_layer }), t("flow_block_inside"), "a"), arrow(),
    box("ln_f", `[${d.T}, ${m.n_embd}]`, "a"), arrow(),
    box("· wteᵀ", `[${m.n_embd}, ${m.vocab_size}]`, "w"), arrow(),
    box(t("flow_logits"), `[${d.T}, ${m.vocab_size}]`, "a"), arrow(),
    box(t("flow_probs"), `[${m.vocab_size}]`, "a")));
  const rows = [
    [`wte (${t("token_embedding")})`, `[${m.vocab_size}, ${m.n_embd}]`, m.params.wte],
    [`wpe (${t("position_embedding")})`, `[${m.n_ctx}, ${m.n_embd}]`, m.params.wpe],
    ...m.params.block_tensors.map((b) => [b.name, shapeText(b.shape), b.count, true]),
    [`${t("per_block")} × ${m.n_layer}`, "", m.params.blocks],
    ["ln_f", `[${m.n_embd}] × 2`, m.params.ln_f],
    [t("total"), "", m.params.total],
  ];
  stage.append(el("h3", { style: { marginTop: "18px" }, text: t("params_table") }),
    el("table", { class: "params" },
      el("tr", {}, el("th", { text: t("component") }), el("th", { text: t("shape") }), el("th", { text: t("count") })),
      rows.map(([name, shape, n, sub]) => el("tr", {},
        el("td", { class: "mono", style: sub ? { paddingLeft: "22px", color: "var(--muted)" } : {}, text: name }),
        el("td", { class: "shape", text: shape }),
        el("td", { class: "n", text: n.toLocaleString() })))));
};

RENDER.tokenization = (stage) => {
  const d = S.data;
  stage.append(el("h3", { text: `${t("stage_tokenize")} · ${tokenizerText(d.model.tokenizer)}` }),
    el("div", { class: "tokens", style: { fontSize: "16px", gap: "6px" } },
      d.tokens.map((tok, i) => {
        const chip = tokenChip(tok, { focus: i === S.position, onclick: () => setFocus(i) });
        chip.style.padding = "6px 10px";
        chip.style.fontSize = "18px";
        return chip;
      })));
  const table = el("table", { class: "params", style: { marginTop: "16px" } },
    el("tr", {}, el("th", { text: t("position") }), el("th", { text: t("token") }), el("th", { text: "id" }), el("th", { text: t("bytes") }), el("th", { text: "" })),
    d.tokens.map((tok, i) => el("tr", { class: i === S.position ? "focus" : "" },
      el("td", { class: "n", text: String(i) }),
      el("td", { class: "mono", text: tokenText(tok) }),
      el("td", { class: "n", text: String(tok.id) }),
      el("td", { class: "mono muted", text: tok.hex || "—" }),
      el("td", { class: "small muted", text: (tok.parts || []).map(partText).filter(Boolean).join("; ") }))));
  stage.append(table);
  if (d.raw.merges) stage.append(mergesFigure(d.raw.merges));
};

/** BPE at work: each piece of the prompt from its bytes, merge by merge, to its tokens. */
function mergesFigure(pieces) {
  const steps = pieces.reduce((n, p) => n + p.stages.length - 1, 0);
  const box = el("div", { id: "merges", style: { marginTop: "18px" } },
    el("h3", { text: t("merges_title", { pieces: pieces.length, steps }) }),
    el("p", { class: "small muted", text: t("merges_note") }));
  for (const piece of pieces) {
    const rows = piece.stages.map((stage, i) => el("div", { class: "merge-row", dataset: { stage: String(i) } },
      el("span", { class: "merge-what small muted" }, stage.merge
        ? el("span", {}, `#${stage.merge.rank} `, el("code", { text: tokenText(stage.merge.left) }), " + ", el("code", { text: tokenText(stage.merge.right) }), " → ", el("code", { text: tokenText(stage.merge.merged) }))
        : t("merges_bytes", { n: piece.bytes.length })),
      el("span", { class: "tokens" }, stage.tokens.map((v) => tokenChip(v)))));
    box.append(el("div", { class: "merge-piece" }, rows));
  }
  return box;
}

RENDER.embedding = (stage, width) => {
  const e = S.data.embedding, m = S.data.model;
  const w = width - 90;
  const wte = S.data.embedding.wte.data, wpe = S.data.embedding.wpe.data;
  const C = m.n_embd;
  const sumReceipt = (r, c) => `x = wte[${S.data.tokens[r].id}, ${c}] + wpe[${r}, ${c}] = ${fmt(wte[r * C + c])} + ${fmt(wpe[r * C + c])}`;
  const max = Math.max(maxAbs(e.wte.data), maxAbs(e.wpe.data), maxAbs(e.sum.data));
  stage.append(el("div", { class: "stage-grid", style: { flexDirection: "column" } },
    matrixFigure("wte[ids]", e.wte, "weight", w, null, { dims: [`T=${S.data.T}`, `C=${C}`], max, note: `← wte [${m.vocab_size}, ${C}]` }),
    sign("+"),
    // wpe's rows are positions, not tokens
    matrixFigure("wpe[0..T]", e.wpe, "weight", w, null, { dims: [`T=${S.data.T}`, `C=${C}`], max, note: `← wpe [${m.n_ctx}, ${C}]`, rowLabels: [...Array(S.data.T).keys()].map(String) }),
    sign("="),
    matrixFigure("x", e.sum, "act", w, sumReceipt, { dims: [`T=${S.data.T}`, `C=${C}`], max, className: "embed-sum" })));
};

function stripFigure(name, values, kind, width, receipt, opts = {}) {
  const hm = heatmap({ rows: 1, cols: values.length, data: values, width, cell: [Math.max(0.5, Math.min(14, width / values.length)), 18], max: opts.max, receipt: (r, c, v) => receipt(c, v) });
  return figure(name, `[${values.length}]`, kind, hm.node, opts.note);
}

function renderLayerNorm(stage, width, ln, title) {
  const p = S.position;
  const C = S.data.model.n_embd;
  const x = ln.x;
  const mean = ln.mean, variance = ln.var, eps = ln.eps, std = ln.std;
  const xhat = x.map((v) => (v - mean) / std);
  const gamma = ln.gamma, beta = ln.beta;
  const y = ln.normalized;
  const card = (k, v, cls, key) => el("div", { class: "num-card " + (cls || ""), dataset: key ? { testid: key, value: String(v) } : {} },
    el("div", { class: "k", text: k }), el("div", { class: "v", text: typeof v === "number" ? fmt(v) : v }));
  stage.append(el("h3", { text: `${title} · ${t("position")} ${p} ${tokLabel(p)}` }),
    el("div", { class: "numbers", id: "ln-numbers" },
      card(t("mean"), mean, "act", "ln-mean"),
      card(t("variance"), variance, "act", "ln-var"),
      card("ε", epsText(eps), "", "ln-eps"),
      card(t("std"), std, "act", "ln-std"),
      card("γ " + t("mean").replace(/ .*/, "") , gamma.reduce((a, b) => a + b, 0) / C, "weight"),
      card("β " + t("mean").replace(/ .*/, ""), beta.reduce((a, b) => a + b, 0) / C, "weight")),
    el("div", { class: "formula" }, el("div", { text: `x̂ = (x − E[x]) / √(Var[x] + ε) = (x − ${fmt(mean)}) / √(${fmt(variance)} + ${epsText(eps)}) = (x − ${fmt(mean)}) / ${fmt(std)}` }),
      el("div", { text: "y = γ ⊙ x̂ + β" })));
  const w = Math.min(width, 760);
  // one colour scale for all five strips: x and x̂ then look as different as they are
  const max = Math.max(maxAbs(x), maxAbs(xhat), maxAbs(gamma), maxAbs(beta), maxAbs(y));
  const grid = el("div", { class: "stage-grid", id: "ln-strips", dataset: { max: String(max) }, style: { flexDirection: "column", gap: "12px" } },
    el("div", { class: "small muted", id: "ln-scale", text: t("ln_one_scale", { max: fmt(max, 3) }) }),
    stripFigure(`x  (${t("ln_input")})`, x, "act", w, (c, v) => `x[${c}] = <code>${fmt(v)}</code>`, { max }),
    stripFigure(t("ln_norm"), xhat, "act", w, (c, v) => `x̂[${c}] = (${fmt(x[c])} − ${fmt(mean)}) / ${fmt(std)} = <code>${fmt(v)}</code>`, { max }),
    stripFigure(t("gamma"), gamma, "weight", w, (c, v) => `γ[${c}] = <code>${fmt(v)}</code>`, { max }),
    stripFigure(t("beta"), beta, "weight", w, (c, v) => `β[${c}] = <code>${fmt(v)}</code>`, { max }),
    stripFigure(`y  (${t("ln_out")})`, y, "act", w, (c, v) => `y[${c}] = γ·x̂ + β = ${fmt(gamma[c])}·${fmt(xhat[c])} + ${fmt(beta[c])} = <code>${fmt(v)}</code>`, { max }));
  stage.append(grid, el("h3", { style: { marginTop: "14px" }, text: `x → y · ${ln.input}` }), dotPlot(x, y, Math.min(width, 760)));
}

function dotPlot(x, y, width) {
  const lo = Math.min(...x, ...y), hi = Math.max(...x, ...y);
  const W = width, H = 70, pad = 40;
  const sx = (v) => pad + ((v - lo) / (hi - lo || 1)) * (W - pad - 10);
  const svg = [`<svg class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`];
  svg.push(`<line class="axis" x1="${pad}" x2="${W - 10}" y1="24" y2="24"/><line class="axis" x1="${pad}" x2="${W - 10}" y1="52" y2="52"/>`);
  svg.push(`<text x="6" y="27">x</text><text x="6" y="55">y</text>`);
  if (lo < 0 && hi > 0) svg.push(`<line stroke="#d3cfc6" stroke-dasharray="2 2" x1="${sx(0)}" x2="${sx(0)}" y1="12" y2="62"/><text x="${sx(0) - 3}" y="10">0</text>`);
  for (const v of x) svg.push(`<circle cx="${sx(v).toFixed(1)}" cy="24" r="2.6" fill="rgba(106,79,208,0.45)"/>`);
  for (const v of y) svg.push(`<circle cx="${sx(v).toFixed(1)}" cy="52" r="2.6" fill="rgba(106,79,208,0.45)"/>`);
  svg.push(`<text x="${pad}" y="68">${fmt(lo, 2)}</text><text x="${W - 50}" y="68">${fmt(hi, 2)}</text></svg>`);
  return el("div", { style: { marginTop: "10px" }, html: svg.join("") });
}

RENDER.layernorm = (stage, width) => renderLayerNorm(stage, width, lnData(), `h.${S.layer}.${S.ln === "ln2" ? "ln_2" : "ln_1"}`);
RENDER.final_ln = (stage, width) => renderLayerNorm(stage, width, S.data.ln_final, "ln_f");

RENDER.attention = (stage, width) => {
  const d = S.data, m = d.model, T = d.T;
  const labels = tokenRows();
  // every layer × head
  const cellPx = Math.max(36, Math.min(96, Math.floor((width - 60) / m.n_head) - 8));
  const grid = el("div", { class: "attn-grid", id: "attn-grid", style: { gridTemplateColumns: `40px repeat(${m.n_head}, ${cellPx + 6}px)` } });
  grid.append(el("span"));
  for (let h = 0; h < m.n_head; h++) grid.append(el("span", { class: "lab", style: { textAlign: "center" }, text: `${t("head")} ${h}` }));
  d.attention.forEach((layer, l) => {
    grid.append(el("span", { class: "rowhead", text: `L${l}` }));
    layer.heads.forEach((hd, h) => {
      const on = l === S.layer && h === S.head;
      const hm = heatmap({
        rows: T, cols: T, data: hd.pattern.data, scale: "seq", max: 1, cell: cellPx / T, className: "attn-canvas",
        receipt: (q, k, v) => attnReceipt(l, h, q, k, v, hd.scores.data[q * T + k]),
        onclick: () => { S.head = h; if (l !== S.layer) setLayer(l); else render(); },
      });
      hm.canvas.dataset.layer = l;
      hm.canvas.dataset.head = h;
      grid.append(el("div", { class: "cell" + (on ? " on" : "") }, hm.node));
    });
  });
  stage.append(el("h3", { text: `${t("all_heads")} · [${m.n_layer} × ${m.n_head}] × [T=${T}, T=${T}]` }), grid);

  // one head in detail
  const blk = d.block, h = S.head, dh = m.d_head;
  const q = headSlice(blk.q, h), k = headSlice(blk.k, h), v = headSlice(blk.v, h), z = headSlice(blk.z, h);
  const raw = new Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) {
    let s = 0;
    for (let c = 0; c < dh; c++) s += q[i * dh + c] * k[j * dh + c];
    raw[i * T + j] = s;
  }
  const hd = d.attention[S.layer].heads[h];
  const small = Math.max(6, Math.min(22, Math.floor((width - 200) / 3 / Math.max(T, dh))));
  const mat = (name, data, rows, cols, kind, scale, receipt, cls) => {
    // a T × T matrix's columns are the keys: labelled too
    const hm = heatmap({ rows, cols, data, scale, max: scale === "seq" ? 1 : undefined, cell: small, rowLabels: labels, colLabels: cols === T ? labels : null, focusRow: null, receipt, className: cls });
    return figure(name, shapeText([`T=${rows}`, cols === T ? `T=${cols}` : `d_head=${cols}`]), kind, hm.node);
  };
  // q, k and v of head h are columns of c_attn's output: q at h·d, k at C + h·d, v at 2C + h·d
  const C = m.n_embd;
  const cut = (nm, offset) => (r, c, val) => { productReceipt("c_attn", r, offset + h * dh + c); return vecReceipt(nm)(r, c, val) + `<br><span class="k">${t("receipt_below")}</span>`; };
  const vecReceipt = (nm) => (r, c, val) => `${nm}[${r}, ${c}] = <code>${fmt(val)}</code> · <code>${esc(labels[r])}</code>`;
  stage.append(el("h3", { style: { marginTop: "20px" }, text: `${t("block_n", { l: S.layer })} · ${t("head")} ${h} · ${t("qkv")}` }),
    el("div", { class: "stage-grid" },
      mat(`blocks.${S.layer}.attn.hook_q[${h}]`, q, T, dh, "act", "div", cut("q", 0)),
      mat(`hook_k[${h}]`, k, T, dh, "act", "div", cut("k", C)),
      mat(`hook_v[${h}]`, v, T, dh, "act", "div", cut("v", 2 * C))),
    weightFigure("c_attn", width, [[h * dh, (h + 1) * dh, "q"], [C + h * dh, C + (h + 1) * dh, "k"], [2 * C + h * dh, 2 * C + (h + 1) * dh, "v"]]),
    el("p", { class: "small muted", id: "qkv-cut", text: t("qkv_cut", { L: S.layer, C, C3: 3 * C, h, d: dh, q0: h * dh, q1: (h + 1) * dh - 1, k0: C + h * dh, k1: C + (h + 1) * dh - 1, v0: 2 * C + h * dh, v1: 2 * C + (h + 1) * dh - 1 }) }),
    productPanel("c_attn"),
    el("div", { class: "stage-grid", style: { marginTop: "14px" } },
      el("div", {}, el("h3", { text: t("scores") }),
        mat("q·kᵀ", raw, T, T, "act", "div", (i, j, val) => `q<sub>${i}</sub>·k<sub>${j}</sub> = <code>${fmt(val)}</code><br>${t("computed_in_browser")}`)),
      el("div", {}, el("h3", { text: t("masked_scaled") }),
        mat(`hook_attn_scores[${h}]`, hd.scores.data, T, T, "act", "div", (i, j, val) => val == null
          ? `${t("query")} <code>${esc(labels[i])}</code> (${i}) · ${t("key")} <code>${esc(labels[j])}</code> (${j})<br>${t("masked")}`
          : `${t("query")} <code>${esc(labels[i])}</code> (${i}) · ${t("key")} <code>${esc(labels[j])}</code> (${j})<br>q·k / √${dh} = ${fmt(raw[i * T + j])} / ${fmt(Math.sqrt(dh), 3)} = <code>${fmt(val)}</code>`)),
      el("div", {}, el("h3", { text: t("softmax_pattern") }),
        mat(`hook_pattern[${h}]`, hd.pattern.data, T, T, "act", "seq", (i, j, val) => attnReceipt(S.layer, h, i, j, val, hd.scores.data[i * T + j]), "attn-detail")),
      el("div", {}, el("h3", { text: t("weighted_sum") }),
        mat(`hook_z[${h}]`, z, T, dh, "act", "div", vecReceipt("z")))),
    el("h3", { style: { marginTop: "20px" }, text: t("arcs_title", { l: S.layer, h }) }),
    attentionArcs(hd.pattern.data, T, labels, Math.min(width, 560)));
};

/** Minimum weight drawn as a line (the heatmap beside it shows every weight). */
const ARC_MIN = 0.01;
/**
 * The pattern as lines between tokens: queries on the left, keys on the right, one line
 * from each query to each key it reads, as thick as the weight; the focused query's lines
 * in full colour, the others faint. Hovering a query shows only its lines.
 */
function attentionArcs(pattern, T, labels, width) {
  const rowH = Math.max(13, Math.min(22, Math.floor(640 / T)));
  const H = 28 + T * rowH, labelW = 96, x0 = labelW + 6, x1 = width - labelW - 6;
  const y = (i) => 24 + i * rowH + rowH / 2;
  const svg = [`<svg class="chart arcs" id="attn-arcs" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}">`,
    `<text x="${x0 - 4}" y="14" text-anchor="end">${esc(t("query"))}</text><text x="${x1 + 4}" y="14">${esc(t("key"))}</text>`];
  for (let q = 0; q < T; q++) {
    const focus = q === S.position;
    for (let k = 0; k <= q; k++) {
      const w = pattern[q * T + k];
      if (!(w >= ARC_MIN)) continue;
      svg.push(`<line class="arc${focus ? " focus" : ""}" data-q="${q}" data-k="${k}" data-w="${w}" x1="${x0}" y1="${y(q)}" x2="${x1}" y2="${y(k)}" stroke-width="${(0.6 + 6 * w).toFixed(2)}"/>`);
    }
  }
  for (let i = 0; i < T; i++) {
    const cls = i === S.position ? "tl focus" : "tl";
    svg.push(`<text class="${cls} q" data-q="${i}" x="${x0 - 6}" y="${y(i) + 4}" text-anchor="end">${esc(labels[i])} ${i}</text>`);
    svg.push(`<text class="${cls}" x="${x1 + 6}" y="${y(i) + 4}">${i} ${esc(labels[i])}</text>`);
  }
  svg.push("</svg>");
  const holder = el("div", { html: svg.join("") });
  const root = holder.firstChild;
  root.querySelectorAll("text.q").forEach((label) => {
    const mine = root.querySelectorAll(`line.arc[data-q="${label.dataset.q}"]`);
    label.addEventListener("pointerenter", () => { root.classList.add("only"); mine.forEach((l) => l.classList.add("hl")); });
    label.addEventListener("pointerleave", () => { root.classList.remove("only"); mine.forEach((l) => l.classList.remove("hl")); });
    label.addEventListener("click", () => setFocus(Number(label.dataset.q)));
  });
  root.addEventListener("pointerover", (e) => {
    const line = e.target.closest && e.target.closest("line.arc");
    if (!line) return;
    const q = Number(line.dataset.q), k = Number(line.dataset.k), w = Number(line.dataset.w);
    showTip(`${t("query")} <code>${esc(labels[q])}</code> (${q}) → ${t("key")} <code>${esc(labels[k])}</code> (${k})<br>${t("weight")} = <code>${fmt(w)}</code> (${pct(w)})`, e.clientX, e.clientY);
  });
  root.addEventListener("pointerout", hideTip);
  return el("div", { class: "fig act" }, holder, el("div", { class: "small muted", text: t("arcs_note", { min: pct(ARC_MIN) }) }));
}

function attnReceipt(l, h, q, k, w, score) {
  const labels = tokenRows();
  if (k > q) return `${t("query")} <code>${esc(labels[q])}</code> (${q}) → ${t("key")} <code>${esc(labels[k])}</code> (${k})<br>${t("masked")}`;
  return `<span class="k">${t("block_n", { l })} · ${t("head")} ${h}</span><br>${t("query")} <code>${esc(labels[q])}</code> (${q}) → ${t("key")} <code>${esc(labels[k])}</code> (${k})<br>${t("weight")} = <code>${fmt(w)}</code> (${pct(w)})<br>${t("score")} = <code>${fmt(score)}</code>`;
}

RENDER.residual = (stage, width) => {
  const b = S.data.block, C = S.data.model.n_embd, T = S.data.T;
  const w = width - 90;
  const max = Math.max(maxAbs(b.resid_pre.data), maxAbs(b.resid_mid.data));
  const inp = b.resid_pre.data, out = b.attn_out.data;
  stage.append(el("div", { class: "stage-grid", style: { flexDirection: "column" } },
    matrixFigure("hook_resid_pre", b.resid_pre, "act", w, null, { dims: [`T=${T}`, `C=${C}`], max, note: t("residual_in") }),
    sign("+"),
    weightFigure("attn.c_proj", w),
    matrixFigure("hook_attn_out", b.attn_out, "act", w, (r, c) => { productReceipt("attn.c_proj", r, c); return `<span class="k">${t("receipt_below")}</span>`; }, { dims: [`T=${T}`, `C=${C}`], max, note: t("attn_out") }),
    productPanel("attn.c_proj"),
    sign("="),
    matrixFigure("hook_resid_mid", b.resid_mid, "act", w, (r, c) => `= ${fmt(inp[r * C + c])} + ${fmt(out[r * C + c])}`, { dims: [`T=${T}`, `C=${C}`], max, note: t("residual_mid") })));
};

RENDER.mlp = (stage, width) => {
  const b = S.data.block, C = S.data.model.n_embd, T = S.data.T, L = S.layer;
  const w = width - 90;
  const made = (product) => (r, c) => { productReceipt(product, r, c); return `<span class="k">${t("receipt_below")}</span>`; };
  const mid = b.resid_mid.data, out = b.mlp_out.data;
  const max = Math.max(maxAbs(mid), maxAbs(b.resid_post.data));
  stage.append(el("div", { class: "stage-grid", style: { flexDirection: "column" } },
    inputOf(matrixFigure("ln2.hook_normalized", b.ln2_normalized, "act", Math.min(w, 600), null, { dims: [`T=${T}`, `C=${C}`], note: t("mlp_in") }), "c_fc", T),
    sign(`↓ × h.${L}.mlp.c_fc.weight [${C}, ${4 * C}] + bias`),
    weightFigure("c_fc", w),
    matrixFigure("mlp.hook_pre", b.mlp_pre, "act", w, made("c_fc"), { dims: [`T=${T}`, `4C=${4 * C}`], note: t("mlp_pre"), className: "mlp-pre" }),
    productPanel("c_fc"),
    sign("↓ GELU"),
    inputOf(matrixFigure("mlp.hook_post", b.mlp_post, "act", w, null, { dims: [`T=${T}`, `4C=${4 * C}`], note: t("mlp_post"), className: "mlp-post" }), "mlp.c_proj", T),
    sign(`↓ × h.${L}.mlp.c_proj.weight [${4 * C}, ${C}] + bias`),
    weightFigure("mlp.c_proj", w),
    matrixFigure("hook_mlp_out", b.mlp_out, "act", Math.min(w, 600), made("mlp.c_proj"), { dims: [`T=${T}`, `C=${C}`], note: t("mlp_out") }),
    productPanel("mlp.c_proj"),
    // the residual add after the MLP: what leaves the block
    sign("+ hook_resid_mid ="),
    matrixFigure("hook_resid_post", b.resid_post, "act", Math.min(w, 600), (r, c) => `= ${fmt(mid[r * C + c])} + ${fmt(out[r * C + c])}`, { dims: [`T=${T}`, `C=${C}`], max, note: t("residual_post") })));
  stage.append(el("h3", { style: { marginTop: "18px" }, text: `${t("gelu_curve")} (${t("position")} ${S.position} ${tokLabel(S.position)})` }),
    geluPlot(row(b.mlp_pre, S.position), row(b.mlp_post, S.position), Math.min(width, 520)));
};

// ---------- how one number is made ----------
const RECEIPT = { key: null, timer: 0 };
/** Asks the server how cell (r, c) of `product` was made, and shows it in its panel. */
function productReceipt(product, r, c) {
  const key = `${S.extra.prompt}|${product}|${S.layer}|${r}|${c}`;
  if (key === RECEIPT.key) return;
  markOperands(product, r, c);
  RECEIPT.key = key;
  clearTimeout(RECEIPT.timer);
  RECEIPT.timer = setTimeout(async () => {
    try {
      const res = await api("/api/product", { ids: S.data.ids, product, layer: S.layer, row: r, col: c, top: 8 });
      if (RECEIPT.key === key) drawReceipt(product, res);
    } catch (e) {
      const panel = document.querySelector(`.product-panel[data-product="${product}"]`);
      if (panel) panel.replaceChildren(el("div", { class: "error-box", text: e.message || String(e) }));
    }
  }, 80);
}
function productPanel(product) {
  return el("div", { class: "product-panel small muted", dataset: { product }, text: t("receipt_hint") });
}

// ---------- the weights beside the activations ----------
/** Weight pictures by product and layer: they do not depend on the prompt. */
const WEIGHTS = new Map();
/**
 * The weight matrix of `product` (in the layer shown), drawn small: each cell the
 * strongest weight of its block. `cuts` marks column ranges on it ([from, to, label]).
 */
function weightFigure(product, width, cuts = []) {
  const holder = el("div", { class: "weight-fig", dataset: { product } }, el("div", { class: "small muted", text: "…" }));
  const key = `${product}|${product === "head" ? 0 : S.layer}`;
  if (!WEIGHTS.has(key)) WEIGHTS.set(key, api("/api/weight", { product, layer: product === "head" ? 0 : S.layer, side: 96 }));
  WEIGHTS.get(key).then((w) => {
    const cw = Math.max(1, Math.min(8, Math.floor(Math.min(width, 560) / w.cols)));
    const ch = Math.max(1, Math.min(8, Math.floor(200 / w.rows)));
    const hm = heatmap({
      rows: w.rows, cols: w.cols, data: w.data, scale: "div", cell: [cw, ch], className: "weight-canvas",
      receipt: (r, c, v) => {
        const rows = w.row_step > 1 ? `${r * w.row_step}–${Math.min(w.shape[0], (r + 1) * w.row_step) - 1}` : `${r}`;
        const cols = w.col_step > 1 ? `${c * w.col_step}–${Math.min(w.shape[1], (c + 1) * w.col_step) - 1}` : `${c}`;
        return `<span class="k">${esc(w.weight)}</span> [${rows}, ${cols}]<br>${w.row_step * w.col_step > 1 ? t("weight_strongest") + " " : ""}<code>${fmt(v)}</code>`;
      },
    });
    const note = w.row_step * w.col_step > 1 ? t("weight_shrunk", { r: w.row_step, c: w.col_step }) : t("weight_whole");
    const fig = figure(w.weight, `[${w.shape[0]}, ${w.shape[1]}]`, "weight", hm.node, note);
    fig.dataset.colStep = String(w.col_step);
    fig.dataset.cols = String(w.cols);
    holder.replaceChildren(fig);
    for (const [from, to, label] of cuts) markBand(fig, "col", from / w.col_step, (to - from) / w.col_step, w.cols, "cut", label);
  }).catch((e) => {
    WEIGHTS.delete(key);
    holder.replaceChildren(el("div", { class: "error-box", text: e.message || String(e) }));
  });
  return holder;
}

/**
 * A band over a drawn matrix: rows (`axis` "row") or columns ("col") from `start`, `span`
 * of them, of `count` in all (fractions allowed: a weight picture's cells stand for blocks).
 */
function markBand(fig, axis, start, span, count, kind = "hl", label = "") {
  const frame = fig?.querySelector(".frame");
  const canvas = frame?.querySelector("canvas");
  if (!canvas) return;
  let band = frame.querySelector(`.band.${kind}.${axis}[data-label="${label}"]`);
  if (!band) { band = el("div", { class: `band ${kind} ${axis}`, dataset: { label }, text: label }); frame.append(band); }
  const size = axis === "row" ? canvas.offsetHeight : canvas.offsetWidth;
  const from = (start / count) * size, extent = Math.max(2, (span / count) * size);
  Object.assign(band.style, axis === "row"
    ? { top: canvas.offsetTop + from + "px", height: extent + "px", left: canvas.offsetLeft + "px", width: canvas.offsetWidth + "px" }
    : { left: canvas.offsetLeft + from + "px", width: extent + "px", top: canvas.offsetTop + "px", height: canvas.offsetHeight + "px" });
  band.dataset.index = String(Math.floor(start));
}

/** What made cell (r, c) of `product`: the input's row r and the weight's column c, lit. */
function markOperands(product, r, c) {
  const input = document.querySelector(`[data-input-of="${product}"]`);
  if (input) markBand(input, "row", r, 1, Number(input.dataset.rows));
  const weight = document.querySelector(`.weight-fig[data-product="${product}"] .fig`);
  if (weight) markBand(weight, "col", Math.floor(c / Number(weight.dataset.colStep)), 1, Number(weight.dataset.cols));
}

/** Marks a figure as the input of `product`, with `rows` rows, for [`markOperands`]. */
function inputOf(fig, product, rows) {
  fig.dataset.inputOf = product;
  fig.dataset.rows = String(rows);
  return fig;
}
function drawReceipt(product, r) {
  const panel = document.querySelector(`.product-panel[data-product="${product}"]`);
  if (!panel) return;
  const [rows, cols] = r.weight_shape;
  panel.className = "product-panel";
  panel.dataset.sum = String(r.sum);
  panel.dataset.value = String(r.value);
  panel.dataset.row = String(r.row);
  panel.dataset.col = String(r.col);
  const line = (i, x, wv, p) => el("tr", { class: "term", dataset: { index: String(i), product: String(p) } },
    el("td", { class: "n", text: `i = ${i}` }),
    el("td", { class: "n", text: fmt(x) }), el("td", { text: "×" }), el("td", { class: "n w", text: fmt(wv) }),
    el("td", { text: "=" }), el("td", { class: "n", text: fmt(p) }));
  const blank = () => [el("td"), el("td"), el("td")];
  panel.replaceChildren(
    el("div", { class: "receipt-title" }, el("code", { text: `${r.output}[${r.row}, ${r.col}]` }), " = Σᵢ ",
      el("code", { text: `${r.input}[${r.row}, i]` }), " × ", el("code", { class: "w", text: `${r.weight}[i, ${r.col}]` }),
      r.bias != null ? " + bias" : "", el("span", { class: "shape", text: `  · ${r.weight} [${rows}, ${cols}]` })),
    el("table", { class: "terms" },
      r.top.map((tm) => line(tm.index, tm.input, tm.weight, tm.product)),
      el("tr", { class: "rest", dataset: { product: String(r.rest) } }, el("td", { class: "n", text: t("other_terms", { n: r.rest_count }) }), ...blank(), el("td", { text: "=" }), el("td", { class: "n", text: fmt(r.rest) })),
      r.bias != null ? el("tr", { class: "bias", dataset: { product: String(r.bias) } }, el("td", { class: "n", text: "bias" }), ...blank(), el("td", { text: "=" }), el("td", { class: "n", text: fmt(r.bias) })) : "",
      el("tr", { class: "total" }, el("td", { class: "n", text: t("sum_word") }), ...blank(), el("td", { text: "=" }), el("td", { class: "n", text: fmt(r.sum) }))),
    el("div", { class: "small muted", text: t("receipt_check", { v: fmt(r.value) }) }));
}

/**
 * GELU's curve over the range the focused position's pre-activations span, with each
 * neuron as a dot (hook_pre, hook_post). Round ticks on both axes; nothing leaves the plot.
 */
function geluPlot(pre, post, W) {
  const H = 220, pad = { l: 44, r: 12, t: 10, b: 34 };
  const gelu = (x) => 0.5 * x * (1 + Math.tanh(0.7978845608 * (x + 0.044715 * x * x * x)));
  const lo = Math.floor(Math.min(-3, ...pre)), hi = Math.ceil(Math.max(3, ...pre));
  // GELU's minimum is about −0.17; the curve's top is GELU(hi) ≈ hi
  const ylo = Math.min(-0.5, ...post), yhi = Math.max(gelu(hi), ...post);
  const xt = roundTicks(lo, hi, 6), yt = roundTicks(ylo, yhi, 4);
  const x0 = Math.min(lo, xt[0]), x1 = Math.max(hi, xt.at(-1)), y0 = Math.min(ylo, yt[0]), y1 = Math.max(yhi, yt.at(-1));
  const sx = (v) => pad.l + ((v - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const sy = (v) => H - pad.b - ((v - y0) / (y1 - y0)) * (H - pad.t - pad.b);
  let path = "";
  for (let i = 0; i <= 160; i++) {
    const x = x0 + ((x1 - x0) * i) / 160;
    path += (i ? "L" : "M") + sx(x).toFixed(1) + " " + sy(gelu(x)).toFixed(1);
  }
  const dots = pre.map((x, i) => `<circle cx="${sx(x).toFixed(1)}" cy="${sy(post[i]).toFixed(1)}" r="2.4" fill="rgba(106,79,208,0.5)"/>`).join("");
  const grid = [
    ...yt.map((v) => `<line class="grid" x1="${pad.l}" x2="${W - pad.r}" y1="${sy(v)}" y2="${sy(v)}"/><text x="${pad.l - 6}" y="${sy(v) + 3}" text-anchor="end">${v}</text>`),
    ...xt.map((v) => `<text x="${sx(v)}" y="${H - pad.b + 14}" text-anchor="middle">${v}</text>`),
  ].join("");
  return el("div", { html: `<svg class="chart" id="gelu-chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${grid}
    <line class="axis" x1="${pad.l}" x2="${W - pad.r}" y1="${sy(0)}" y2="${sy(0)}"/><line class="axis" x1="${sx(0)}" x2="${sx(0)}" y1="${pad.t}" y2="${H - pad.b}"/>
    <path d="${path}" fill="none" stroke="#1d1c22" stroke-width="1.5"/>${dots}
    <text class="axis-title" x="${W - pad.r}" y="${H - 4}" text-anchor="end" translate="no">mlp.hook_pre →</text>
    <text class="axis-title" x="${pad.l + 4}" y="${pad.t + 10}" translate="no">↑ mlp.hook_post = GELU(hook_pre)</text></svg>` });
}

/** Round numbers (1, 2 or 5 × a power of ten apart) covering [lo, hi]. */
function roundTicks(lo, hi, n) {
  const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= raw);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out = [];
  for (let k = Math.floor(lo / step); k * step < hi + step; k++) out.push(Number((k * step).toFixed(decimals)));
  return out;
}

RENDER.stack = (stage, width) => {
  const d = S.data, r = d.residual, T = d.T, L = d.model.n_layer;
  const W = Math.min(width, 760), H = 280, pad = 44;
  const n = r.norms.length;
  const ymax = Math.max(...r.norms.flat()) * 1.08 || 1;
  const sx = (i) => pad + (i / (n - 1 || 1)) * (W - pad - 16);
  const sy = (v) => H - 40 - (v / ymax) * (H - 60);
  const parts = [`<svg class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" id="norm-chart">`];
  for (let g = 0; g <= 4; g++) {
    const v = (ymax * g) / 4;
    parts.push(`<line class="grid" x1="${pad}" x2="${W - 16}" y1="${sy(v)}" y2="${sy(v)}"/><text x="4" y="${sy(v) + 3}">${Number(v.toPrecision(2))}</text>`);
  }
  r.stages.forEach((s, i) => {
    const label = s.kind === "embed" ? t("stack_emb_short") : `${s.layer}${s.kind === "attn" ? "a" : "m"}`;
    parts.push(`<text x="${sx(i) - 6}" y="${H - 24}">${label}</text>`);
  });
  for (let p = 0; p < T; p++) {
    if (p === S.position) continue;
    const pts = r.norms.map((row, i) => `${sx(i).toFixed(1)},${sy(row[p]).toFixed(1)}`).join(" ");
    parts.push(`<polyline points="${pts}" fill="none" stroke="rgba(106,79,208,0.22)" stroke-width="1.3"/>`);
  }
  const pts = r.norms.map((row, i) => `${sx(i).toFixed(1)},${sy(row[S.position]).toFixed(1)}`).join(" ");
  parts.push(`<polyline points="${pts}" fill="none" stroke="#6a4fd0" stroke-width="2.6"/>`);
  r.norms.forEach((row, i) => parts.push(`<circle cx="${sx(i)}" cy="${sy(row[S.position])}" r="3.2" fill="#6a4fd0"/>`));
  parts.push(`<text x="${pad}" y="${H - 6}">${esc(t("stack_axis_key"))}</text></svg>`);
  stage.append(el("h3", { text: t("norms_title") }), el("div", { html: parts.join("") }));
  // what each sublayer adds at the focused position
  const added = r.added.map((a) => [a.attn[S.position], a.mlp[S.position]]);
  const amax = Math.max(...added.flat()) || 1;
  stage.append(el("h3", { style: { marginTop: "16px" }, text: `${t("added_title")} · ${tokLabel(S.position)}` }),
    el("div", { class: "bars" }, added.flatMap(([a, mm], l) => [
      barRow(t("added_attn", { l }), a / amax, fmt(a, 3)), barRow(t("added_mlp", { l }), mm / amax, fmt(mm, 3)),
    ])));
  void L;
};

function barRow(label, frac, val, cls = "", data = {}) {
  return el("div", { class: "bar-row " + cls, dataset: data },
    el("span", { class: "label", text: label }),
    el("span", { class: "track" }, el("span", { class: "fill", style: { width: Math.max(0, Math.min(1, frac)) * 100 + "%" } })),
    el("span", { class: "val", text: val }));
}

RENDER.head = (stage, width) => {
  const d = S.data, lg = d.logits, V = d.model.vocab_size;
  const top = lg.top.slice(0, 16);
  const vals = lg.values;
  let lo = Infinity, hi = -Infinity, sum = 0;
  for (const v of vals) { lo = Math.min(lo, v); hi = Math.max(hi, v); sum += v; }
  const amax = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  stage.append(el("h3", { text: `${t("logits_title")} · ${t("position")} ${lg.position} ${tokLabel(lg.position)}` }),
    el("div", { class: "kv" },
      el("div", {}, t("kv_max") + " ", el("b", { text: fmt(hi, 3) })), el("div", {}, t("kv_min") + " ", el("b", { text: fmt(lo, 3) })),
      el("div", {}, t("kv_mean") + " ", el("b", { text: fmt(sum / V, 3) })), el("div", {}, t("kv_shape") + " ", el("b", { text: `[T=${d.T}, V=${V}]` }))));
  const bars = el("div", { class: "bars signed", id: "logit-bars" });
  for (const id of top) {
    const v = vals[id];
    const f = Math.abs(v) / amax / 2;
    const fill = el("span", { class: "fill " + (v < 0 ? "neg" : "pos"), style: v < 0 ? { right: "50%", width: f * 100 + "%" } : { left: "50%", width: f * 100 + "%" } });
    const r = el("div", { class: "bar-row" }, el("span", { class: "label", text: vocabText(id) }),
      el("span", { class: "track" }, el("span", { class: "zero", style: { left: "50%" } }), fill), el("span", { class: "val", text: fmt(v, 3) }));
    hover(r, () => { productReceipt("head", lg.position, id); return tokenReceipt(d.vocab[String(id)]) + `<br>logit = <code>${fmt(v)}</code><br><span class="k">${t("receipt_below")}</span>`; });
    bars.append(r);
  }
  stage.append(bars);
  const hm = heatmap({ rows: 1, cols: V, data: vals, width: Math.min(width, 760), cell: [Math.max(0.05, Math.min(12, Math.min(width, 760) / V)), 26],
    receipt: (r, c, v) => { productReceipt("head", lg.position, c); return `id ${c} <code>${esc(vocabText(c))}</code><br>logit = <code>${fmt(v)}</code><br><span class="k">${t("receipt_below")}</span>`; } });
  stage.append(el("div", { style: { marginTop: "16px" } }, figure("logits", `[V=${V}]`, "act", hm.node, t("logits_all", { V }))),
    el("p", { class: "small muted", text: t("head_tied", { C: S.data.model.n_embd, V }) }),
    weightFigure("head", width),
    productPanel("head"));
};

// ---------- softmax & sampling (recomputed here from the real logits) ----------
function softmax(logits, temperature) {
  const n = logits.length;
  const out = new Float64Array(n);
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
    out[best] = 1;
    return out;
  }
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (let i = 0; i < n; i++) { out[i] = Math.exp((logits[i] - max) / temperature); sum += out[i]; }
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}
/** The distribution the sampler draws from: softmax(z/T), cut by top-k and top-p, renormalized. */
function distribution(logits, temperature, topK, topP) {
  const probs = softmax(logits, temperature);
  // ranked by logit (the same order as any τ > 0 gives; at τ = 0 the runners-up stay in order)
  const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a] || a - b);
  let keep = order.length;
  if (topK > 0) keep = Math.min(keep, topK);
  if (topP < 1) {
    let c = 0;
    for (let i = 0; i < keep; i++) { c += probs[order[i]]; if (c >= topP) { keep = i + 1; break; } }
  }
  if (temperature === 0) keep = 1;
  let total = 0;
  for (let i = 0; i < keep; i++) total += probs[order[i]];
  const q = new Float64Array(logits.length);
  for (let i = 0; i < keep; i++) q[order[i]] = probs[order[i]] / total;
  return { probs, order, keep, q };
}

function samplingControls() {
  const tVal = el("span", { class: "mono", id: "temp-value", text: S.temperature.toFixed(2) });
  const pVal = el("span", { class: "mono", id: "topp-value", text: S.topP.toFixed(2) });
  const update = () => { tVal.textContent = S.temperature.toFixed(2); pVal.textContent = S.topP.toFixed(2); S.sampled = null; drawSoftmax(); };
  return [
    el("label", { class: "field" }, el("span", {}, t("temperature"), " τ ", tVal),
      el("input", { type: "range", id: "temperature", min: "0", max: "2", step: "0.05", value: String(S.temperature),
        oninput: (e) => { S.temperature = Number(e.target.value); update(); } })),
    el("label", { class: "field" }, `${t("top_k")} (0 = ${t("off")})`,
      el("input", { type: "number", id: "top-k", min: "0", max: String(S.data.model.vocab_size), step: "1", value: String(S.topK),
        oninput: (e) => { S.topK = Math.max(0, Math.floor(Number(e.target.value) || 0)); update(); } })),
    el("label", { class: "field" }, el("span", {}, t("top_p"), " ", pVal),
      el("input", { type: "range", id: "top-p", min: "0.05", max: "1", step: "0.05", value: String(S.topP),
        oninput: (e) => { S.topP = Number(e.target.value); update(); } })),
    el("button", { class: "btn", type: "button", id: "sample", onclick: () => {
      const { q, order, keep } = distribution(S.data.logits.values, S.temperature, S.topK, S.topP);
      let r = Math.random(), pick = order[0];
      for (let i = 0; i < keep; i++) { r -= q[order[i]]; if (r < 0) { pick = order[i]; break; } }
      S.sampled = pick;
      drawSoftmax();
    } }, t("sample")),
  ];
}

const SHOWN = 10;
/** A bar row of the softmax chapter: the raw probability and the sampled one, each a bar. */
function probRow(label, raw, q, maxRaw, maxQ, cls, data) {
  const bar = (v, max, kind) => el("span", { class: `track ${kind}` }, el("span", { class: "fill", style: { width: Math.max(0, Math.min(1, v / (max || 1))) * 100 + "%" } }));
  return el("div", { class: "bar-row two " + cls, dataset: data },
    el("span", { class: "label", text: label }),
    bar(raw, maxRaw, "raw"), el("span", { class: "val raw", text: pct(raw) }),
    bar(q, maxQ, "q"), el("span", { class: "val", text: pct(q) }));
}

function drawSoftmax() {
  const box = $("#softmax-bars");
  if (!box) return;
  const lg = S.data.logits;
  const { q, order, keep } = distribution(lg.values, S.temperature, S.topK, S.topP);
  const raw = softmax(lg.values, 1);
  const shown = Math.min(SHOWN, keep);
  // bars scaled among the tokens shown, each column against its own largest
  const maxRaw = Math.max(...order.slice(0, shown + 3).map((id) => raw[id]));
  const maxQ = q[order[0]];
  const head = el("div", { class: "bar-row two head" }, el("span"), el("span", { class: "small muted", text: t("p_raw") }), el("span"),
    el("span", { class: "small muted", text: t("p_sampled") }), el("span"));
  const rows = [head];
  let shownSum = 0;
  for (let i = 0; i < shown; i++) {
    const id = order[i];
    shownSum += q[id];
    const r = probRow(vocabText(id), raw[id], q[id], maxRaw, maxQ, id === S.sampled ? "picked" : "", { p: String(q[id]), raw: String(raw[id]), id: String(id) });
    hover(r, () => tokenReceipt(S.data.vocab[String(id)]) + `<br>logit ${fmt(lg.values[id], 3)} → softmax <code>${fmt(raw[id], 5)}</code> → p = <code>${fmt(q[id], 5)}</code>`);
    rows.push(r);
  }
  // the runners-up that τ, top-k or top-p removed, at 0
  for (let i = keep; i < Math.min(keep + 3, order.length, SHOWN + 3); i++) {
    const id = order[i];
    rows.push(probRow(vocabText(id), raw[id], 0, maxRaw, maxQ, "cut", { p: "0", raw: String(raw[id]), id: String(id) }));
  }
  if (keep > shown) {
    let rest = 0, restRaw = 0;
    for (let i = shown; i < keep; i++) { rest += q[order[i]]; restRaw += raw[order[i]]; }
    shownSum += rest;
    const r = probRow(t("others", { n: keep - shown }), restRaw, rest, maxRaw, maxQ, "others", { p: String(rest) });
    rows.push(r);
  }
  box.replaceChildren(...rows);
  const note = $("#softmax-sum");
  note.textContent = t("sum_shown", { s: shownSum.toFixed(4) }) + (S.temperature === 0 ? " · " + t("greedy") : "");
  note.dataset.sum = String(shownSum);
  const picked = $("#sampled");
  picked.replaceChildren();
  if (S.sampled != null) picked.append(t("sampled", { tok: vocabText(S.sampled) }), " ", appendButton(S.sampled));
  document.body.dataset.softmaxDraws = String(Number(document.body.dataset.softmaxDraws || 0) + 1);
}

/** The autoregressive loop: the sampled token appended, and the same pass run again. */
function appendButton(id) {
  const limit = S.data.model.max_walkthrough_tokens;
  if (S.data.T >= limit) return el("div", { class: "small muted", id: "append-full", text: t("append_full", { n: limit }) });
  return el("button", { class: "btn primary", type: "button", id: "append-run", onclick: () => {
    S.ids = [...S.data.ids, id];
    S.appended = (S.appended || 0) + 1;
    S.position = null;
    S.sampled = null;
    load();
  } }, t("append_run", { tok: vocabText(id) }));
}

RENDER.softmax = (stage) => {
  const lg = S.data.logits;
  stage.append(el("h3", { text: `softmax(logits / τ) · ${t("position")} ${lg.position} ${tokLabel(lg.position)}` }),
    el("div", { class: "bars", id: "softmax-bars" }),
    el("div", { class: "status", id: "softmax-sum" }),
    el("div", { class: "answer", id: "sampled" }),
    el("p", { class: "small muted", id: "loop-note", text: t("loop_note", { k: S.appended || 0 }) }));
  drawSoftmax();
};

RENDER.lens = (stage) => {
  const d = S.data, lens = d.lens, T = d.T;
  const table = el("table", { class: "lens", id: "lens-table" });
  table.append(el("tr", {}, el("th"), d.tokens.map((tok, i) =>
    el("th", { class: i === S.position ? "focus" : "", text: `${i} ${tokenText(tok)}`, onclick: () => setFocus(i) }))));
  lens.cells.forEach((cells, depth) => {
    const label = depth === 0 ? t("lens_depth_embed") : t("lens_depth_block", { l: depth - 1 });
    table.append(el("tr", {}, el("th", { style: { textAlign: "right" }, text: label }), cells.map((cell, pos) => {
      const top = cell.top[0];
      const bg = seqColor(top.prob);
      const hit = pos + 1 < T && top.id === d.ids[pos + 1];
      const td = el("td", { class: (hit ? "hit" : "") + (pos === S.position ? " focus" : ""), style: { background: css(bg), color: inkFor(bg) }, text: vocabText(top.id) });
      hover(td, () => `<span class="k">${esc(lens.layers[depth])} · ${t("position")} ${pos}</span><br>` +
        cell.top.map((tp) => `<code>${esc(vocabText(tp.id))}</code> ${pct(tp.prob)}`).join("<br>") +
        `<br><span class="k">${t("lens_rank")}:</span> ${cell.final_token_rank} · KL ${fmt(cell.kl_to_final, 3)}` +
        (pos + 1 < T ? `<br><span class="k">${t("lens_next")}:</span> <code>${esc(tokLabel(pos + 1))}</code>` : ""));
      return td;
    })));
  });
  const wrap = el("div", { style: { overflowX: "auto" }, id: "lens-wrap" }, table);
  stage.append(el("h3", { text: t("lens_title") }), wrap);
  // the focused column in view, however long the prompt
  const focusHead = table.querySelector("th.focus");
  if (focusHead) wrap.scrollLeft = Math.max(0, focusHead.offsetLeft - wrap.clientWidth / 2);
};

// ---------- start ----------
async function main() {
  const model = await setupPage("/");
  const params = new URLSearchParams(location.search);
  S.prompt = params.get("prompt") || (model && model.default_prompt) || "Hello";
  if (params.has("layer")) S.layer = Number(params.get("layer")) || 0;
  const hash = location.hash.slice(1);
  const start = CH.findIndex((c) => c.id === hash);
  S.chapter = start >= 0 ? start : 0;
  const input = $("#prompt");
  input.value = S.prompt;
  $("#prompt-form").addEventListener("submit", (e) => {
    e.preventDefault();
    S.prompt = input.value;
    S.ids = null; // typed text again: the loop starts over
    S.appended = 0;
    S.position = null;
    const u = new URL(location.href);
    u.searchParams.set("prompt", S.prompt);
    history.replaceState(null, "", u);
    load();
  });
  $("#prev").addEventListener("click", () => go(S.chapter - 1));
  $("#next").addEventListener("click", () => go(S.chapter + 1));
  document.addEventListener("keydown", (e) => {
    const tag = (e.target && e.target.tagName) || "";
    if (["INPUT", "TEXTAREA", "SELECT"].includes(tag) || e.metaKey || e.ctrlKey || e.altKey) return;
    if (e.key === "ArrowRight" || e.key === "PageDown") { e.preventDefault(); go(S.chapter + 1); }
    if (e.key === "ArrowLeft" || e.key === "PageUp") { e.preventDefault(); go(S.chapter - 1); }
  });
  onLang(() => { applyStatic(); render(); });
  let resizeTimer = 0;
  addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(render, 150); });
  await load();
}
main();
