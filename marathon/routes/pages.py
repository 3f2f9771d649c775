"""The workshop page (`/` in free mode, `/lesson/{n}` in lesson mode), and the pages learners
check things on (`/outbox`, `/registrations`).

Server-rendered HTML with one small script (`static/app.js`) and one stylesheet; no build
step, no external asset: it works in a room without internet.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import httpx
from litestar import MediaType, Request, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.static_files import create_static_files_router
from opentelemetry.instrumentation.utils import suppress_instrumentation

from marathon import knobs
from marathon.registration import DISTANCES
from marathon.routes.lesson import room
from marathon.scenarios import SCENARIOS
from marathon.service import fake, privacy
from marathon.service.instructor import is_instructor
from marathon.service.settings import Settings
from marathon.strategies import LESSONS, STRATEGIES
from marathon.views import lesson_steps

__all__ = ["ROUTES", "layout"]

STATIC = Path(__file__).parent.parent / "views" / "static"
FIELDS = [
    ("firstName", "First name"),
    ("lastName", "Last name"),
    ("email", "Email"),
    ("address", "Address"),
]


def layout(
    title: str, body: str, *, script: bool = False, mode: str = "", scripts: tuple[str, ...] = ()
) -> str:
    """A page in the workshop's style and navigation; `script` loads the workshop's scripts,
    `scripts` others from `static/`."""
    # admin.js (when present) defines window.marathonFetch, which app.js uses for admin calls.
    names = [n for n in ("admin.js", "app.js", "lesson.js") if script and (STATIC / n).exists()]
    names += scripts
    js = "".join(f'<script src="/static/{n}" defer></script>' for n in names)
    body_class = f' class="mode-{mode}"' if mode else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="/static/app.css">{js}'
        f"</head><body{body_class}>"
        '<header><a class="brand" href="/">marathon</a><nav aria-label="Pages">'
        '<a href="/">Workshop</a><a href="/registrations">Registrations</a>'
        '<a href="/outbox">Outbox</a>'
        '<a href="/api/traces?service=marathon-api&amp;limit=20">Traces (JSON)</a>'
        # The OpenAPI document itself: Litestar's viewers (/schema/swagger) load their scripts
        # from a CDN, and a conference room may have no internet.
        '<a href="/schema/openapi.json">API</a></nav></header>'
        f"<main>{body}</main></body></html>"
    )


def _knob_input(k: dict[str, Any], value: Any) -> str:
    name, label = k["name"], k["name"].replace("_", " ")
    field_id = f"knob-{name}"
    if k["choices"]:
        options = "".join(
            f"<option{' selected' if c == value else ''}>{escape(c)}</option>" for c in k["choices"]
        )
        control = f'<select id="{field_id}" name="{name}">{options}</select>'
    else:
        control = (
            f'<input id="{field_id}" name="{name}" type="number" step="any" '
            f'min="{k["min"]:g}" max="{k["max"]:g}" value="{value:g}">'
        )
    return (
        f'<div class="knob"><label for="{field_id}">{escape(label)}</label>{control}'
        f"<small>{escape(k['doc'])}</small></div>"
    )


def _json_script(name: str, data: Any) -> str:
    text = json.dumps(data).replace("</", "<\\/")
    return f'<script type="application/json" id="{name}">{text}</script>'


def _lesson_section(room: dict[str, Any]) -> str:
    """The lesson's frame; `lesson.js` fills it from the steps embedded below (`lesson_steps.py`)
    and the room as the server sees this request (`routes.lesson.room`)."""
    return f"""
