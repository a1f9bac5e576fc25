// The playground: streaming generation (/api/generate, server-sent events). Each token is
// tinted by its probability; clicking one (or Enter on it) shows the alternatives the model
// weighed (the top 5 of that step) and continues from any of them, keeping the branch
// left behind to compare and go back to.
import { $, applyStatic, el, onLang, pct, setupPage, stream, t, tokenText } from "./common.js";

const S = { promptIds: [], promptViews: [], steps: [], running: null, selected: null, status: "", done: null, branch: null };
window.glassbox = { state: S };

// ---------- bytes → characters, across token boundaries (as the engine's token views) ----------
function hexOf(bytes) { return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" "); }
function seqLen(b) { return b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0; }
/** Splits bytes into characters: {start, end, ch} (ch null: invalid byte; pending: may still complete). */
function units(bytes) {
  const out = [];
  let i = 0;
  while (i < bytes.length) {
    const n = seqLen(bytes[i]);
    let ok = n > 0 && i + n <= bytes.length;
    for (let k = 1; ok && k < n; k++) ok = (bytes[i + k] & 0xc0) === 0x80;
    if (ok) {
      out.push({ start: i, end: i + n, ch: new TextDecoder().decode(bytes.slice(i, i + n)) });
      i += n;
    } else {
      let pending = n > 0 && i + n > bytes.length;
      for (let k = 1; pending && i + k < bytes.length; k++) pending = (bytes[i + k] & 0xc0) === 0x80;
      if (pending) { out.push({ start: i, end: bytes.length, ch: null, pending: true, of: n }); break; }
      out.push({ start: i, end: i + 1, ch: null });
      i += 1;
    }
  }
  return out;
}
/** For each token (bytes), its text and, for partial tokens, the character it helps form. */
function tokenPieces(list) {
  const all = new Uint8Array(list.reduce((a, b) => a + b.length, 0));
  let at = 0;
  const bounds = list.map((b) => { all.set(b, at); const r = [at, at + b.length]; at += b.length; return r; });
  const us = units(all);
  return bounds.map(([s, e], i) => {
    let text = "", partial = null;
    for (const u of us) {
      if (u.end <= s || u.start >= e) continue;
      if (u.ch && u.start >= s && u.end <= e) text += u.ch;
      else if (u.ch) partial = { ch: u.ch, first: Math.max(s, u.start) - u.start, len: Math.min(e, u.end) - Math.max(s, u.start), of: u.end - u.start };
      else if (u.pending) partial = { ch: null, of: u.of };
      else text += "\ufffd";
    }
    return { text, partial, hex: hexOf(list[i]) };
  });
}
const bytesOf = (view) => Uint8Array.from(view.bytes || []);

// ---------- rendering ----------
function render() {
  const out = $("#pg-out");
  const prompt = el("span", { class: "prompt" });
  const bare = S.promptViews.some((v) => v.bare);
  prompt.textContent = bare ? S.promptViews.map((v) => v.text + " ").join("") : S.promptViews.map((v) => (v.parts || []).map((p) => p.text ?? "").join("")).join("");
  const pieces = tokenPieces(S.steps.map((s) => bytesOf(s.token)));
  const spans = S.steps.map((s, i) => {
    const piece = pieces[i];
    const span = el("span", {
      class: "gt" + (S.selected === i ? " sel" : ""), dataset: { i: String(i), p: String(s.p) },
      style: { background: tint(s.p) },
      tabindex: "0", role: "button",
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); S.selected = i; render(); } },
      title: t("pg_at", { i: S.promptIds.length + i, tok: tokenText(s.token), p: pct(s.p) }),
      onclick: () => { S.selected = i; render(); },
    });
    if (s.token.bare) span.textContent = s.token.text + " ";
    else if (piece.partial) {
      span.append(piece.text, el("span", { class: "hex", text: `‹${piece.hex}›` }));
      span.title += piece.partial.ch ? " · " + t("part_of", { ch: piece.partial.ch, a: piece.partial.first + 1, b: piece.partial.first + piece.partial.len, n: piece.partial.of }) : "";
    } else span.textContent = piece.text;
    return span;
  });
  out.replaceChildren(prompt, ...spans);
  renderAlts();
  renderBranch();
}

