// Shared by every page: language, header and legend, API calls, colours, heatmaps with
// hover receipts, token chips. No dependencies; nothing is loaded from outside.
import { STRINGS } from "./i18n.js";

// ---------- language ----------
const LANG_KEY = "glassbox.lang";
export let lang = (() => {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved === "en" || saved === "zh") return saved;
  } catch (_) { /* storage may be off */ }
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
})();
const langListeners = [];
export function onLang(fn) { langListeners.push(fn); }
export function setLang(next) {
  if (next === lang) return;
  lang = next;
  try { localStorage.setItem(LANG_KEY, next); } catch (_) { /* ignore */ }
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
  applyStatic();
  langListeners.forEach((fn) => fn(next));
}
/** The string `key` in the current language, with {name} filled from `vars`. */
export function t(key, vars) {
  const table = STRINGS[lang] || STRINGS.en;
  let s = key in table ? table[key] : (STRINGS.en[key] ?? key);
  if (typeof s === "function") return s(vars || {});
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}
/** Fills every [data-i18n] element (text) and [data-i18n-ph] (placeholder). */
export function applyStatic(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
  root.querySelectorAll("[data-i18n-html]").forEach((n) => { n.innerHTML = t(n.dataset.i18nHtml); });
  root.querySelectorAll("[data-i18n-ph]").forEach((n) => { n.placeholder = t(n.dataset.i18nPh); });
  root.querySelectorAll("[data-i18n-title]").forEach((n) => { n.title = t(n.dataset.i18nTitle); });
  document.querySelectorAll(".lang button").forEach((b) => b.classList.toggle("on", b.dataset.lang === lang));
}