<section id="lesson" class="lesson-mode" aria-labelledby="lesson-title">
<div class="lesson-bar"><p class="counter" id="lesson-counter" aria-live="polite"></p>
<h1 id="lesson-title"></h1>
<div class="lesson-nav"><span class="hint">keys: &larr; &rarr; move, space runs</span>\
<button type="button" id="lesson-prev" aria-keyshortcuts="ArrowLeft">\
&larr; Back</button><button type="button" id="lesson-next" aria-keyshortcuts="ArrowRight">\
Next &rarr;</button></div></div>
<form id="lesson-form" onsubmit="return false">
<p class="question" id="lesson-question"></p>
<div class="predict-row"><fieldset id="lesson-predict"><legend>Your prediction</legend>\
</fieldset><button type="button" id="lesson-run" class="run" aria-keyshortcuts="Space">\
Run this step</button></div>
<div id="lesson-watch" class="watch" hidden><p id="lesson-notice"></p>\
<button type="button" id="lesson-sign-in" class="link">I am the instructor</button></div>
</form>
<div id="lesson-result" class="lesson-result" aria-live="polite" tabindex="-1"></div>
</section>
{_json_script("lesson-data", lesson_steps.as_json())}{_json_script("lesson-room", room)}"""


def _workshop(request: Request[Any, Any, State], step: int | None) -> str:
    """The page; with `step`, it opens in lesson mode on that step."""
    settings: Settings = request.app.state.settings
    fields = "".join(
        f'<div class="field"><label for="f-{n}">{label}</label>'
        f'<input id="f-{n}" name="{n}" required autocomplete="off"></div>'
        for n, label in FIELDS
    )
    distances = "".join(f"<option>{d}</option>" for d in DISTANCES)
    buttons = "".join(
        f'<button type="button" class="strategy" data-strategy="{name}" '
        f'aria-describedby="lesson-{name}">{name}</button>'
        f'<p class="lesson" id="lesson-{name}">{escape(LESSONS[name].summary)}</p>'
        for name in STRATEGIES
    )
    current = knobs.defaults().as_dict()
    knob_inputs = "".join(_knob_input(k, current[k["name"]]) for k in knobs.describe())
    locked = "" if settings.knobs_mutable else " disabled"
    scenario_options = "".join(
        f'<option value="{s.name}">{s.name}: {escape(s.teaches)}</option>'
        for s in SCENARIOS.values()
    )
    strategy_options = "".join(f"<option>{n}</option>" for n in STRATEGIES)
    jaeger = escape(settings.jaeger_ui_url or "")
    mode = "lesson" if step else "free"
    body = f"""
<div class="modes" role="navigation" aria-label="Mode"><a href="/lesson/{step or 1}" \
id="mode-lesson"{' aria-current="page"' if step else ""}>Lesson</a><a href="/" id="mode-free"\
{"" if step else ' aria-current="page"'}>Free mode</a></div>
{_lesson_section(room(request))}
<div id="free" class="free-mode" data-mode="{mode}" data-step="{step or 1}">
<h1>Who waits, and what gets lost?</h1>
<p class="intro">Every button registers the runner below and sends a confirmation email: the
same work, in a different order. Watch what you wait for, and what happens after the answer.</p>
<div class="grid" data-jaeger="{jaeger}">
<section aria-labelledby="runner-h"><h2 id="runner-h">Runner</h2>
<form id="runner" onsubmit="return false">{fields}
<div class="field"><label for="f-distance">Distance</label>
<select id="f-distance" name="distance">{distances}</select></div>
<div class="row"><button type="button" id="new-runner">New runner</button>
<label class="check"><input type="checkbox" id="renew" checked> new runner after each
registration</label></div></form></section>
<section aria-labelledby="strategies-h"><h2 id="strategies-h">Register with…</h2>
<div class="strategies">{buttons}</div>
<div class="row"><button type="button" id="compare-all">Compare all</button>
<label for="burst-n">Burst &times;</label><input id="burst-n" type="number" min="1" max="200"
value="20"><label for="burst-strategy" class="sr-only">strategy for the burst</label>
<select id="burst-strategy">{strategy_options}</select>
<button type="button" id="burst">Send burst</button></div>
<p id="pending" aria-live="polite" class="pending"></p></section>
</div>
<section aria-labelledby="results-h"><h2 id="results-h">Results</h2>
<div class="scroll"><table id="results"><thead><tr><th scope="col">#</th>
<th scope="col">strategy</th><th scope="col">HTTP</th><th scope="col">browser waited</th>
<th scope="col">server span</th><th scope="col">work finished</th><th scope="col">row stored</th>
<th scope="col">email sent</th><th scope="col">trace</th></tr></thead><tbody></tbody></table>
</div><p id="status" role="status" aria-live="polite"></p></section>
<section aria-labelledby="waterfall-h"><h2 id="waterfall-h">Waterfall</h2>
<p class="hint">The red dashed line is when the response was sent. Hatched bars ended after it:
nobody waited for them. Click a result's trace link to see its waterfall.</p>
<div id="waterfall" class="scroll" aria-live="polite"></div></section>
<section aria-labelledby="scenario-h"><h2 id="scenario-h">Scenarios</h2>
<form id="scenario-form" onsubmit="return false"><label for="scenario">Failure lesson</label>
<select id="scenario">{scenario_options}</select>
<button type="button" id="run-scenario"{locked}>Run scenario</button></form>
<div id="scenario-result" aria-live="polite"><div id="verdicts"></div>
<div id="scenario-waterfall"></div></div></section>
<section aria-labelledby="knobs-h"><h2 id="knobs-h">Knobs</h2>
<form id="knobs" onsubmit="return false"><details><summary>Change the knobs (for every
request)</summary><div class="knobs">{knob_inputs}</div></details>
<div class="row"><button type="button" id="apply-knobs"{locked}>Apply knobs</button>
<button type="button" id="reset-knobs"{locked}>Reset</button></div>
<p id="knob-status" role="status" aria-live="polite"></p></form></section>
</div>"""
    return layout("marathon: who waits, and what gets lost?", body, script=True, mode=mode)


@get("/", media_type=MediaType.HTML, include_in_schema=False)
async def index(request: Request[Any, Any, State]) -> str:
    return _workshop(request, None)


@get("/lesson/{number:int}", media_type=MediaType.HTML, include_in_schema=False)
async def lesson_page(request: Request[Any, Any, State], number: FromPath[int]) -> str:
    """The page in lesson mode, on step `number` (a deep link for the projector)."""
    if not 1 <= number <= len(lesson_steps.STEPS):
        raise NotFoundException(detail=f"the lesson has steps 1 to {len(lesson_steps.STEPS)}")
    return _workshop(request, number)


@get("/api/lesson")
async def lesson_json() -> dict[str, Any]:
    """The lesson's steps: question, prediction, what each runs, how to read the answer."""
    return lesson_steps.as_json()


