// The comparator's front end: vanilla JS and inline SVG, no build step, nothing fetched from
// elsewhere. Every number is written as text and as a data-value attribute (full precision).
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const COLORS = { a: "#4c72b0", b: "#dd8452", oracle: "#2a7a2a", forget: "#d62728",
                 retain: "#9bb0c8", test: "#7fbf7f", holdout: "#7fbf7f", member: "#d62728",
                 nonmember: "#4c72b0" };
const STEPS = 200;  // the threshold slider's positions over the scores' range
let current = null;  // the last comparison payload
let latest = 0;  // the newest request: an older answer arriving later must not replace it

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function fmt(v, digits) { return v === null || v === undefined ? "—" : v.toFixed(digits); }

function cell(value, digits, cls = null) {
  const td = el("td", { "data-value": value === null ? "" : String(value) }, fmt(value, digits));
  if (cls) td.className = cls;
  return td;
}

function showMessage(text, kind) {
  const m = $("#message");
  m.textContent = text;
  m.dataset.kind = kind;
  m.hidden = false;
}

async function getJSON(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error("the dashboard server does not answer (was it stopped?)");
  }
  let body;
  try {
    body = await response.json();
  } catch (e) {
    throw new Error(`the server answered ${response.status} without a JSON body`);
  }
  if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
  return body;
}

let listed = [];  // every run in the store, as /api/runs lists it

function runLabel(r) {
  const gap = r.avg_gap === null || r.avg_gap === undefined ? "" : `, Avg.Gap ${r.avg_gap.toFixed(2)}`;
  return `${r.method} · seed ${r.seed}${gap} · ${r.run_id}`;
}

// Options grouped by scenario and forget set, in the listing's (oldest first) order.
function appendGrouped(select, runs) {
  const groups = new Map();
  for (const r of runs) {
    const label = `${r.scenario} · forget ${r.forget}`;
    if (!groups.has(label)) {
      groups.set(label, el("optgroup", { label }));
      select.append(groups.get(label));
    }
    groups.get(label).append(el("option", { value: r.run_id }, runLabel(r)));
  }
}

// Model B offers A's own oracle and original, and the runs on A's data (same kind and data
// key: the server's rule, pairs.py). A pair asked for by URL outside that is kept, marked, so
// the page shows what it shows; the server says per view why it cannot be compared.
function fillB(aId, wanted) {
  const b = $("#run-b"), a = listed.find((r) => r.run_id === aId);
  b.replaceChildren();
  const own = el("optgroup", { label: "run A's own models" });
  own.append(el("option", { value: "@oracle" }, "its oracle (retrained without the forget set)"),
             el("option", { value: "@original" }, "its original (before unlearning)"));
  b.append(own);
  const offered = a ? listed.filter((r) => r.kind === a.kind && r.data === a.data &&
                                           (r.run_id !== aId || r.run_id === wanted)) : [];
  appendGrouped(b, offered);
  if (wanted && !wanted.startsWith("@") && !offered.some((r) => r.run_id === wanted)) {
    const other = listed.find((r) => r.run_id === wanted);
    const group = el("optgroup", { label: "not comparable with A" });
    group.append(el("option", { value: wanted }, other ? runLabel(other) : wanted));
    b.append(group);
  }
  b.value = [...b.options].some((o) => o.value === wanted) ? wanted : "@oracle";
}

async function init() {
  let listing;
  try {
    listing = await getJSON("/api/runs");
  } catch (e) {
    showMessage(e.message, "error");
    document.body.dataset.state = "error";
    return;
  }
  if (listing.runs.length === 0) {
    showMessage(listing.hint, "empty");
    document.body.dataset.state = "empty";
    return;
  }
  listed = listing.runs;
  const a = $("#run-a"), b = $("#run-b");
  appendGrouped(a, listed);
  const params = new URLSearchParams(location.search);
  a.value = params.get("a") || listed[listed.length - 1].run_id;
  fillB(params.get("a") || a.value, params.get("b") || "@oracle");
  $("#pickers").hidden = false;
  a.addEventListener("change", () => { fillB(a.value, b.value); load(); });
  b.addEventListener("change", load);
  $("#confusion-split").addEventListener("change", () => renderConfusion(current.confusion));
  $("#mia-threshold").addEventListener("input", () => renderRates(current.mia));
  $("#answers-filter").addEventListener("change", () => renderAnswers(current.answers));
  await load(params.get("a"));
}

