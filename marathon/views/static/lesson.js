// Lesson mode: the seven steps of marathon/views/lesson_steps.py (embedded in the page as JSON), one at a
// time, for a projector. This file only lays the steps out and runs them against the app's own
// API; the questions, what each step runs and how to read its answer are the module's data.
"use strict";

const LESSON = JSON.parse($("#lesson-data").textContent);
const STEPS = LESSON.steps;
let step = Number($("#free").dataset.step) || 1;
let running = false;
// The server's view of this tab (marathon/routes/lesson.py): the steps it watches rather than
// runs (they change what the whole room shares: the instructor's, beyond loopback), and what to
// say on them. Embedded for a tab without a token; asked again with the instructor's token.
let ROOM = JSON.parse($("#lesson-room").textContent);
const RESULTS = {}; // the instructor's latest result per step
let results = null; // their stream (GET /api/lesson/results/events), opened on a watched step
const watching = (n) => ROOM.watch_steps.includes(n);

// Does a "strategies" answer name this outcome? The server judged it (its `verdicts`, from
// marathon/outcomes.py): no rule is written here. Only "waited" is read, from the trace.
const names = (o, where) => {
  const verdict = LESSON.answers[where].verdict;
  return verdict ? (o.verdicts || []).includes(verdict) : o.waited_for_email === true;
};
// The server's sentences for the verdicts it gave: the status and the wait have their own columns.
const facts = (o) => (o.verdicts || []).map((k) => LESSON.verdicts[k].sentence).join("; ");

const html = (text) => String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function setMode(mode) {
  document.body.classList.toggle("mode-lesson", mode === "lesson");
  document.body.classList.toggle("mode-free", mode === "free");
  for (const m of ["lesson", "free"]) {
    if (m === mode) $(`#mode-${m}`).setAttribute("aria-current", "page");
    else $(`#mode-${m}`).removeAttribute("aria-current");
  }
}

function predictionControls(s) {
  if (s.predict === "strategies") {
    return s.choices.map((c) => `<label class="pick"><input type="checkbox" name="predict" value="${c}"> ${c}</label>`).join("");
  }
  const unit = s.predict === "ms" ? "ms" : `of ${s.run.n}`;
  const label = s.predict === "ms" ? "The user waits about" : "Answered 503:";
  return `<label for="predict-number">${label}</label> <input id="predict-number" type="number" min="0" step="${s.predict === "ms" ? 50 : 1}" inputmode="numeric"> ${unit}`;
}

function show(n, { push = true } = {}) {
  step = Math.min(STEPS.length, Math.max(1, n));
  const s = STEPS[step - 1];
  $("#lesson-counter").textContent = `${step} / ${STEPS.length}`;
  $("#lesson-title").textContent = s.title;
  $("#lesson-question").textContent = s.question;
  $("#lesson-predict").innerHTML = `<legend>Your prediction</legend>${predictionControls(s)}`;
  $("#lesson-result").innerHTML = "";
  delete $("#lesson-result").dataset.step;
  roomView();
  $("#lesson-prev").disabled = step === 1;
  $("#lesson-next").disabled = step === STEPS.length;
  $("#mode-lesson").href = `/lesson/${step}`;
  document.title = `${step}/${STEPS.length} ${s.title} · marathon`;
  if (push && location.pathname !== `/lesson/${step}`) history.pushState({ step }, "", `/lesson/${step}`);
  window.scrollTo(0, 0);
}

// A watched step: the server's sentence instead of the run button, and the instructor's latest
// result for it, against this learner's own prediction.
function roomView() {
  const watched = watching(step);
  $("#lesson-watch").hidden = !watched;
  $("#lesson-run").hidden = watched;
  $("#lesson-notice").textContent = ROOM.notice;
  $("#lesson-sign-in").hidden = ROOM.shared_changes !== "instructor";
  if (watched && !results) {
    results = new EventSource("/api/lesson/results/events");
    results.addEventListener("result", (e) => {
      const published = JSON.parse(e.data);
      RESULTS[published.step] = published;
      showInstructorResult(published);
    });
  }
  if (watched && RESULTS[step]) showInstructorResult(RESULTS[step]);
}

