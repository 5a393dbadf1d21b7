// The Deletions page (service/page.py): reads the service's JSON API with the tab's token.
"use strict";
const KEY = "obliviate-token";
const $ = (id) => document.getElementById(id);

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

async function api(path) {
  const token = sessionStorage.getItem(KEY);
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  let body = {};
  try { body = await r.json(); } catch (e) { body = { error: r.statusText }; }
  if (!r.ok) throw new Error(r.status + ": " + (body.error || r.statusText));
  return body;
}

function fail(message) {
  $("error").textContent = message;
  $("content").hidden = true;
  document.body.dataset.state = "error";
}

function renderRequests(requests) {
  const body = $("requests").tBodies[0];
  body.replaceChildren();
  const counts = {};
  for (const q of requests) {
    counts[q.state] = (counts[q.state] || 0) + 1;
    const tr = document.createElement("tr");
    tr.dataset.request = q.id;
    tr.dataset.state = q.state;
    cell(tr, q.id);
    cell(tr, q.idempotency_key);
    cell(tr, q.subject !== null ? "subject " + q.subject : "rows " + q.row_ids.join(", "));
    cell(tr, q.state, "state");
    cell(tr, q.version, "version");
    cell(tr, q.error);
    body.appendChild(tr);
  }
  $("counts").textContent = "(" + Object.keys(counts).sort()
    .map((k) => counts[k] + " " + k).join(", ") + ")";
  $("counts").dataset.total = String(requests.length);
}

function renderVersions(data) {
  const body = $("versions").tBodies[0];
  body.replaceChildren();
  $("current").textContent = "(current: version " + data.current + ")";
  for (const v of data.versions) {
    const tr = document.createElement("tr");
    tr.dataset.version = String(v.number);
    tr.dataset.passed = String(v.verified);
    if (v.number === data.current) tr.dataset.current = "true";
    cell(tr, v.number + (v.number === data.current ? " (current)" : "") +
      (v.pruned ? " (pruned)" : ""));
    cell(tr, v.parent);
    cell(tr, v.method);
    cell(tr, v.guarantee);
    cell(tr, v.requests.join(", "), "requests");
    cell(tr, v.rows_removed, "rows-removed");
    if (v.verified === null || v.verified === undefined) {
      cell(tr, "initial (nothing deleted)", "muted");  // deploy's version 1 proves nothing
    } else {
      cell(tr, v.verified ? "pass" : "fail", v.verified ? "pass" : "fail");
    }
    const checks = cell(tr, "");
    const ul = document.createElement("ul");
    ul.className = "checks";
    for (const [name, ok] of Object.entries(v.checks || {})) {
      const li = document.createElement("li");
      li.dataset.check = name;
      li.dataset.pass = String(ok);
      li.className = ok ? "pass" : "fail";
      li.textContent = (ok ? "pass " : "FAIL ") + name;
      ul.appendChild(li);
    }
    checks.appendChild(ul);
    const shards = v.retrained_shards;
    cell(tr, shards === null || shards === undefined ? "" : shards.join(", ") || "none",
      "shards").dataset.shards = JSON.stringify(shards === undefined ? null : shards);
    cell(tr, v.audit_seq === null ? "" : "#" + v.audit_seq, "audit")
      .dataset.seq = String(v.audit_seq);
    cell(tr, v.sha256.slice(0, 12), "sha").title = v.sha256;
    body.appendChild(tr);
  }
}

async function show(depId) {
  document.body.dataset.state = "loading";
  try {
    const enc = encodeURIComponent(depId);
    const [reqs, vers] = await Promise.all([
      api("/v1/deployments/" + enc + "/deletions?limit=1000"),
      api("/v1/deployments/" + enc + "/versions")]);
    renderRequests(reqs.requests);
    renderVersions(vers);
    $("error").textContent = "";
    $("content").hidden = false;
    $("content").dataset.deployment = depId;
    document.body.dataset.state = "ready";
  } catch (e) {
    fail(e.message);
  }
}

async function start() {
  if (!sessionStorage.getItem(KEY)) {
    document.body.dataset.state = "login";
    return;
  }
  document.body.dataset.state = "loading";
  let deps;
  try {
    deps = (await api("/v1/deployments")).deployments;
  } catch (e) {
    fail(e.message);
    return;
  }
  const select = $("deployment");
  select.replaceChildren();
  for (const d of deps) {
    const o = document.createElement("option");
    o.value = d.id;
    o.textContent = d.id + " (" + d.name + ")";
    select.appendChild(o);
  }
  const wanted = decodeURIComponent(location.hash.replace(/^#/, ""));
  if (wanted) {
    await show(wanted);  // a foreign or unknown id: the API's 404, shown as the error
    if (document.body.dataset.state === "ready") select.value = wanted;
  } else if (deps.length) {
    await show(deps[0].id);
  } else {
    fail("this token's tenant has no deployments");
  }
  const d = deps.find((x) => x.id === select.value);
  $("policy").textContent = d ? "policy " + d.policy : "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token").value.trim();
    if (t) sessionStorage.setItem(KEY, t);
    $("token").value = "";
    start();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    location.hash = "";
    location.reload();
  });
  $("deployment").addEventListener("change", (ev) => {
    location.hash = ev.target.value;  // hashchange reloads the tables
  });
  window.addEventListener("hashchange", () => start());
  start();
});
