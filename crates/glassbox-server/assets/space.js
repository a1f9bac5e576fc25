// The semantic space: a PCA map of token embeddings, nearest neighbours, analogies, and
// one word's drift through the layers (/api/space/*). Where the vocabulary holds enough of
// the built-in category words (/api/space/categories), the default map is those words,
// coloured by category, with cluster purity and nearest-word agreement beside chance.
import { $, api, applyStatic, el, esc, fmt, heatmap, onLang, pct, setupPage, showTip, hideTip, t, tokenReceipt, tokenText } from "./common.js";

const SERIES = ["#6a4fd0", "#c8443b", "#2f6db5", "#2f8a5b", "#c77a12", "#8a3fa0", "#3a8f9c", "#7a6a2f"];
const S = { map: null, nb: null, an: null, dr: null, cat: null };
window.glassbox = { state: S };

// `cat`: the answer of /api/space/categories; when it covers enough words (a Shakespeare
// vocabulary), the category words and Shakespeare's own examples. A character or task
// model's defaults come from its own vocabulary (`model.vocabulary`), so every default
// word exists and every default sentence fits its context.
function defaults(model, cat) {
  if (cat && cat.covered) {
    return { words: categoryWords(cat), nb: "king", an: ["king", "man", "woman"], dr: "grave",
      sentences: "a grave and serious man\ndig a grave\na most grave and reverend lord" };
  }
  const kind = model ? model.tokenizer.kind : "ids";
  if (kind === "bpe" && !(model.vocabulary)) {
    return { words: "king queen man woman boy girl prince princess Paris London France England cat dog horse apple banana red blue green one two three Monday Friday",
      nb: "king", an: ["king", "man", "woman"], dr: "bank",
      sentences: "I sat on the bank of the river\nShe deposited the money at the bank\nThe bank raised its interest rates" };
  }
  if (model && model.vocabulary) return smallVocabularyDefaults(model);
  const ids = [...Array(Math.min(8, model ? model.vocab_size : 8)).keys()].map((i) => `#${i}`);
  return { words: ids.join(" "), nb: ids[1] || ids[0], an: ids.length >= 4 ? ids.slice(1, 4) : null, dr: "", sentences: "" };
}

function smallVocabularyDefaults(model) {
  // single visible characters (a space or newline cannot be typed as a word)
  const visible = model.vocabulary.filter((s) => s && [...s].length === 1 && s.trim() === s);
  const preferred = "a e i o u b c d f g s t A E I O U B C D . , ! ? :".split(" ").filter((c) => visible.includes(c));
  const words = (preferred.length >= 8 ? preferred : visible).slice(0, 40);
  const fits = (text) => [...text].every((c) => model.vocabulary.includes(c)) && [...text].length <= model.n_ctx;
  let dr = "", sentences = [];
  const task = model.task;
  if (task) {
    // the example problem, the problem with its answer, and the problem backwards
    sentences = [task.prompt, model.default_prompt, [...task.prompt].reverse().join("")];
    dr = [...task.prompt].find((c) => sentences.every((s) => s.includes(c))) || "";
  } else {
    const shakespeare = ["To be or not", "Good morrow", "O Romeo"];
    if (shakespeare.every(fits)) { sentences = shakespeare; dr = "o"; }
    else if (fits(model.default_prompt)) {
      const p = model.default_prompt;
      sentences = [p, [...p].reverse().join("")];
      dr = [...p].find((c) => c.trim() === c) || "";
    }
  }
  // an analogy needs an answer besides its three words: four tokens at least
  return { words: words.join(" "), nb: words[0] || "", an: words.length >= 4 ? words.slice(0, 3) : null,
    dr, sentences: dr ? sentences.join("\n") : "" };
}

/** A point's label beside it, on its left where the right would run past the chart. */
function labelAt(x, y, label, W, style = "") {
  const chars = label.replace(/&[a-z]+;/g, "x").length;
  const left = x + 8 + chars * 7.5 > W - 4;
  const at = left ? x - 8 : x + 8;
  return `<text x="${at.toFixed(1)}" y="${y.toFixed(1)}"${left ? ' text-anchor="end"' : ""}${style ? ` style="${style}"` : ""}>${label}</text>`;
}