async function showInstructorResult(published) {
  const s = STEPS[published.step - 1];
  if (step !== published.step || !watching(step) || running) return;
  const at = new Date(published.at).toLocaleTimeString();
  await renderResult(s, published.step, prediction(s), published.outcomes, `The instructor's run at ${at}: `);
}

function prediction(s) {
  if (s.predict === "strategies") {
    const picked = [...document.querySelectorAll("#lesson-predict input:checked")].map((i) => i.value);
    return picked;
  }
  const value = $("#predict-number").value;
  return value === "" ? null : Number(value);
}

// The outcome of one registration, in the shape of a scenario's result (compare's JSON).
async function registerOne(strategy, knobs) {
  const body = await (await fetch("/api/fake-runner")).json();
  const started = performance.now();
  const r = await fetch(`/api/marathon/${strategy}`, {
    method: "POST",
    headers: { "content-type": "application/json", "Marathon-Knobs": knobs },
    body: JSON.stringify(body),
  });
  const client_ms = performance.now() - started;
  const payload = await r.json().catch(() => ({}));
  // A refused registration's id is in `extra` (the server says what it stored under it: nothing).
  const id = payload.id || (payload.extra && payload.extra.id);
  return { strategy, status: r.status, client_ms, id, trace_id: (r.headers.get("traceresponse") || "").split("-")[1] };
}

// The trace says whether the email was inside the response (the user waited for it): a fact of
// the ordering, where a threshold on the wait would depend on the machine's load.
function emailBeforeResponse(trace) {
  const request = trace && requestSpan(trace);
  const email = trace && trace.spans.find((s) => s.operationName === "send confirmation");
  if (!request || !email) return null;
  return email.startTime + email.duration <= request.startTime + request.duration;
}

async function settled(outcome) {
  if (outcome.trace_id) outcome.waited_for_email = emailBeforeResponse(await settle(outcome.trace_id));
  outcome.stored = outcome.delivered = null;
  if (!outcome.id) return outcome;
  for (let i = 0; i < 100; i++) {
    const status = await (await fetch(`/api/registrations/${outcome.id}`)).json();
    outcome.stored = status.stored;
    outcome.delivered = status.email.delivered;
    const state = status.email.state;
    if (!state || state === "sent" || state === "dead") break;
    await sleep(150);
  }
  return outcome;
}

const RUNS = {
  // Every strategy at once: the step takes as long as the slowest, not the sum.
  async register(run) {
    const outcomes = await Promise.all(run.register.map((s) => registerOne(s, run.knobs)));
    return Promise.all(outcomes.map(settled));
  },
  async scenario(run) {
    const r = await adminFetch(`/api/scenarios/${run.scenario}`, { method: "POST" });
    const result = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(result.detail || `scenario answered ${r.status}`);
    return result.strategies;
  },
  async burst(run) {
    const burst = () => Promise.all(Array.from({ length: run.n }, () => registerOne(run.burst, run.knobs)));
    // Shared limits are the instructor's (PUT /api/knobs): set for the step only.
    const outcomes = await (run.shared ? withSharedKnobs(run.shared, burst) : burst());
    return Promise.all(outcomes.map(settled)); // what each answer stored, once its work is done
  },
};