@get("/api/fake-runner")
async def fake_runner() -> dict[str, Any]:
    """A registration body for a new fictional runner (the page's "New runner" button)."""
    return fake.runner()


@get("/registrations", media_type=MediaType.HTML)
async def registrations_page(request: Request[Any, Any, State], state: State) -> str:
    """The last 50 registrations, from the database, with their confirmation's state (what
    others may see of them: `privacy`)."""
    full = is_instructor(request)
    async with state.db.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT r.id, r.email, r.distance, r.created_at, c.state, c.attempts FROM runners r"
            " LEFT JOIN confirmations c ON c.runner_id = r.id ORDER BY r.id DESC LIMIT 50"
        )
        rows = await cur.fetchall()
    body = "".join(
        f"<tr><td><code>{privacy.runner_id(rid, full=full)}</code></td>"
        f"<td>{escape(privacy.email(mail, full=full))}</td><td>{dist}</td>"
        f"<td>{created:%H:%M:%S}</td><td>{escape(st or 'not queued')}</td><td>{att or ''}</td></tr>"
        for rid, mail, dist, created, st, att in rows
    )
    return layout(
        "Registrations",
        "<h1>Registrations</h1><p>What the database holds (newest first), and for queued "
        "registrations the state of the confirmation.</p><div class=scroll><table><thead><tr>"
        "<th>id</th><th>email</th><th>distance</th><th>stored at (UTC)</th>"
        f"<th>confirmation</th><th>attempts</th></tr></thead><tbody>{body}</tbody></table></div>",
    )


@get("/outbox", media_type=MediaType.HTML)
async def outbox_page(request: Request[Any, Any, State], state: State) -> str:
    """What the email API really delivered (the sandbox's outbox, through the app)."""
    full = is_instructor(request)
    settings: Settings = state.settings
    if not settings.uses_sandbox:
        return layout("Outbox", "<h1>Outbox</h1><p>Real Resend: see its dashboard.</p>")
    with suppress_instrumentation():
        async with httpx.AsyncClient(timeout=5) as client:
            emails = (await client.get(f"{settings.email_api_url}/outbox")).json()["data"][:100]
    body = "".join(
        f"<tr><td>{escape(e['created_at'][11:19])}</td>"
        f"<td>{escape(privacy.email(e['to'][0], full=full))}</td><td>{escape(e['subject'])}</td>"
        f"<td><code>{escape(privacy.runner_id(e['idempotency_key'] or '', full=full))}</code>"
        "</td></tr>"
        for e in emails
    )
    return layout(
        "Outbox",
        f"<h1>Outbox</h1><p>{len(emails)} email(s) delivered by the email API, newest first. "
        "The idempotency key is the runner id.</p><div class=scroll><table><thead><tr>"
        "<th>time (UTC)</th><th>to</th><th>subject</th><th>runner id</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div>",
    )


ROUTES: list[Any] = [
    index,
    lesson_page,
    lesson_json,
    fake_runner,
    registrations_page,
    outbox_page,
    create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
]
