// The workshop page: register, follow the work after the response, draw the waterfall.
// Plain JavaScript, no build step; everything it needs comes from the app's own API.
"use strict";

const $ = (selector) => document.querySelector(selector);
const STRATEGIES = [...document.querySelectorAll("button.strategy")].map((b) => b.dataset.strategy);
const JAEGER = document.querySelector("[data-jaeger]").dataset.jaeger;
let count = 0;

// Admin calls (knobs, scenarios, retry-dead) go through admin.js's token-aware fetch when loaded.
const adminFetch = (url, options) => (window.marathonFetch || window.fetch.bind(window))(url, options);
// The newest result in view after every click (instant: a projector should not seasick the room).
const reveal = (element) => element && element.scrollIntoView({ block: "nearest" });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (value) => (value == null ? "…" : `${Math.round(value).toLocaleString()} ms`);
const yesNo = (value) => (value === true ? "yes" : value === false ? "NO" : "?");

async function newRunner() {
  const runner = await (await fetch("/api/fake-runner")).json();
  for (const [name, value] of Object.entries(runner)) $(`#runner [name=${name}]`).value = value;
}

function runnerBody() {
  const data = new FormData($("#runner"));
  return Object.fromEntries(data.entries());
}

function say(text) {
  $("#status").textContent = text;
}

function addRow(strategy) {
  count += 1;
  const row = document.createElement("tr");
  row.dataset.strategy = strategy;
  row.innerHTML = `<td>${count}</td><td>${strategy}</td><td class="http">…</td>
    <td class="waited">…</td><td class="server">…</td><td class="settled">…</td>
    <td class="stored">…</td><td class="delivered">…</td><td class="links"></td>`;
  $("#results tbody").prepend(row);
  reveal(row);
  return row;
}

function cell(row, name, text) {
  const c = row.querySelector(`.${name}`);
  c.textContent = text;
  c.classList.toggle("no", text === "NO");
  c.classList.toggle("yes", text === "yes");
}

// Poll the trace until none of its spans is still running (seen twice), as `marathon compare`.
async function settle(traceId, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  let trace = null;
  while (Date.now() < deadline) {
    const r = await fetch(`/api/traces/${traceId}`);
    if (r.ok) {
      trace = (await r.json()).data[0];
      quiet = r.headers.get("Marathon-Spans-Running") === "0" ? quiet + 1 : 0;
      if (quiet >= 2) return trace;
    }
    await sleep(60);
  }
  return trace;
}

function requestSpan(trace) {
  return trace.spans.find((s) => s.tags.some((t) => t.key === "marathon.strategy"));
}

async function follow(row, traceId, runnerId) {
  const trace = await settle(traceId);
  if (trace) {
    const request = requestSpan(trace);
    if (request) {
      cell(row, "server", ms(request.duration / 1000));
      const end = Math.max(...trace.spans.map((s) => s.startTime + s.duration));
      cell(row, "settled", ms((end - request.startTime) / 1000));
      row.dataset.start = request.startTime;
      if (!runnerId) runnerId = request.tags.find((t) => t.key === "marathon.runner_id")?.value;
    }
  }
  if (!runnerId) return;
  // A queued confirmation goes on after the request's trace: follow its state.
  for (let i = 0; i < 600; i++) {
    const status = await (await fetch(`/api/registrations/${runnerId}`)).json();
    cell(row, "stored", yesNo(status.stored));
    const state = status.email.state;
    cell(row, "delivered", state && !["sent", "dead"].includes(state) ? state : yesNo(status.email.delivered));
    if (!state || state === "sent" || state === "dead") {
      if (state && row.dataset.start) {
        const merged = await (await fetch(`/api/waterfalls.svg?trace_id=${traceId}`)).text();
        const ends = [...merged.matchAll(/data-end-ms="([\d.]+)"/g)].map((m) => Number(m[1]));
        if (ends.length) cell(row, "settled", ms(Math.max(...ends)));
      }
      return;
    }
    await sleep(150);
  }
}