async function load(requested) {
  const a = typeof requested === "string" && requested ? requested : $("#run-a").value;
  const b = $("#run-b").value || "@oracle";
  const ticket = ++latest;
  document.body.dataset.state = "loading";
  $("#message").hidden = true;
  let payload;
  try {
    payload = await getJSON(`/api/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
  } catch (e) {
    if (ticket !== latest) return;
    $("#comparison").hidden = true;
    showMessage(e.message, "error");
    document.body.dataset.state = "error";
    return;
  }
  if (ticket !== latest) return;
  current = payload;
  render(current);
  $("#comparison").hidden = false;
  $("#comparison").dataset.a = a;
  $("#comparison").dataset.b = b;
  history.replaceState(null, "", "?" + new URLSearchParams({ a, b }));  // reload keeps the pair
  document.body.dataset.state = "ready";
}

function render(p) {
  $("#label-a").textContent = p.a.label;
  $("#label-b").textContent = p.b.label;
  $("#verdict-a").textContent = "A " + p.verdicts.a;
  $("#verdict-b").textContent = "B " + p.verdicts.b;
  const tbody = $("#summary tbody");
  tbody.replaceChildren();
  for (const row of p.summary) {
    const tr = el("tr", { "data-metric": row.metric });
    tr.append(el("td", {}, `${row.metric}${row.unit ? " (" + row.unit + ")" : ""}`),
              cell(row.a, 4, "a"), cell(row.b, 4, "b"), cell(row.oracle, 4, "oracle"));
    tbody.append(tr);
  }
  document.body.dataset.kind = p.kind;  // the stylesheet shows this kind's views only
  if (p.kind === "lm") {
    section("#view-truth", p.truth, renderTruth);
    section("#view-answers", p.answers, renderAnswers);
    section("#view-people", p.people, renderPeople);
  } else {
    section("#view-class", p.classes, renderClasses);
    renderConfusion(p.confusion);
    section("#view-instance", p.projection, () => { renderProjection(p.projection);
                                                    renderChanged(p.changed); });
  }
  section("#view-layer", p.layers, renderLayers);
  section("#view-attack", p.mia, renderMia);
}

// Shows a view's body, or its "unavailable" message instead.
function section(sel, data, draw = null) {
  const root = $(sel), note = root.querySelector(".unavailable"), body = root.querySelector(".body");
  note.hidden = !data.unavailable;
  note.textContent = data.unavailable || "";
  body.hidden = Boolean(data.unavailable);
  if (!data.unavailable && draw) draw(data);
}

function renderLayers(layers) {
  $("#cka-probe").textContent = `(${layers.probe} samples)`;
  $("#cka-probe-set").textContent = layers.probe_set ? `Probe set: ${layers.probe_set}.` : "";
  const tbody = $("#cka tbody");
  tbody.replaceChildren();
  for (const row of layers.rows) {
    const tr = el("tr", { "data-layer": row.layer });
    tr.append(el("td", {}, row.layer));
    for (const pair of ["a_b", "a_original", "a_oracle", "b_original", "b_oracle"]) {
      const td = cell(row[pair], 4, "cka");
      td.dataset.pair = pair;
      if (row[pair] === null) td.title = "undefined: a representation is constant";
      else td.style.background = `linear-gradient(90deg, #cfe0f3 ${100 * row[pair]}%, transparent 0)`;
      tr.append(td);
    }
    tbody.append(tr);
  }
}

function renderMia(mia) {
  const unit = current.kind === "lm" ? "biographies" : "set";
  $("#mia-explain").textContent = `Score: ${mia.score}; a sample is flagged "member" when its ` +
    `score is at least the threshold. Members: the ${mia.member} ${unit}; non-members: the ` +
    `${mia.nonmember} ${unit}. A model that forgot should flag its forget ${unit} about as ` +
    "often as non-members. AUC 0.5: the attack cannot tell them apart.";
  for (const k of ["a", "b"]) {
    const td = $(`#auc-${k}`), v = mia[k].auc;
    td.dataset.value = v === null ? "" : String(v);
    td.textContent = fmt(v, 3);
  }
  renderRates(mia);
}

function threshold(mia) {
  const [lo, hi] = mia.range, i = Number($("#mia-threshold").value);
  return lo + (hi - lo) * i / STEPS;
}

function share(scores, t) {
  if (scores.length === 0) return null;
  return scores.filter((s) => s >= t).length / scores.length;
}

function renderRates(mia) {
  if (!mia || mia.unavailable) return;
  const t = threshold(mia), out = $("#mia-threshold-value");
  out.textContent = t.toPrecision(4);
  out.dataset.threshold = String(t);
  for (const k of ["a", "b"]) {
    for (const [id, scores] of [[`#tpr-${k}`, mia[k].member], [`#fpr-${k}`, mia[k].nonmember]]) {
      const v = share(scores, t), td = $(id);
      td.dataset.value = v === null ? "" : String(v);
      td.textContent = v === null ? "—" : `${(100 * v).toFixed(1)}%`;
    }
  }
  drawHistograms(mia, t);
}

function drawHistograms(mia, t) {
  const [lo, hi] = mia.range, bins = 25, w = 330, h = 160, pad = 20;
  const span = (hi - lo) || 1;
  const root = $("#mia-hist");
  root.replaceChildren();
  for (const k of ["a", "b"]) {
    const chart = svgEl("svg", { width: w, height: h, class: "chart", "data-model": k,
                                 role: "img", "aria-label": `score histogram of model ${k.toUpperCase()}` });
    const groups = [["member", mia[k].member], ["nonmember", mia[k].nonmember]];
    const counts = groups.map(([, s]) => {
      const c = new Array(bins).fill(0);
      for (const v of s) c[Math.min(bins - 1, Math.floor(bins * (v - lo) / span))] += 1;
      return c.map((n) => n / Math.max(1, s.length));
    });
    const top = Math.max(1e-9, ...counts.flat()), bw = (w - 2 * pad) / bins;
    groups.forEach(([name], g) => counts[g].forEach((f, i) => {
      const bh = (h - 2 * pad) * f / top;
      chart.append(svgEl("rect", { x: pad + i * bw, y: h - pad - bh, width: bw - 1, height: bh,
                                   fill: COLORS[name], "fill-opacity": 0.45, "data-group": name }));
    }));
    const x = pad + (w - 2 * pad) * (t - lo) / span;
    chart.append(svgEl("line", { x1: x, x2: x, y1: pad / 2, y2: h - pad, stroke: "#000",
                                 "stroke-dasharray": "4 2", id: `mia-line-${k}` }));
    const cap = svgEl("text", { x: pad, y: 12, "font-size": 11 });
    cap.textContent = `${k.toUpperCase()}: red ${mia.member} (members), blue ${mia.nonmember}`;
    chart.append(cap);
    root.append(chart);
  }
}

init();
