// The classifier views: per-class accuracy, the confusion difference, the joint projection of
// penultimate features and the predictions that changed (helpers: app.js, loaded after).
"use strict";

function renderClasses(c) {
  const tbody = $("#class-acc tbody");
  tbody.replaceChildren();
  c.names.forEach((name, i) => {
    const delta = c.a[i] === null || c.b[i] === null ? null : c.b[i] - c.a[i];
    const tr = el("tr", { "data-class": String(i) });
    tr.append(el("td", {}, name), cell(c.a[i], 2, "a"), cell(c.b[i], 2, "b"), cell(delta, 2, "delta"));
    tbody.append(tr);
  });
  const chart = $("#class-bars"), w = 34 * c.names.length + 40, h = 180;
  chart.replaceChildren();
  chart.setAttribute("width", w);
  chart.setAttribute("height", h);
  c.names.forEach((name, i) => {
    ["a", "b"].forEach((k, j) => {
      const v = c[k][i] === null ? 0 : c[k][i];
      const bh = (h - 30) * v / 100;
      chart.append(svgEl("rect", { x: 30 + 34 * i + 13 * j, y: h - 20 - bh, width: 12,
                                   height: bh, fill: COLORS[k], "data-model": k,
                                   "data-class": i }));
    });
    const label = svgEl("text", { x: 30 + 34 * i + 12, y: h - 6, "text-anchor": "middle",
                                  "font-size": 11 });
    label.textContent = name;
    chart.append(label);
  });
}

function renderConfusion(conf) {
  const root = $("#view-class .confusion-body"), note = root.querySelector(".unavailable");
  const table = $("#confusion");
  table.replaceChildren();
  note.hidden = !conf.unavailable;
  note.textContent = conf.unavailable || "";
  if (conf.unavailable) { $("#confusion-n").textContent = ""; return; }
  const split = $("#confusion-split").value, m = conf.splits[split];
  $("#confusion-n").textContent = `(A: ${m.n_a} samples, B: ${m.n_b})`;
  const names = (current.classes.names || [...Array(conf.classes).keys()].map(String));
  const head = el("tr", {}, null);
  head.append(el("th", {}, "true \\ pred"));
  names.forEach((n) => head.append(el("th", {}, n)));
  table.append(head);
  const biggest = Math.max(1, ...m.diff.flat().map(Math.abs));
  m.diff.forEach((row, t) => {
    const tr = el("tr", {});
    tr.append(el("th", {}, names[t]));
    row.forEach((v, p) => {
      const td = el("td", { "data-true": t, "data-pred": p, "data-value": v,
                            title: `A ${m.a[t][p]}, B ${m.b[t][p]}` }, v === 0 ? "0" : (v > 0 ? "+" : "") + v);
      const alpha = Math.abs(v) / biggest;
      if (v !== 0) td.style.background = v > 0 ? `rgba(221,132,82,${alpha})` : `rgba(76,114,176,${alpha})`;
      tr.append(td);
    });
    table.append(tr);
  });
}

function renderProjection(proj) {
  const [e1, e2] = proj.explained;
  const ex = $("#projection-explained");
  ex.textContent = `(PC1 ${(100 * e1).toFixed(1)}%, PC2 ${(100 * e2).toFixed(1)}% of variance)`;
  ex.dataset.pc1 = e1;
  ex.dataset.pc2 = e2;
  const all = ["a", "b"].flatMap((k) => Object.values(proj.points[k]).flat());
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const size = 330, pad = 12;
  const sx = (x) => pad + (size - 2 * pad) * (x - x0) / ((x1 - x0) || 1);
  const sy = (y) => size - pad - (size - 2 * pad) * (y - y0) / ((y1 - y0) || 1);
  const root = $("#projection");
  root.replaceChildren();
  for (const k of ["a", "b"]) {
    const fig = el("figure", {});
    const chart = svgEl("svg", { width: size, height: size, class: "chart", "data-model": k,
                                 role: "img", "aria-label": `projection of model ${k.toUpperCase()}` });
    for (const split of ["retain", "test", "forget"]) {  // forget last: drawn on top
      for (const [x, y] of proj.points[k][split]) {
        chart.append(svgEl("circle", { cx: sx(x).toFixed(1), cy: sy(y).toFixed(1),
                                       r: split === "forget" ? 3.2 : 2, fill: COLORS[split],
                                       "fill-opacity": split === "forget" ? 0.9 : 0.5,
                                       stroke: split === "forget" ? "#600" : "none",
                                       "stroke-width": 0.5, "data-split": split,
                                       "data-x": x, "data-y": y }));
      }
    }
    fig.append(chart, el("figcaption", {}, `${k.toUpperCase()}: ${current[k].label}`));
    root.append(fig);
  }
}

function renderChanged(ch) {
  const total = $("#changed-total");
  total.textContent = ch.total;
  total.dataset.value = ch.total;
  $("#changed-counts").textContent = Object.entries(ch.counts)
    .map(([s, c]) => `${s}: ${c.changed} of ${c.compared}`).join(" · ") +
    (ch.total > ch.rows.length ? ` (first ${ch.rows.length} shown)` : "");
  const tbody = $("#changed tbody"), names = current.classes.names;
  tbody.replaceChildren();
  for (const r of ch.rows) {
    const name = (c) => (names ? names[c] : String(c));
    const tr = el("tr", { "data-id": r.id, "data-split": r.split });
    tr.append(el("td", {}, r.split), el("td", {}, String(r.id)), el("td", {}, name(r.label)),
              el("td", { class: "a", "data-value": r.a }, name(r.a)),
              el("td", { class: "b", "data-value": r.b }, name(r.b)),
              cell(r.conf_a, 3), cell(r.conf_b, 3));
    tbody.append(tr);
  }
}