async function register(strategy, { show = true } = {}) {
  const row = addRow(strategy);
  const body = runnerBody();
  const started = performance.now();
  const response = await fetch(`/api/marathon/${strategy}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const waited = performance.now() - started;
  const payload = await response.json().catch(() => ({}));
  row.dataset.status = response.status;
  cell(row, "http", String(response.status));
  cell(row, "waited", ms(waited));
  const traceId = (response.headers.get("traceresponse") || "").split("-")[1];
  if (traceId) {
    row.dataset.trace = traceId;
    const links = row.querySelector(".links");
    links.innerHTML = `<button type="button" class="link">waterfall</button>
      <a href="/traces/${traceId}">page</a>${JAEGER ? ` <a href="${JAEGER}/trace/${traceId}">Jaeger</a>` : ""}`;
    links.querySelector("button").addEventListener("click", () => showWaterfall([traceId]));
  }
  if (response.ok && $("#renew").checked) newRunner();
  if (!response.ok) say(`${strategy}: ${response.status} ${payload.detail || ""}`);
  if (traceId) await follow(row, traceId, payload.id);
  if (show && traceId) await showWaterfall([traceId]);
  return { row, traceId };
}

async function waterfallSvg(traceIds, extra = "") {
  const query = traceIds.map((t) => `trace_id=${t}`).join("&");
  const r = await fetch(`/api/waterfalls.svg?${query}${extra}`);
  return r.ok ? r.text() : "";
}

async function showWaterfall(traceIds, target = "#waterfall", extra = "") {
  const svg = await waterfallSvg(traceIds, extra);
  if (svg) {
    $(target).innerHTML = svg;
    reveal($(target));
  }
}

async function compareAll() {
  say("Comparing every strategy…");
  const traces = [];
  for (const strategy of STRATEGIES) {
    await newRunner();
    const { traceId } = await register(strategy, { show: false });
    if (traceId) traces.push(traceId);
  }
  // Five waterfalls on one screen: the request and its direct children (a row's own waterfall
  // button shows every span).
  await showWaterfall(traces, "#waterfall", "&depth=1&compact=true");
  say("Compared every strategy: one time axis, one response line each.");
}

async function watchPending(untilMs) {
  while (Date.now() < untilMs) {
    const bg = await (await fetch("/api/background")).json();
    const queue = await (await fetch("/api/queue")).json();
    const c = queue.counts;
    $("#pending").textContent = `wait_until pending: ${bg.pending} · dropped: ${bg.dropped} · queue: ${c.queued + c.retrying} waiting, ${c.sending} sending, ${c.sent} sent, ${c.dead} dead`;
    await sleep(200);
  }
}

async function burst() {
  const n = Math.min(200, Math.max(1, Number($("#burst-n").value) || 1));
  const strategy = $("#burst-strategy").value;
  const bodies = await Promise.all(Array.from({ length: n }, () => fetch("/api/fake-runner").then((r) => r.json())));
  say(`Sending ${n} × ${strategy} at once…`);
  const watching = watchPending(Date.now() + 8000);
  const statuses = await Promise.all(bodies.map((body) =>
    fetch(`/api/marathon/${strategy}`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    }).then((r) => r.status)));
  const tally = statuses.reduce((acc, s) => ({ ...acc, [s]: (acc[s] || 0) + 1 }), {});
  say(`Burst of ${n} × ${strategy}: ${Object.entries(tally).map(([s, k]) => `${k} × ${s}`).join(", ")}`);
  reveal($("#status"));
  await watching;
}

async function runScenario() {
  const name = $("#scenario").value;
  $("#verdicts").innerHTML = `<p>Running <b>${name}</b>… (every strategy, until its work settles)</p>`;
  $("#scenario-waterfall").innerHTML = "";
  reveal($("#scenario-result"));
  const r = await adminFetch(`/api/scenarios/${name}`, { method: "POST" });
  const result = await r.json();
  if (!r.ok) {
    $("#verdicts").innerHTML = `<p class="no">${result.detail || r.status}</p>`;
    return;
  }
  const rows = result.strategies.map((s) => `<tr data-strategy="${s.strategy}"><td>${s.strategy}</td>
    <td>${s.status}</td><td>${ms(s.client_ms)}</td><td>${yesNo(s.stored)}</td>
    <td>${yesNo(s.delivered)}</td><td class="verdict">${s.verdict || ""}</td></tr>`).join("");
  $("#verdicts").innerHTML = `<table class="verdicts"><thead><tr><th>strategy</th><th>HTTP</th>
    <th>waited</th><th>stored</th><th>email</th><th>verdict</th></tr></thead><tbody>${rows}</tbody></table>`;
  reveal($("#verdicts"));
  const traces = result.strategies.map((s) => s.trace_id).filter(Boolean);
  await showWaterfall(traces, "#scenario-waterfall", "&depth=1&compact=true");
  reveal($("#verdicts"));
}

async function applyKnobs(method) {
  const values = {};
  for (const input of $("#knobs").querySelectorAll("input, select")) {
    values[input.name] = input.type === "number" ? Number(input.value) : input.value;
  }
  const r = await adminFetch("/api/knobs", {
    method, headers: { "content-type": "application/json" },
    body: method === "PUT" ? JSON.stringify(values) : undefined,
  });
  const result = await r.json();
  if (!r.ok) {
    $("#knob-status").textContent = `Not applied: ${(result.extra && result.extra[0].message) || result.detail}`;
    return;
  }
  for (const [name, value] of Object.entries(result.knobs)) {
    const input = $(`#knob-${name}`);
    if (input) input.value = value;
  }
  $("#knob-status").textContent = method === "PUT" ? "Knobs applied to every request." : "Knobs reset.";
}

for (const button of document.querySelectorAll("button.strategy")) {
  button.addEventListener("click", () => register(button.dataset.strategy));
}
$("#new-runner").addEventListener("click", newRunner);
$("#compare-all").addEventListener("click", compareAll);
$("#burst").addEventListener("click", burst);
$("#run-scenario").addEventListener("click", runScenario);
$("#apply-knobs").addEventListener("click", () => applyKnobs("PUT"));
$("#reset-knobs").addEventListener("click", () => applyKnobs("DELETE"));
newRunner();