// `values` in force (PUT /api/knobs) while `work()` runs, then the PUT's `replaced` put back:
// exactly what changed, also if `work()` throws (marathon/lab/shared_knobs.py in Python).
async function withSharedKnobs(values, work) {
  const put = async (body) => {
    const r = await adminFetch("/api/knobs", {
      method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`changing the shared knobs answered ${r.status}`);
    return (await r.json()).replaced;
  };
  const replaced = await put(values);
  try {
    return await work();
  } finally {
    if (Object.keys(replaced).length) await put(replaced);
  }
}

function answerText(s, guess, outcomes) {
  const you = (text) => `<span class="you">You: ${text}</span>`;
  if (s.predict === "ms") {
    const o = outcomes.find((x) => x.strategy === s.answer.strategy);
    const measured = o ? o.client_ms : null;
    const close = guess != null && measured != null && Math.abs(guess - measured) <= 0.25 * measured;
    const verdict = guess == null ? "" : close ? " ✓ close" : ` (off by ${ms(Math.abs(guess - measured))})`;
    return `${you(guess == null ? "no prediction" : ms(guess))} · <b>${s.answer.strategy}: the user waited ${ms(measured)}</b>${verdict}`;
  }
  if (s.predict === "count") {
    const answered = outcomes.filter((o) => o.status === s.answer.status);
    const count = answered.length;
    const stored = answered.filter((o) => o.stored === true).length;
    const verdict = guess == null ? "" : guess === count ? " ✓ exactly" : ` (off by ${Math.abs(guess - count)})`;
    const kept = count ? ` · ${stored ? `${stored} of them stored a runner` : "they stored nothing"}` : "";
    return `${you(guess == null ? "no prediction" : guess)} · <b>${count} of ${outcomes.length} answered ${s.answer.status}</b>${verdict}${kept}`;
  }
  const actual = outcomes.filter((o) => names(o, s.answer.where)).map((o) => o.strategy);
  const missed = actual.filter((a) => !guess.includes(a));
  const wrong = guess.filter((g) => !actual.includes(g));
  const verdict = !missed.length && !wrong.length ? " ✓ exactly right"
    : `${missed.length ? ` · missed: ${missed.join(", ")}` : ""}${wrong.length ? ` · not: ${wrong.join(", ")}` : ""}`;
  return `${you(guess.length ? guess.join(", ") : "none")} · <b>${LESSON.answers[s.answer.where].label}: ${actual.length ? actual.join(", ") : "none"}</b>${verdict}`;
}

// null: nothing to look up (the server's sentence for it, under the table).
function cellYes(value) {
  if (value == null) return `<td class="unchecked" title="${html(LESSON.not_checked)}">–</td>`;
  const text = yesNo(value);
  return `<td class="${text === "NO" ? "no" : "yes"}">${text}</td>`;
}

function outcomeTable(s, outcomes) {
  if (s.run.burst) {
    const byStatus = {};
    for (const o of outcomes) (byStatus[o.status] = byStatus[o.status] || []).push(o);
    const rows = Object.entries(byStatus).map(([status, os]) => {
      const count = (yes) => os.filter(yes).length;
      return `<tr data-status="${status}"><td>${status}</td><td>${os.length}</td>
        <td class="stored">${count((o) => o.stored === true)}</td><td class="emails">${count((o) => o.delivered === true)}</td>
        <td>${ms(Math.max(...os.map((o) => o.client_ms)))}</td></tr>`;
    }).join("");
    return `<table class="outcomes"><thead><tr><th scope="col">HTTP</th><th scope="col">answers</th>
      <th scope="col">rows stored</th><th scope="col">emails</th><th scope="col">slowest</th></tr></thead>
      <tbody>${rows}</tbody></table>`;
  }
  const rows = outcomes.map((o) => {
    const verdict = facts(o);
    return `<tr data-strategy="${o.strategy}"><th scope="row">${o.strategy}</th><td>${o.status}</td>
      <td>${ms(o.client_ms)}</td>${cellYes(o.stored)}${cellYes(o.delivered)}</tr>${verdict
      ? `<tr class="verdict-row" data-strategy="${o.strategy}"><td colspan="5">${html(verdict)}</td></tr>` : ""}`;
  }).join("");
  const unchecked = outcomes.some((o) => o.stored == null || o.delivered == null)
    ? `<p class="note">– ${html(LESSON.not_checked)}</p>` : "";
  return `<table class="outcomes"><thead><tr><th scope="col">strategy</th><th scope="col">HTTP</th>
    <th scope="col">waited</th><th scope="col">row</th><th scope="col">email</th></tr></thead>
    <tbody>${rows}</tbody></table>${unchecked}`;
}

async function tracesToDraw(s, outcomes) {
  if (!s.run.burst) return outcomes.map((o) => o.trace_id).filter(Boolean);
  // A burst: one answer of each kind (an accepted one, a rejected one), once its work is done.
  const first = {};
  for (const o of outcomes) if (o.trace_id && !first[o.status]) first[o.status] = o.trace_id;
  await Promise.all(Object.values(first).map((t) => settle(t)));
  return Object.values(first);
}

// The step's title and question, and its result below them: the slide from its counter down.
// If even that is too tall for the screen, the result (reached with the keys or the mouse).
function revealResult() {
  const result = $("#lesson-result");
  const top = $("#lesson").getBoundingClientRect().top;
  const bottom = result.getBoundingClientRect().bottom;
  if (top >= 0 && bottom <= window.innerHeight) return;
  if (bottom - top + 4 <= window.innerHeight) window.scrollBy(0, top - 4);
  else reveal(result);
}

async function renderResult(s, at, guess, outcomes, by = "") {
  const result = $("#lesson-result");
  const svg = await waterfallSvg(await tracesToDraw(s, outcomes), "&depth=1&compact=true");
  if (step !== at) return; // the presenter moved on meanwhile
  result.innerHTML = `<p class="answer">${html(by)}${answerText(s, guess, outcomes)}</p>
    <div class="lesson-grid"><div class="lesson-facts">${outcomeTable(s, outcomes)}</div>
    <div class="lesson-waterfall">${svg}</div></div>
    <p class="takeaway"><b>Takeaway:</b> ${html(s.takeaway)}</p>`;
  result.dataset.step = at;
}

async function runStep() {
  if (running || watching(step)) return;
  running = true;
  const s = STEPS[step - 1];
  const at = step;
  const guess = prediction(s);
  const result = $("#lesson-result");
  $("#lesson-run").disabled = true;
  // Away from the prediction's field, so that ←/→ move on again rather than edit the number.
  result.focus({ preventScroll: true });
  result.innerHTML = `<p class="running">Running step ${at}…</p>`;
  reveal(result);
  try {
    const kind = Object.keys(RUNS).find((k) => k in s.run);
    const outcomes = await RUNS[kind](s.run);
    // A shared step's result goes to every learner's screen too (they watch it, not run it).
    if (s.shared) {
      adminFetch(`/api/lesson/${at}/result`, {
        method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ outcomes }),
      });
    }
    await renderResult(s, at, guess, outcomes);
  } catch (e) {
    result.innerHTML = `<p class="no">Could not run the step: ${html(e.message)}</p>`;
  } finally {
    running = false;
    $("#lesson-run").disabled = false;
    revealResult();
  }
}