/** A light wash of violet, stronger with the probability; the text stays dark on it. */
function tint(p) {
  return `rgba(106, 79, 208, ${(0.04 + 0.36 * Math.max(0, Math.min(1, p))).toFixed(3)})`;
}

/** After "continue from" an alternative: where the text branched, what the model had
 *  written from there, and a way back to it. */
function renderBranch() {
  const box = $("#pg-branch");
  const b = S.branch;
  if (!b) { box.classList.add("hidden"); box.replaceChildren(); return; }
  box.classList.remove("hidden");
  const was = tokenPieces(b.steps.slice(b.at).map((s) => bytesOf(s.token))).map((p) => p.text).join("");
  box.replaceChildren(
    el("div", { class: "small" }, t("pg_branch", { pos: b.position, was: tokenText(b.chosen.token), p: pct(b.chosen.p), took: tokenText(b.took.token), q: pct(b.took.p) })),
    el("div", { class: "branch-old", translate: "no", text: was }),
    el("button", { class: "btn", type: "button", id: "pg-branch-back", onclick: backToBranch }, t("pg_branch_back")));
}

function backToBranch() {
  const b = S.branch;
  if (!b) return;
  if (S.running) S.running.abort();
  Object.assign(S, { promptIds: b.promptIds, promptViews: b.promptViews, steps: b.steps, done: b.done, selected: b.at, branch: null });
  render();
}

function renderAlts() {
  const body = $("#pg-alts-body");
  if (S.selected == null || !S.steps[S.selected]) {
    body.className = "muted small";
    body.textContent = t("pg_alts_hint");
    return;
  }
  const i = S.selected, step = S.steps[i];
  body.className = "";
  const head = el("div", { class: "small muted", style: { marginBottom: "6px" }, text: t("pg_at", { i: S.promptIds.length + i, tok: tokenText(step.token), p: pct(step.p) }) });
  // The five the model weighed most, and the chosen token if sampling picked another.
  const list = step.top.some((a) => a.id === step.id) ? step.top : [...step.top, { id: step.id, p: step.p, token: step.token }];
  const rows = list.map((alt) => {
    const chosen = alt.id === step.id;
    return el("div", { class: "alt" + (chosen ? " chosen" : ""), dataset: { id: String(alt.id), p: String(alt.p) } },
      el("span", { class: "label", text: tokenText(alt.token) }),
      el("span", { class: "p", text: pct(alt.p) }),
      chosen ? el("span", { class: "pill", text: t("pg_chosen") })
        : el("button", { class: "btn", type: "button", onclick: () => continueWith(i, alt.id) }, t("pg_continue"), " →"));
  });
  body.replaceChildren(head, ...rows);
}

function setStatus(key, vars) {
  S.status = [key, vars];
  $("#pg-status").textContent = t(key, vars);
}

// ---------- generation ----------
function settings() {
  const seed = $("#pg-seed").value;
  return {
    max_tokens: Math.max(1, Math.floor(Number($("#pg-max").value)) || 1),
    temperature: Number($("#pg-temp").value),
    top_k: Number($("#pg-topk").value) || undefined,
    top_p: Number($("#pg-topp").value),
    seed: seed === "" ? undefined : Number(seed),
  };
}