// ---------- DOM ----------
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "html") node.innerHTML = v;
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "style" && typeof v === "object") Object.assign(node.style, v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
export const $ = (sel, root = document) => root.querySelector(sel);
export function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

// ---------- numbers ----------
export function fmt(v, digits = 4) {
  if (v == null || Number.isNaN(v)) return "−∞";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2).replace("-", "−");
  return v.toFixed(digits).replace("-", "−");
}
export function pct(p) {
  if (p >= 0.995) return (p * 100).toFixed(1) + "%";
  if (p >= 0.0995) return (p * 100).toFixed(1) + "%";
  if (p >= 0.001) return (p * 100).toFixed(2) + "%";
  // small ones in plain decimals, never exponent notation: 0.0012%
  if (p > 0) return (p * 100).toFixed(Math.min(8, Math.ceil(-Math.log10(p * 100)) + 1)) + "%";
  return "0%";
}
export function count(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + "B";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "K";
  return String(n);
}
export function maxAbs(data) {
  let m = 0;
  for (const v of data) if (v != null && Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
  return m || 1;
}

// ---------- colour code ----------
// signed values: blue (−) · paper (0) · red (+);  probabilities: paper → violet
const PAPER = [247, 245, 240];
const NEG = [47, 109, 181];
const POS = [200, 68, 59];
const ACT = [106, 79, 208];
const MASKED = [226, 223, 216];
const mix = (a, b, t) => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
export function divColor(v, max) {
  if (v == null || !Number.isFinite(v)) return MASKED;
  const t = Math.max(-1, Math.min(1, v / max));
  const s = Math.pow(Math.abs(t), 0.75);
  return t < 0 ? mix(PAPER, NEG, s) : mix(PAPER, POS, s);
}
export function seqColor(v, max = 1) {
  if (v == null || !Number.isFinite(v)) return MASKED;
  const t = Math.max(0, Math.min(1, v / max));
  return mix(PAPER, ACT, Math.pow(t, 0.6));
}
export const css = (rgb) => `rgb(${rgb[0] | 0},${rgb[1] | 0},${rgb[2] | 0})`;
export function inkFor(rgb) {
  return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 150 ? "#fff" : "#1d1c22";
}

// ---------- tokens ----------
/** A token's text for display: spaces, newlines and tabs made visible. */
export function visible(s) {
  return s.replace(/ /g, "␣").replace(/\n/g, "↵").replace(/\t/g, "⇥").replace(/\r/g, "␍");
}
/** One line for a token view: its text, or for part of a character, its bytes. */
export function tokenText(view) {
  if (!view) return "?";
  if (view.bare) return view.text;
  const parts = view.parts || [];
  if (!parts.length) return "∅";
  return parts
    .map((p) => ("text" in p ? visible(p.text) : "part_of" in p ? `‹${view.hex}›` : `‹${p.invalid.toString(16).padStart(2, "0")}›`))
    .join("");
}
/** The receipt of a token: id, bytes, and which character a partial token helps form. */
export function tokenReceipt(view) {
  if (!view) return "";
  const lines = [`<span class="k">${t("token")}</span> <code>${esc(tokenText(view))}</code> · <span class="k">id</span> ${view.id}`];
  if (view.hex) lines.push(`<span class="k">${t("bytes")}</span> <code>${view.hex}</code>`);
  for (const p of view.parts || []) {
    const s = partText(p);
    if (s) lines.push(esc(s));
  }
  return lines.join("<br>");
}
/** What a piece of a token is, when it is not whole characters. */
export function partText(p) {
  if ("part_of" in p) {
    if (p.part_of == null) return t("partial_char");
    if (p.first == null) return t("part_of_short", { ch: p.part_of });
    return t("part_of", { ch: p.part_of, a: p.first + 1, b: p.first + p.len, n: p.of });
  }
  if ("invalid" in p) return t("invalid_byte", { b: p.invalid.toString(16).padStart(2, "0") });
  return "";
}
/** A token chip: text above, id below. */
export function tokenChip(view, opts = {}) {
  const partial = view && !view.whole;
  // a token holding part of a character names that character under its bytes
  const ch = ((view && view.parts) || []).map((p) => p.part_of).find((c) => c);
  const chip = el("span", { class: "tok" + (partial ? " partial" : "") + (opts.focus ? " focus" : "") },
    el("span", { class: "txt", text: tokenText(view) }),
    el("span", { class: "id", text: opts.sub ?? (ch ? `${view.id} · ${ch}` : String(view.id)) }));
  hover(chip, () => tokenReceipt(view) + (opts.extra ? "<br>" + opts.extra : ""));
  if (opts.onclick) chip.addEventListener("click", opts.onclick);
  return chip;
}

// ---------- the tooltip ("receipt") ----------
let tipNode = null;
function tip() {
  if (!tipNode) {
    tipNode = el("div", { id: "tip", role: "tooltip" });
    document.body.append(tipNode);
  }
  return tipNode;
}
export function showTip(html, x, y) {
  const n = tip();
  n.innerHTML = html;
  n.classList.add("on");
  const w = n.offsetWidth, h = n.offsetHeight;
  const left = x + 14 + w > innerWidth ? Math.max(4, x - w - 14) : x + 14;
  const top = y + 14 + h > innerHeight ? Math.max(4, y - h - 10) : y + 14;
  n.style.left = left + "px";
  n.style.top = top + "px";
}
export function hideTip() { if (tipNode) tipNode.classList.remove("on"); }
/** Shows `html()` when the pointer is over `node`. */
export function hover(node, html) {
  const show = (e) => { const s = html(e); if (s) showTip(s, e.clientX, e.clientY); else hideTip(); };
  node.addEventListener("pointermove", show);
  // a tap on a touch screen moves no pointer: it shows the same value
  node.addEventListener("pointerdown", (e) => { if (e.pointerType !== "mouse") show(e); });
  node.addEventListener("pointerleave", hideTip);
}

// ---------- heatmaps ----------
/**
 * A matrix drawn on a canvas, one pixel per value, scaled up crisply.
 * opts: rows, cols, data (row-major), scale: "div" | "seq", max, cell (px, or [w, h]),
 * width (fit to this many px), receipt(r, c, v) → html, onclick(r, c), rowLabels, colLabels,
 * focusRow, kind.
 */
export function heatmap(opts) {
  const { rows, cols, data } = opts;
  const canvas = el("canvas", { class: "hm" + (opts.className ? " " + opts.className : "") });
  canvas.width = cols;
  canvas.height = rows;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(cols, rows);
  const max = opts.max ?? (opts.scale === "seq" ? 1 : maxAbs(data));
  for (let i = 0; i < rows * cols; i++) {
    const v = data[i];
    const rgb = opts.scale === "seq" ? seqColor(v, max) : divColor(v, max);
    img.data[i * 4] = rgb[0];
    img.data[i * 4 + 1] = rgb[1];
    img.data[i * 4 + 2] = rgb[2];
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  let cw, ch;
  if (Array.isArray(opts.cell)) [cw, ch] = opts.cell;
  else if (opts.cell) cw = ch = opts.cell;
  else {
    cw = Math.max(1, Math.min(18, (opts.width || 320) / cols));
    ch = Math.max(opts.minRowHeight || 8, Math.min(22, cw));
  }
  canvas.style.width = Math.round(cw * cols) + "px";
  canvas.style.height = Math.round(ch * rows) + "px";
  canvas.dataset.max = String(max);
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    const c = Math.floor(((e.clientX - r.left) / r.width) * cols);
    const rr = Math.floor(((e.clientY - r.top) / r.height) * rows);
    return c >= 0 && c < cols && rr >= 0 && rr < rows ? [rr, c] : null;
  };
  hover(canvas, (e) => {
    const p = at(e);
    if (!p) return "";
    const v = data[p[0] * cols + p[1]];
    return opts.receipt ? opts.receipt(p[0], p[1], v) : `[${p[0]}, ${p[1]}] = <code>${fmt(v)}</code>`;
  });
  if (opts.onclick) canvas.addEventListener("click", (e) => { const p = at(e); if (p) opts.onclick(p[0], p[1]); });
  // from the keyboard: Tab to the matrix, arrows move a cursor cell, its value shows as on
  // hover (at the cell, as if the pointer were there); Enter clicks it
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${rows} × ${cols}`);
  const cursor = [0, 0];
  canvas.addEventListener("keydown", (e) => {
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (e.key === "Enter" && opts.onclick) { e.preventDefault(); opts.onclick(cursor[0], cursor[1]); return; }
    if (!moves[e.key]) return;
    // the arrows are the matrix's here, not the page's (the walkthrough turns chapters on ← →)
    e.preventDefault();
    e.stopPropagation();
    const step = e.shiftKey ? 10 : 1;
    cursor[0] = Math.max(0, Math.min(rows - 1, cursor[0] + moves[e.key][0] * step));
    cursor[1] = Math.max(0, Math.min(cols - 1, cursor[1] + moves[e.key][1] * step));
    const r = canvas.getBoundingClientRect();
    const x = r.left + ((cursor[1] + 0.5) / cols) * r.width, y = r.top + ((cursor[0] + 0.5) / rows) * r.height;
    canvas.dispatchEvent(new PointerEvent("pointermove", { clientX: x, clientY: y, bubbles: true }));
  });
  canvas.addEventListener("blur", hideTip);
  const frame = el("div", { class: "frame" }, canvas);
  // the columns' labels under the matrix (an attention pattern's keys), as thin as its
  // cells; where cells are too narrow for every label, every k-th one
  let body = frame;
  if (opts.colLabels) {
    const every = cw < 10 ? Math.ceil(10 / cw) : 1;
    const keys = el("div", { class: "keylabels", translate: "no" },
      opts.colLabels.map((s, i) => el("span", { style: { width: cw + "px" }, text: i % every ? "" : s })));
    body = el("div", { class: "hm-col" }, frame, keys);
  }
  if (!opts.rowLabels) return { node: body, canvas };
  const labels = el("div", { class: "rowlabels", style: { height: Math.round(ch * rows) + 4 + "px" } },
    opts.rowLabels.map((s, i) => el("span", { class: i === opts.focusRow ? "focus" : "", style: { height: ch + "px" }, text: s })));
  // rows too thin for every label: every k-th labelled, the rest left blank
  if (ch < 9) {
    const every = Math.ceil(10 / ch);
    labels.querySelectorAll("span").forEach((span, i) => {
      if (i % every && i !== opts.focusRow) span.textContent = "";
      span.style.fontSize = "9px";
      span.style.lineHeight = ch + "px";
      span.style.overflow = "visible";
    });
  }
  return { node: el("div", { class: "fig-body" }, labels, body), canvas };
}

/** A titled figure: hook name, shape, and whether it holds weights or activations. */
export function figure(name, shape, kind, body, note) {
  return el("div", { class: "fig " + (kind === "weight" ? "weight" : "act") },
    el("div", { class: "fig-head" },
      el("span", { class: "name", text: name }),
      shape ? el("span", { class: "shape", text: shape }) : null,
      el("span", { class: "badge " + (kind === "weight" ? "weight" : "act"), text: t(kind === "weight" ? "weights" : "activations") }),
      note ? el("span", { class: "muted small", text: note }) : null),
    body);
}

// ---------- API ----------
export async function api(path, body, opts = {}) {
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: opts.signal,
  });
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const error = (data && data.error) || {};
    const detail = error.message || `${res.status} ${res.statusText}`;
    // the server explains in English; the page says in its own language what happened
    // (by status and field), then gives the server's sentence, which names the culprit
    const key = res.status === 429 ? "err_busy" : res.status === 413 ? "err_too_large" : res.status >= 500 ? "err_server" : res.status === 404 ? "err_not_found" : "err_refused";
    const lead = lang === "en" ? "" : t(key, { param: error.param || "" }) + (error.param && key === "err_refused" ? t("err_param", { param: error.param }) : "") + "：";
    const e = new Error(lead + detail);
    Object.assign(e, { status: res.status, code: error.code, param: error.param, detail });
    throw e;
  }
  return data;
}
/** POSTs and reads server-sent events, calling onEvent(name, data) for each. */
export async function stream(path, body, onEvent, signal) {
  const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal });
  if (!res.ok) {
    let msg = `${res.status}`;
    try { msg = (await res.json()).error.message; } catch (_) { /* keep */ }
    throw new Error(msg);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
      }
      if (data) onEvent(name, data === "[DONE]" ? data : JSON.parse(data));
    }
  }
}

// ---------- header & legend ----------
const PAGES = [
  ["/", "nav_walkthrough"],
  ["/playground", "nav_playground"],
  ["/space", "nav_space"],
  ["/training", "nav_training"],
  ["/why", "nav_why"],
  ["/knowledge", "nav_knowledge"],
  ["/api-docs", "nav_api"],
];
const LOGO = `<svg viewBox="0 0 24 24" fill="none" aria-hidden="true"><rect x="2.5" y="2.5" width="19" height="19" rx="5" stroke="#1d1c22" stroke-width="2"/><rect x="6" y="6" width="4" height="4" rx="1" fill="#c77a12"/><rect x="14" y="6" width="4" height="4" rx="1" fill="#6a4fd0"/><rect x="6" y="14" width="4" height="4" rx="1" fill="#6a4fd0"/><rect x="14" y="14" width="4" height="4" rx="1" fill="#c8443b"/></svg>`;
export let model = null;
/** Builds the header (nav, model, language switch) and the legend; loads /api/model. */
export async function setupPage(active, opts = {}) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  const nav = el("nav", { class: "nav" }, PAGES.map(([href, key]) =>
    el("a", { href, class: href === active ? "on" : "", dataset: { i18n: key } })));
  const chip = el("div", { class: "model-chip", id: "model-chip" });
  const switcher = el("div", { class: "lang", role: "group", "aria-label": "language" },
    el("button", { dataset: { lang: "en" }, id: "lang-en", onclick: () => setLang("en") }, "EN"),
    el("button", { dataset: { lang: "zh" }, id: "lang-zh", onclick: () => setLang("zh") }, "中文"));
  const header = el("header", { class: "top" },
    el("a", { class: "brand", href: "/", html: LOGO + "<span>glassbox</span>" }), nav, el("div", { class: "spacer" }), chip, switcher);
  document.body.prepend(header);
  // the legend lists only the keys that apply on this page (`opts.legend`: which, or false)
  const keys = opts.legend === false ? [] : opts.legend || ["weights", "acts", "signed", "prob"];
  const entries = {
    weights: () => el("span", {}, el("span", { class: "sw", style: { background: "var(--weight)" } }), el("span", { class: "long", dataset: { i18n: "legend_weights" } }), el("span", { class: "short", dataset: { i18n: "weights" } })),
    acts: () => el("span", {}, el("span", { class: "sw", style: { background: "var(--act)" } }), el("span", { dataset: { i18n: "legend_acts" } })),
    signed: () => el("span", {}, "−", el("span", { class: "bar div-bar" }), "+ ", el("span", { class: "long", dataset: { i18n: "legend_signed" } })),
    prob: () => el("span", {}, "0", el("span", { class: "bar seq-bar" }), "1 ", el("span", { class: "long", dataset: { i18n: "legend_prob" } }), el("span", { class: "short", dataset: { i18n: "legend_prob_short" } })),
  };
  if (keys.length) {
    // it floats over the page: a click folds it to one small button (remembered), so it
    // never has to cover what a learner is reading
    const legend = el("div", { class: "legend", id: "legend" }, keys.map((k) => entries[k]()));
    const fold = (folded) => {
      legend.classList.toggle("folded", folded);
      toggle.textContent = folded ? "?" : "×";
      toggle.setAttribute("aria-expanded", folded ? "false" : "true");
      try { localStorage.setItem("glassbox.legend", folded ? "folded" : "open"); } catch (_) { /* private mode */ }
    };
    const toggle = el("button", { type: "button", class: "legend-toggle", dataset: { i18nTitle: "legend_toggle" }, onclick: () => fold(!legend.classList.contains("folded")) });
    legend.append(toggle);
    document.body.append(legend);
    let stored = null;
    try { stored = localStorage.getItem("glassbox.legend"); } catch (_) { /* private mode */ }
    fold(stored === "folded");
  }
  applyStatic();
  try {
    model = await api("/api/model");
    const fill = () => {
      chip.innerHTML = `<b translate="no">${esc(model.name)}</b> · ${t("chip_shape", { L: model.n_layer, H: model.n_head, C: model.n_embd, V: model.vocab_size, T: model.n_ctx })} · ${count(model.params.total)} ${t("params_word")}`;
      chip.title = chip.textContent; // all of it, where the header has room for only a part
    };
    fill();
    onLang(fill);
  } catch (e) {
    chip.textContent = String(e.message || e);
  }
  return model;
}

// ---------- line charts (the training curves, the comparison) ----------
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

/** A line chart (SVG in a div) of `lines` [{label, color, points: [[x, y]…], dots?, dash?}],
 *  with round ticks, optional log y, axis titles and a tooltip reading the nearest points. */
export function lineChart(id, W, H, lines, opts = {}) {
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
    out.push(`<text x="${x}" y="${H - pad.b + 14}" text-anchor="${anchor}">${opts.xTick ? opts.xTick(xv) : xv}</text>`);
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
      return `<span class="k">${esc(l.label)}</span> ${opts.xName ?? t("tr_step")} ${opts.xFormat ? opts.xFormat(best[0]) : best[0]}: <code>${opts.percent ? pct(best[1]) : fmt(best[1], 4)}</code>`;
    }).filter(Boolean);
    showTip(lines2.join("<br>"), e.clientX, e.clientY);
  });
  rect.addEventListener("pointerleave", hideTip);
  return holder;
}