// ←/→ move, space runs; typing in a field, or space on a focused control, keeps its usual meaning.
document.addEventListener("keydown", (e) => {
  if (!document.body.classList.contains("mode-lesson") || e.altKey || e.ctrlKey || e.metaKey) return;
  const tag = e.target.tagName;
  if (e.key === "Enter" && tag === "INPUT" && e.target.closest("#lesson-form")) {
    e.preventDefault(); // Enter in a prediction (a number or a ticked strategy) runs the step
    runStep();
    return;
  }
  if (["INPUT", "SELECT", "TEXTAREA"].includes(tag) && e.target.type !== "checkbox") return;
  const nav = e.target.id === "lesson-prev" || e.target.id === "lesson-next";
  if (e.key === "ArrowRight") show(step + 1);
  else if (e.key === "ArrowLeft") show(step - 1);
  else if (e.key === " " && (nav || !["BUTTON", "INPUT", "A", "SUMMARY"].includes(tag))) runStep();
  else return;
  e.preventDefault();
});

$("#lesson-prev").addEventListener("click", () => show(step - 1));
$("#lesson-next").addEventListener("click", () => show(step + 1));
$("#lesson-run").addEventListener("click", runStep);
$("#mode-lesson").addEventListener("click", (e) => {
  e.preventDefault();
  setMode("lesson");
  show(step);
});
$("#mode-free").addEventListener("click", (e) => {
  e.preventDefault();
  setMode("free");
  history.pushState({ free: true }, "", "/");
});
window.addEventListener("popstate", () => {
  const m = location.pathname.match(/^\/lesson\/(\d+)$/);
  setMode(m ? "lesson" : "free");
  if (m) show(Number(m[1]), { push: false });
});

$("#lesson-sign-in").addEventListener("click", async () => {
  ROOM = await window.marathonSignIn();
  roomView();
});
// A learner's own prediction, typed after the instructor's result arrived, is compared too.
$("#lesson-predict").addEventListener("change", () => {
  if (watching(step) && RESULTS[step]) showInstructorResult(RESULTS[step]);
});

setMode(document.body.classList.contains("mode-lesson") ? "lesson" : "free");
show(step, { push: false });
// The instructor's tab keeps its token (admin.js): the server then says it runs every step.
if (ROOM.watch_steps.length && window.marathonToken()) {
  window.marathonRoom().then((room) => {
    ROOM = room;
    roomView();
  });
}
