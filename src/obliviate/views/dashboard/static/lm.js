// The language-model views: truth-ratio CDFs with the KS gaps, each forget question's answers,
// and forgetting per person (helpers: app.js, loaded after).
"use strict";

const COLUMNS = ["original", "a", "b", "oracle"];  // the models these views show side by side

// Truth ratios: the three empirical CDFs, and each KS gap against the oracle.
function renderTruth(t) {
  $("#truth-n").textContent = `(${t.n} questions)`;
  const all = ["a", "b", "oracle"].flatMap((k) => t[k]).filter((v) => v !== null);
  const log = all.every((v) => v > 0);  // truth ratios are positive; the log spreads them
  const tx = (v) => (log ? Math.log10(v) : v);
  const lo = Math.min(...all.map(tx)), hi = Math.max(...all.map(tx)), span = (hi - lo) || 1;
  const w = 480, h = 260, pad = 30;
  const sx = (v) => pad + (w - 2 * pad) * (tx(v) - lo) / span;
  const sy = (f) => h - pad - (h - 2 * pad) * f;
  const chart = $("#truth-cdf");
  chart.replaceChildren();
  chart.setAttribute("width", w);
  chart.setAttribute("height", h);
  for (const k of ["oracle", "a", "b"]) {
    const xs = t[k].filter((v) => v !== null).sort((u, v) => u - v);
    let d = `M ${pad} ${sy(0)}`;
    xs.forEach((v, i) => { d += ` H ${sx(v).toFixed(1)} V ${sy((i + 1) / xs.length).toFixed(1)}`; });
    d += ` H ${w - pad}`;
    chart.append(svgEl("path", { d, fill: "none", stroke: COLORS[k], "stroke-width": 1.8,
                                 "data-model": k, "data-n": xs.length }));
  }
  for (const k of ["a", "b"]) {
    const ks = t.ks[k], row = $(`#truth-ks tr[data-model="${k}"]`);
    for (const [cls, v, digits] of [["stat", ks.statistic, 3], ["at", ks.at, 4],
                                    ["p", ks.pvalue, 4]]) {
      const td = row.querySelector(`.${cls}`);
      td.dataset.value = v === undefined || v === null ? "" : String(v);
      td.textContent = v === undefined ? "—" : (cls === "p" && v < 1e-3 ? v.toExponential(2) : fmt(v, digits));
    }
    if (ks.unavailable) continue;
    chart.append(svgEl("line", { x1: sx(ks.at), x2: sx(ks.at), y1: sy(ks.cdf[0]), y2: sy(ks.cdf[1]),
                                 stroke: COLORS[k], "stroke-width": 3, "stroke-dasharray": "3 2",
                                 "data-gap": k, "data-statistic": ks.statistic }));
  }
  if (tx(1) > lo && tx(1) < hi) {  // R = 1: wrong and right answers equally likely
    chart.append(svgEl("line", { x1: sx(1), x2: sx(1), y1: pad, y2: h - pad, stroke: "#bbb" }));
    const one = svgEl("text", { x: sx(1), y: h - 8, "font-size": 11, "text-anchor": "middle" });
    one.textContent = "R = 1";
    chart.append(one);
  }
  const axis = [[lo, pad, h - 8, "start"], [hi, w - pad, h - 8, "end"]];
  for (const [v, x, y, anchor] of axis) {
    const label = svgEl("text", { x, y, "font-size": 11, "text-anchor": anchor });
    label.textContent = log ? `R = ${(10 ** v).toPrecision(3)}` : `R = ${v.toPrecision(3)}`;
    chart.append(label);
  }
  const key = svgEl("text", { x: pad, y: 16, "font-size": 11 });
  key.textContent = "CDF of R — blue: A, orange: B, green: oracle";
  chart.append(key);
}

function renderAnswers(ans) {
  if (!ans || ans.unavailable) return;
  const filter = $("#answers-filter").value, tbody = $("#answers tbody");
  tbody.replaceChildren();
  let shown = 0;
  ans.question.forEach((q, i) => {
    const ea = ans.exact.a[i], eb = ans.exact.b[i];
    if ((filter === "differ" && ea === eb) || (filter === "a-exact" && !ea)) return;
    const tr = el("tr", { "data-question": i, "data-person": ans.person[i] });
    tr.append(el("td", {}, ans.name[i]), el("td", {}, q), el("td", { class: "reference" }, ans.reference[i]));
    for (const k of COLUMNS) {
      tr.append(el("td", { "data-col": k, "data-exact": ans.exact[k][i] ? "1" : "0",
                           class: ans.exact[k][i] ? "exact" : "" }, ans.answers[k][i]));
    }
    tbody.append(tr);
    shown += 1;
  });
  $("#answers-shown").textContent = `${shown} of ${ans.question.length} questions`;
  for (const k of COLUMNS) {
    const td = $(`#answers tfoot td[data-col="${k}"]`);
    td.dataset.value = ans.exact_count[k];
    td.textContent = `${ans.exact_count[k]} of ${ans.question.length}`;
  }
}

function renderPeople(people) {
  const tbody = $("#people tbody");
  tbody.replaceChildren();
  for (const r of people.rows) {
    const tr = el("tr", { "data-person": r.person });
    tr.append(el("td", {}, `${r.name} (${r.person})`), el("td", {}, String(r.questions)));
    for (const [what, digits, scale] of [["exact", 1, 100], ["prob", 3, 1]]) {
      for (const k of COLUMNS) {
        const td = cell(r[what][k], digits, "bar");
        td.dataset.what = what;
        td.dataset.col = k;
        if (r[what][k] !== null) {
          td.style.background = `linear-gradient(90deg, #cfe0f3 ${100 * r[what][k] / scale}%, transparent 0)`;
        }
        tr.append(td);
      }
    }
    tbody.append(tr);
  }
}