async function run(body) {
  if (S.running) S.running.abort();
  const ctrl = new AbortController();
  S.running = ctrl;
  S.steps = [];
  S.selected = null;
  S.done = null;
  S.branch = S.pendingBranch || null;
  S.pendingBranch = null;
  $("#pg-error").classList.add("hidden");
  $("#pg-stop").disabled = false;
  document.body.dataset.pg = "running";
  setStatus("pg_status_running", { n: 0 });
  render();
  let pendingRender = false;
  const schedule = () => {
    if (pendingRender) return;
    pendingRender = true;
    requestAnimationFrame(() => { pendingRender = false; render(); });
  };
  const request = { ...settings(), ...body };
  const asked = request.max_tokens;
  try {
    await stream("/api/generate", request, (name, data) => {
      if (name === "start") {
        S.promptIds = data.ids; S.promptViews = data.tokens; schedule();
        // more than the context has room for: the server generates what fits, and says so here
        S.clampedVars = { asked, n: data.max_tokens, ctx: S.nCtx, p: data.ids.length };
        S.clamped = data.max_tokens < asked;
        $("#pg-note").textContent = S.clamped ? t("pg_clamped", S.clampedVars) : "";
      }
      else if (name === "token") { S.steps.push(data); setStatus("pg_status_running", { n: S.steps.length }); schedule(); }
      else if (name === "done") { S.done = data; setStatus("pg_status_done", { n: S.steps.length, why: t("stop_" + data.stop) }); }
      else if (name === "error") throw new Error(data.error.message);
    }, ctrl.signal);
    document.body.dataset.pg = "done";
  } catch (e) {
    if (e.name === "AbortError") {
      setStatus("pg_status_stopped", { n: S.steps.length });
      document.body.dataset.pg = "stopped";
    } else {
      $("#pg-error").textContent = e.message || String(e);
      $("#pg-error").classList.remove("hidden");
      document.body.dataset.pg = "error";
    }
  } finally {
    if (S.running === ctrl) S.running = null;
    $("#pg-stop").disabled = true;
    render();
  }
}

function continueWith(i, id) {
  const step = S.steps[i];
  const took = step.top.find((a) => a.id === id) || { id, p: 0, token: { text: `#${id}` } };
  const ids = [...S.promptIds, ...S.steps.slice(0, i).map((s) => s.id), id];
  // the run being left: kept, so the page shows the branch and can go back to it
  S.pendingBranch = { promptIds: S.promptIds, promptViews: S.promptViews, steps: S.steps, done: S.done, at: i, position: S.promptIds.length + i, chosen: { token: step.token, p: step.p }, took };
  run({ ids });
}

async function main() {
  const model = await setupPage("/playground", { legend: ["prob"] });
  const prompt = $("#pg-prompt");
  const params = new URLSearchParams(location.search);
  // a built-in task's model starts on its example problem, and writes the whole answer
  const task = model && model.task;
  prompt.value = params.get("prompt") || (task ? task.prompt : model && model.default_prompt) || "";
  S.nCtx = model ? model.n_ctx : 0;
  if (model) $("#pg-max").value = String(task ? task.answer_tokens : Math.min(48, model.n_ctx));
  const temp = $("#pg-temp"), topp = $("#pg-topp");
  temp.addEventListener("input", () => { $("#pg-temp-v").textContent = Number(temp.value).toFixed(2); });
  topp.addEventListener("input", () => { $("#pg-topp-v").textContent = Number(topp.value).toFixed(2); });
  $("#pg-form").addEventListener("submit", (e) => { e.preventDefault(); run({ prompt: prompt.value }); });
  prompt.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) { e.preventDefault(); run({ prompt: prompt.value }); } });
  $("#pg-stop").addEventListener("click", () => { if (S.running) S.running.abort(); });
  onLang(() => {
    applyStatic();
    render();
    if (S.clamped) $("#pg-note").textContent = t("pg_clamped", S.clampedVars);
    if (S.done) setStatus("pg_status_done", { n: S.steps.length, why: t("stop_" + S.done.stop) });
    else if (S.status) setStatus(...S.status);
  });
  document.body.dataset.ready = "1";
  render();
  if (params.has("run")) run({ prompt: prompt.value });
}
main();