function categoryWords(cat) { return cat.points.map((p) => p.word).join(" "); }
// a category's name in the current language (the built-in ones are translated)
function categoryName(name) { const key = `sp_cat_${name}`; const s = t(key); return s === key ? name : s; }

function errorBox(e) { return el("div", { class: "error-box", text: e.message || String(e) }); }

// ---------- map ----------
function scatter(points, W, H, opts = {}) {
  const pad = 28;
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (v) => pad + ((v - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
  const sy = (v) => H - pad - ((v - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  return { sx, sy };
}

// colours by category when the map is the categories' (res.categories), else by k-means
function drawMap(res) {
  const box = $("#map-out");
  const byCategory = Array.isArray(res.categories);
  const group = (p) => (byCategory ? p.category : p.cluster);
  const W = Math.min(box.clientWidth || 900, 1160), H = Math.max(280, Math.min(460, Math.round(W * 0.45)));
  const { sx, sy } = scatter(res.points, W, H);
  const svg = [`<svg class="chart" id="map-svg" translate="no" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`];
  svg.push(`<line class="grid" x1="${sx(0)}" x2="${sx(0)}" y1="10" y2="${H - 10}"/><line class="grid" x1="10" x2="${W - 10}" y1="${sy(0)}" y2="${sy(0)}"/>`);
  svg.push(`<text x="${W - 40}" y="${H - 8}">PC1 →</text><text x="8" y="14">↑ PC2</text>`);
  res.points.forEach((p, i) => {
    const label = esc(p.word.startsWith("#") ? p.tokens.map(tokenText).join("") : p.word);
    const color = SERIES[group(p) % SERIES.length];
    svg.push(`<g class="pt" data-i="${i}"><circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="5" fill="${color}" fill-opacity="0.85"/>` +
      labelAt(sx(p.x), sy(p.y) + 4, label, W, "font-size:12px;fill:#1d1c22;font-family:var(--mono)") + "</g>");
  });
  svg.push("</svg>");
  const holder = el("div", { html: svg.join("") });
  holder.querySelectorAll(".pt").forEach((g) => {
    const p = res.points[Number(g.dataset.i)];
    const colour = byCategory ? categoryName(res.categories[p.category].name) : `k-means ${p.cluster}`;
    g.addEventListener("pointermove", (e) => showTip(`${p.tokens.map(tokenReceipt).join("<br>")}<br>PC1 ${fmt(p.x, 3)} · PC2 ${fmt(p.y, 3)} · ${esc(colour)}`, e.clientX, e.clientY));
    g.addEventListener("pointerleave", hideTip);
  });
  const info = el("div", { class: "small muted", style: { marginTop: "6px" } },
    t("sp_explained", { a: pct(res.explained[0]), b: pct(res.explained[1]) }), ` · ${byCategory ? t("sp_by_category") : t("sp_clusters")} · ${t("sp_of_wte")} [${res.points.length} × ${res.dim}]`);
  const skipped = res.skipped && res.skipped.length ? el("div", { class: "small muted" }, t("sp_skipped") + ": ",
    res.skipped.map((s) => `${s.word} (${s.reason})`).join("; ")) : null;
  box.replaceChildren(holder, info, skipped || "", ...(byCategory ? categoryNotes(res) : []));
}

// the legend, the scores beside their chance levels, what purity means, what was left out
function categoryNotes(res) {
  const legend = el("div", { class: "row small", id: "map-legend", style: { gap: "12px", marginTop: "6px", flexWrap: "wrap" } },
    res.categories.map((c, i) => el("span", { class: "legend-item" },
      el("span", { style: { display: "inline-block", width: "10px", height: "10px", borderRadius: "50%", background: SERIES[i % SERIES.length], marginRight: "4px" } }),
      `${categoryName(c.name)} (${c.words.length})`)));
  const sc = res.score;
  const scores = el("div", { id: "map-scores", style: { marginTop: "8px" } },
    t("sp_cat_scores", { k: sc.k, p: pct(sc.purity), pc: pct(sc.purity_chance), a: pct(sc.neighbour_agreement), ac: pct(sc.neighbour_chance) }));
  const meaning = el("div", { class: "small muted" }, t("sp_cat_purity", { k: sc.k }));
  const left = res.not_covered.length ? el("div", { class: "small muted" },
    t("sp_cat_left", { n: res.not_covered.length, of: res.asked }) + ": ", el("span", { translate: "no", text: res.not_covered.join(" ") })) : "";
  return [legend, scores, meaning, left];
}

async function runMap() {
  const words = $("#map-words").value.split(/[\s,]+/).filter(Boolean);
  if (S.cat && S.cat.covered && words.join(" ") === categoryWords(S.cat)) {
    S.map = S.cat;
    drawMap(S.map);
    return;
  }
  try {
    S.map = await api("/api/space/map", { words });
    drawMap(S.map);
  } catch (e) { $("#map-out").replaceChildren(errorBox(e)); }
}

// ---------- neighbours & analogies ----------
function resultList(items, id) {
  const max = Math.max(...items.map((r) => r.cosine), 1e-9);
  return el("div", { class: "bars", id }, items.map((r) => {
    const row = el("div", { class: "bar-row", dataset: { id: String(r.id), cos: String(r.cosine) } },
      el("span", { class: "label", translate: "no", text: tokenText(r.token) }),
      el("span", { class: "track" }, el("span", { class: "fill", style: { width: Math.max(0, r.cosine / max) * 100 + "%" } })),
      el("span", { class: "val", text: fmt(r.cosine, 3) }));
    row.addEventListener("pointermove", (e) => showTip(`${tokenReceipt(r.token)}<br>cos = <code>${fmt(r.cosine)}</code>`, e.clientX, e.clientY));
    row.addEventListener("pointerleave", hideTip);
    return row;
  }));
}
async function runNeighbors() {
  try {
    S.nb = await api("/api/space/neighbors", { word: $("#nb-word").value, k: 10 });
    $("#nb-out").replaceChildren(el("div", { class: "small muted", translate: "no", style: { marginBottom: "6px" } }, `cos(${S.nb.query.tokens.map(tokenText).join("")}, ·)`), resultList(S.nb.neighbors, "nb-list"));
  } catch (e) { $("#nb-out").replaceChildren(errorBox(e)); }
}
async function runAnalogy() {
  try {
    const [a, b, c] = [$("#an-a").value, $("#an-b").value, $("#an-c").value];
    S.an = await api("/api/space/analogy", { a, b, c, k: 8 });
    const r = S.an;
    $("#an-out").replaceChildren(el("div", { class: "small muted", translate: "no", style: { marginBottom: "6px" } },
      `${r.a.tokens.map(tokenText).join("")} − ${r.b.tokens.map(tokenText).join("")} + ${r.c.tokens.map(tokenText).join("")} ≈`), resultList(r.results, "an-list"));
    // the parallelogram: a, b, c and the answer on their own PCA map (a linear map, so the
    // point a − b + c lands at p(a) − p(b) + p(c))
    if (r.results.length) {
      const top = r.results[0];
      const map = await api("/api/space/map", { words: [a, b, c, `#${top.id}`] });
      if (S.an === r && map.points.length === 4) $("#an-out").append(parallelogram(map.points, r, top));
    }
  } catch (e) { $("#an-out").replaceChildren(errorBox(e)); }
}

/** king − man + woman drawn: b → a is the relation; the same step from c lands near d. */
function parallelogram(points, r, top) {
  const [pa, pb, pc, pd] = points;
  const px = { x: pa.x - pb.x + pc.x, y: pa.y - pb.y + pc.y };
  const all = [pa, pb, pc, pd, px];
  const W = 340, H = 240, pad = 34;
  const xs = all.map((p) => p.x), ys = all.map((p) => p.y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (v) => pad + ((v - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
  const sy = (v) => H - pad - ((v - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  const word = (w) => esc(w.tokens.map(tokenText).join(""));
  const arrow = (p, q, cls) => `<line class="${cls}" x1="${sx(p.x)}" y1="${sy(p.y)}" x2="${sx(q.x)}" y2="${sy(q.y)}" marker-end="url(#an-head)"/>`;
  const dot = (p, label, cls, id) => `<circle class="${cls}" data-id="${id}" data-x="${p.x}" data-y="${p.y}" cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="5"/>` +
    labelAt(sx(p.x), sy(p.y) - 6, label, W);
  const svg = `<svg class="chart para" id="an-para" translate="no" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
    <defs><marker id="an-head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6a4fd0"/></marker></defs>
    ${arrow(pb, pa, "rel")}${arrow(pc, px, "rel")}
    <line class="side" x1="${sx(pb.x)}" y1="${sy(pb.y)}" x2="${sx(pc.x)}" y2="${sy(pc.y)}"/><line class="side" x1="${sx(pa.x)}" y1="${sy(pa.y)}" x2="${sx(px.x)}" y2="${sy(px.y)}"/>
    <line class="miss" x1="${sx(px.x)}" y1="${sy(px.y)}" x2="${sx(pd.x)}" y2="${sy(pd.y)}"/>
    ${dot(pa, word(r.a), "w", "a")}${dot(pb, word(r.b), "w", "b")}${dot(pc, word(r.c), "w", "c")}
    ${dot(pd, esc(tokenText(top.token)), "d", "d")}${dot(px, `${word(r.a)} − ${word(r.b)} + ${word(r.c)}`, "x", "x")}</svg>`;
  return el("div", { style: { marginTop: "10px" } }, el("div", { html: svg }), el("div", { class: "small muted", dataset: { i18n: "sp_para_note" }, text: t("sp_para_note") }));
}

// ---------- drift ----------
function drawDrift(res) {
  const box = $("#dr-out");
  const n = res.texts.length;
  const cell = Math.max(10, Math.min(26, Math.floor(120 / n)));
  const squares = res.similarity.map((m, depth) => {
    const data = m.flat();
    const hm = heatmap({
      rows: n, cols: n, data, scale: "div", max: 1, cell, className: "drift-canvas",
      receipt: (i, j, v) => `${esc(res.layers[depth])}<br>${i + 1}: ${esc(res.texts[i].text)}<br>${j + 1}: ${esc(res.texts[j].text)}<br>cos = <code>${fmt(v)}</code>`,
    });
    return el("div", { class: "fig act" }, el("div", { class: "fig-head" }, el("span", { class: "name", text: res.layers[depth] })), hm.node);
  });
  const simW = Math.min((box.clientWidth || 600) - 10, 520), simH = 130;
  const k = res.mean_similarity.length;
  const px = (i) => 30 + (i / Math.max(1, k - 1)) * (simW - 50);
  const lo = Math.min(0, ...res.mean_similarity);
  const py = (v) => simH - 22 - ((v - lo) / (1 - lo || 1)) * (simH - 34);
  const sim = [`<svg class="chart" id="drift-svg" width="${simW}" height="${simH}" viewBox="0 0 ${simW} ${simH}">`,
    `<line class="grid" x1="30" x2="${simW - 20}" y1="${py(1)}" y2="${py(1)}"/><line class="grid" x1="30" x2="${simW - 20}" y1="${py(lo)}" y2="${py(lo)}"/>`,
    `<text x="6" y="${py(1) + 3}">1</text><text x="6" y="${py(lo) + 3}">${fmt(lo, 1)}</text>`,
    `<polyline points="${res.mean_similarity.map((v, i) => `${px(i)},${py(v)}`).join(" ")}" fill="none" stroke="#6a4fd0" stroke-width="2"/>`,
    ...res.mean_similarity.map((v, i) => `<circle cx="${px(i)}" cy="${py(v)}" r="3" fill="#6a4fd0"/><text x="${px(i) - 3}" y="${simH - 6}">${i}</text>`), "</svg>"];
  const legend = el("ol", { class: "small", style: { margin: "6px 0 0", paddingLeft: "20px" } },
    res.texts.map((s) => el("li", {}, s.text, el("span", { class: "muted", text: `  · ${t("position")} ${s.positions.join(", ")}` }))));
  box.replaceChildren(
    driftPaths(res, Math.min((box.clientWidth || 700) - 10, 720)),
    el("div", { class: "row", style: { alignItems: "flex-start", gap: "14px" } }, squares),
    legend,
    el("div", { style: { marginTop: "12px" } }, el("div", { class: "small muted", style: { marginBottom: "4px" }, text: t("sp_similarity") }), el("div", { html: sim.join("") }),
      el("div", { class: "small muted", style: { marginTop: "4px" } }, res.layers.map((l, i) => `${i}: ${l}`).join(" · "))));
}
/** The word's path through the layers, one line per sentence, on one PCA map. */
function driftPaths(res, W) {
  const H = Math.max(240, Math.round(W * 0.5)), pad = 30;
  const pts = res.path.flat();
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (v) => pad + ((v - x0) / (x1 - x0 || 1)) * (W - 2 * pad - 60);
  const sy = (v) => H - pad - ((v - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  const last = res.layers.length - 1;
  const depth = (i) => (i === 0 ? "embed" : i === last ? "out" : `L${i - 1}`);
  const svg = [`<svg class="chart drift-map" id="drift-map" translate="no" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`];
  res.path.forEach((path, n) => {
    const color = SERIES[n % SERIES.length];
    svg.push(`<polyline class="drift-path" data-text="${n}" points="${path.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ")}" fill="none" stroke="${color}" stroke-width="2" stroke-opacity="0.8"/>`);
    path.forEach((p, i) => {
      svg.push(`<circle data-text="${n}" data-layer="${i}" data-x="${p[0]}" data-y="${p[1]}" cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="${i === 0 || i === last ? 5 : 3.5}" fill="${color}"/>`);
      if (i > 0) svg.push(labelAt(sx(p[0]), sy(p[1]) - 6, `${n + 1}·${depth(i)}`, W, `fill:${color};font-size:10px;font-family:var(--mono)`));
    });
  });
  const start = res.path[0][0];
  svg.push(labelAt(sx(start[0]), sy(start[1]) + 16, `${esc(res.word)} · embed (${t("sp_drift_same")})`, W, "font-size:11px"));
  svg.push(`<text x="${W - 8}" y="${H - 8}" text-anchor="end">PC1 ${pct(res.path_explained[0])} · PC2 ${pct(res.path_explained[1])}</text></svg>`);
  return el("div", { style: { marginBottom: "10px" } },
    el("div", { class: "small muted", style: { marginBottom: "4px" }, text: t("sp_drift_map") }), el("div", { html: svg.join("") }));
}

/** The sentences that fit the model's context, by their real token counts. */
async function fittingSentences(sentences, model) {
  const kept = [];
  for (const sentence of sentences) {
    try {
      const res = await api("/api/tokenize", { prompt: sentence });
      if (res.ids.length <= model.n_ctx) kept.push(sentence);
    } catch (_) { /* a sentence the vocabulary cannot spell: left out */ }
  }
  return { kept, dropped: sentences.length - kept.length };
}

async function runDrift() {
  const sentences = $("#dr-sentences").value.split("\n").map((s) => s.trim()).filter(Boolean);
  try {
    S.dr = await api("/api/space/drift", { word: $("#dr-word").value, sentences });
    drawDrift(S.dr);
  } catch (e) { $("#dr-out").replaceChildren(errorBox(e)); }
}

async function main() {
  const model = await setupPage("/space");
  try { S.cat = await api("/api/space/categories", {}); } catch (e) { S.cat = null; }
  const d = defaults(model, S.cat);
  $("#map-words").value = d.words;
  $("#nb-word").value = d.nb;
  if (d.an) [$("#an-a").value, $("#an-b").value, $("#an-c").value] = d.an;
  // default sentences longer than the context are left out, with a note (never an error)
  const fitted = d.dr ? await fittingSentences(d.sentences.split("\n"), model) : { kept: [], dropped: 0 };
  if (fitted.kept.length < 2) d.dr = "";
  $("#dr-word").value = d.dr;
  $("#dr-sentences").value = d.dr ? fitted.kept.join("\n") : "";
  if (fitted.dropped) {
    S.driftNote = { n: fitted.dropped, ctx: model.n_ctx };
    $("#dr-out").replaceChildren(el("div", { class: "muted small", id: "dr-note", text: t("sp_drift_dropped", S.driftNote) }));
  }
  const on = (id, fn) => $(id).addEventListener("submit", (e) => { e.preventDefault(); fn(); });
  on("#map-form", runMap);
  on("#nb-form", runNeighbors);
  on("#an-form", runAnalogy);
  on("#dr-form", runDrift);
  onLang(() => {
    applyStatic(); // also the parallelogram's note (data-i18n)
    if (S.map) drawMap(S.map);
    if (S.dr) drawDrift(S.dr);
    else if (S.driftNote && $("#dr-note")) $("#dr-note").textContent = t("sp_drift_dropped", S.driftNote);
  });
  await Promise.all([runMap(), d.nb ? runNeighbors() : null, d.an ? runAnalogy() : null, d.dr ? runDrift() : null]);
  document.body.dataset.ready = "1";
}
main();
