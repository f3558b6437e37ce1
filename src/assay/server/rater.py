"""Rater pages: log in and out, the queue, rating / comparing / ranking, guidelines, gold feedback."""

from __future__ import annotations

import math
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from assay import annotate as A
from assay import records as R
from assay.annotate.campaigns import campaign_dimensions, rubric_of
from assay.errors import BadInput, NotFound
from assay.server import accounts as ACC
from assay.server import blind
from assay.server.app import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginRequired,
    check_csrf,
    check_form,
    current_user,
    error_page,
    parse_form,
    read_form,
    render,
    secure_request,
    store_of,
    wants_json,
)
from assay.store import rating as S
from assay.store.rating_pg import AsyncPG, split_read

router = APIRouter()
IDLE_S = 3600.0  # longer from hand-out to answer, the rater was away: the time says nothing of the work
UserDep = Annotated[ACC.User, Depends(current_user)]


# ---- logging in and out -----------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    resp = render(request, "login.html", login_csrf=token, error=None)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_request(request),
                    max_age=3600)
    return resp


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not ACC.csrf_ok(cookie or "", form.get("csrf_token")):
        return error_page(request, 403, "the login form expired: reload the page and try again")
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    address = request.client.host if request.client else ""
    store = store_of(request)
    try:
        user = await run_in_threadpool(ACC.authenticate, store, name, password, address=address)
    except ACC.RateLimited as e:
        return render(request, "login.html", status=429, login_csrf=cookie, error=str(e))
    if user is None:
        return render(request, "login.html", status=401, login_csrf=cookie, error="wrong name or password")
    token, _ = await run_in_threadpool(ACC.start_session, store, user)
    resp = RedirectResponse("/", status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure_request(request),
                    max_age=int(ACC.SESSION_TTL.total_seconds()), path="/")
    resp.delete_cookie(LOGIN_CSRF_COOKIE)
    return resp


@router.post("/logout")
async def logout(request: Request, user: UserDep) -> Response:
    form = await read_form(request)
    check_csrf(request, user, form)
    await run_in_threadpool(ACC.end_session, store_of(request), request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_request(request))
    return resp


# ---- the queue ------------------------------------------------------------------------------


def _campaign_for_rater(request: Request, user: ACC.User, cid: str) -> R.Campaign:
    """A campaign the user may rate in; NotFound otherwise (its existence is not revealed)."""
    store = store_of(request)
    camp = S.campaign(store, cid) if len(cid) <= 64 else None
    if camp is None or not A.can_rate(store, camp, user.rater_id):
        raise NotFound("campaign")
    return camp


@router.get("/")
def home(request: Request, user: UserDep) -> Response:
    store = store_of(request)
    rows = []
    for camp in store.iter(R.Campaign, status="open"):
        if A.can_rate(store, camp, user.rater_id):
            rows.append({"campaign": camp, "queue": A.queue_status(store, camp, user.rater_id)})
    return render(request, "home.html", rows=rows)


@router.get("/c/{cid}/next")
def next_item(cid: str, request: Request, user: UserDep) -> Response:
    camp = _campaign_for_rater(request, user, cid)
    asg = A.next_assignment(store_of(request), camp, user.rater_id)
    if asg is None:
        if wants_json(request):
            return JSONResponse({"assignment": None})
        return render(request, "done.html", campaign=camp, queue=A.queue_status(store_of(request), camp, user.rater_id))
    if wants_json(request):
        # handles, never response ids: a rater could compute those from the dataset and the models
        key = S.app_secret(store_of(request))
        return JSONResponse({"assignment": asg.id, "shown_order": blind.handles(key, asg)})
    return RedirectResponse(f"/a/{asg.id}", status_code=303)


@router.get("/c/{cid}/guidelines")
def guidelines(cid: str, request: Request, user: UserDep) -> Response:
    store = store_of(request)
    camp = store.find(R.Campaign, cid)
    if camp is None:
        raise NotFound("campaign")
    if not (A.can_rate(store, camp, user.rater_id) or user.is_admin or camp.created_by == user.name):
        raise NotFound("campaign")
    gv = store.guideline(camp.rubric, camp.guideline_version)
    return render(request, "guidelines.html", campaign=camp, guideline=gv, rubric=rubric_of(store, camp.rubric))


# ---- one assignment ---------------------------------------------------------------------------


def _own_assignment(request: Request, user: ACC.User, aid: str) -> tuple[R.Assignment, R.Campaign]:
    """The user's own assignment and its campaign; NotFound for anyone else's (no existence leak)."""
    found = S.assignment_and_campaign(store_of(request), aid) if len(aid) <= 64 else None
    if found is None or found[0].rater_id != user.rater_id:
        raise NotFound("assignment")
    return found


def _context(request: Request, asg: R.Assignment, camp: R.Campaign, user: ACC.User) -> dict[str, Any]:
    store = store_of(request)
    resp = {r.id: r for r in store.iter(R.Response, id=asg.shown_order)}
    item = store.get(R.Item, resp[asg.shown_order[0]].item_id)
    return _page_context(asg, camp, item, {k: {"model": r.model, "text": r.text} for k, r in resp.items()},
                         campaign_dimensions(store, camp), A.queue_status(store, camp, user.rater_id))


def _page_context(asg: R.Assignment, camp: R.Campaign, item: Any, responses: dict[str, dict[str, Any]],
                  dims: list[R.Dimension], queue: A.QueueStatus) -> dict[str, Any]:
    """What the assignment page shows: ``item`` has a prompt and messages; ``responses`` maps each
    response id to its model and text."""
    shown = [{"letter": chr(65 + i), "number": i + 1, "text": responses[rid]["text"],
              "model": None if camp.blind else responses[rid]["model"]}
             for i, rid in enumerate(asg.shown_order)]
    return {"assignment": asg, "campaign": camp, "item": item, "goal": attack_goal(item), "shown": shown,
            "dimensions": dims, "queue": queue, "values": {}, "flags": [], "error": None}


def attack_goal(item: Any) -> str | None:
    """The behaviour a red-team prompt tries to get (an attack's prompt may hide it: base64, role play)."""
    if isinstance(item, dict):
        goal = item.get("goal")
    else:
        meta = getattr(item, "metadata", None) or {}
        goal = meta.get("goal") if meta.get("attack") else None
    return goal if isinstance(goal, str) and goal.strip() else None


def _assignment_page(aid: str, request: Request) -> Response:
    user = current_user(request)
    asg, camp = _own_assignment(request, user, aid)
    if asg.status == "skipped":
        return RedirectResponse(f"/c/{camp.id}/next", status_code=303)
    if asg.status == "done":
        if A.feedback(store_of(request), camp, asg) is not None:
            return RedirectResponse(f"/a/{aid}/feedback", status_code=303)
        return RedirectResponse(f"/c/{camp.id}/next", status_code=303)
    return render(request, "assignment.html", **_context(request, asg, camp, user))


async def _fast_page(request: Request, aid: str, pg: AsyncPG) -> Response | None:
    """PostgreSQL: the page of a pending assignment on the event loop, in two queries (the
    session with the assignment; its responses, item and the rater's queue). None when the
    general path should answer (anything but a pending assignment)."""
    user, asg, camp, item_id = await _session_and_assignment(request, aid, pg)
    if asg is None or camp is None or asg.status != "pending":
        return None
    store = store_of(request)
    dims = campaign_dimensions(store, camp)  # the rubric is cached after its first use
    is_open = A.is_open(camp)
    data = await pg.page(camp, asg, item_id, is_open=is_open, limit=A.AVAILABLE_SHOWN + 1)
    queue = A.queue_status_of(data, data["available"] if is_open else 0)
    return render(request, "assignment.html", **_page_context(asg, camp, data["item"], data["responses"], dims, queue))


async def _session_and_assignment(request: Request, aid: str, pg: AsyncPG
                                  ) -> tuple[ACC.User, R.Assignment | None, R.Campaign | None, str | None]:
    """The signed-in user (LoginRequired otherwise) and their own assignment with its campaign and
    item, in one query; NotFound for anyone else's assignment (its existence is not revealed)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        raise LoginRequired
    row = await pg.read(ACC.token_hash(token), aid if len(aid) <= 64 else "")
    user = ACC.user_of_session(row)
    if user is None or row is None:  # no row has no user
        raise LoginRequired
    request.state.user = user
    _, asg, camp, item_id = split_read(row)
    if asg is not None and asg.rater_id != user.rater_id:
        raise NotFound("assignment")
    return user, asg, camp, item_id


@router.get("/a/{aid}")
async def assignment_page(aid: str, request: Request) -> Response:
    pg = request.app.state.pg
    if pg is not None:
        page = await _fast_page(request, aid, pg)
        if page is not None:
            return page
    return await run_in_threadpool(_assignment_page, aid, request)


def _time_spent(asg: R.Assignment) -> float | None:
    """Seconds from the assignment's hand-out to now, measured by the server (a client's clock is not
    asked); None past ``IDLE_S``."""
    start = asg.created_at if asg.created_at.tzinfo is not None else asg.created_at.replace(tzinfo=R.utcnow().tzinfo)
    spent = (R.utcnow() - start).total_seconds()
    return max(spent, 0.0) if spent <= IDLE_S else None


def _scale_value(dim: R.Dimension, raw: str) -> str | float:
    """A posted value of a dimension: a label as is, else a finite number (the rubric checks its range)."""
    if dim.scale.kind == "categorical":
        return raw
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{raw[:40]!r} is not a number", field=dim.name) from None
    if not math.isfinite(value):
        raise BadInput(f"{raw[:40]!r} is not a finite number", field=dim.name)
    return value


def _rank(raw: str, n: int, letter: str) -> int:
    if not (raw.isascii() and raw.isdigit() and 1 <= len(raw) <= 3):
        raise BadInput(f"give response {letter} a rank from 1 to {n}", field="ranking")
    return int(raw)


def _answer(form: Any, asg: R.Assignment, camp: R.Campaign, dims: list[R.Dimension], key: str) -> A.Answer:
    """The rater's answer from the submitted form, in response ids. The form names responses by
    letter (A, B, ...) or by their handles (``blind``), never by id; time spent is the server's."""
    ans = A.Answer(justification=str(form.get("justification", "")), flags=[str(f) for f in form.getlist("flag")],
                   flag_note=str(form.get("flag_note", "")), time_spent_s=_time_spent(asg))
    refs = blind.by_reference(key, asg)
    if camp.kind == "rate":
        ans.values = {d.name: _scale_value(d, str(form.get(f"dim:{d.name}"))) for d in dims
                      if form.get(f"dim:{d.name}") not in (None, "")}
    elif camp.kind == "compare":
        choice = str(form.get("choice", ""))
        ans.choice = refs.get(choice, choice if choice in ("tie", "both_bad") else None)
        s = str(form.get("strength", ""))
        ans.strength = int(s) if s in ("1", "2") else None
    else:
        ranks = {}
        n = len(asg.shown_order)
        for i, rid in enumerate(asg.shown_order):
            letter = chr(65 + i)
            raw = form.get(f"rank:{letter}") or form.get(f"rank:{blind.handle(key, asg.id, rid)}") or ""
            ranks[rid] = _rank(str(raw), n, letter)
        if sorted(ranks.values()) != list(range(1, n + 1)):
            raise BadInput(f"ranks must be 1..{n}, each used once", field="ranking")
        ans.ranking = sorted(ranks, key=lambda rid: ranks[rid])
    return ans


def _submit(request: Request, user: ACC.User, aid: str, form: Any) -> Response:
    asg, camp = _own_assignment(request, user, aid)
    store = store_of(request)
    dims = campaign_dimensions(store, camp)
    try:
        res = A.submit(store, camp, asg, _answer(form, asg, camp, dims, S.app_secret(store)), claim_next=True)
    except BadInput as e:
        if wants_json(request):
            return JSONResponse({"error": e.message, "field": e.field}, status_code=422)
        ctx = _context(request, asg, camp, user)
        ctx.update(error=e.message, values=dict(form), flags=form.getlist("flag"))
        return render(request, "assignment.html", status=422, **ctx)
    nxt = None
    if res.feedback is None:
        # hand out the next unit in the same request: one round trip less per item for the rater
        nxt = res.next or (A.next_assignment(store, camp, user.rater_id) if A.is_open(camp) else None)
    return _answered(request, camp, aid, res.created, res.record_ids, res.feedback, nxt)


def _answered(request: Request, camp: R.Campaign, aid: str, created: bool, record_ids: list[str],
              feedback: dict[str, Any] | None, nxt: R.Assignment | None) -> Response:
    """The reply to a submission: JSON for scripts; for the browser, the feedback page or the next item."""
    if wants_json(request):
        return JSONResponse({"created": created, "record_ids": record_ids, "feedback": feedback,
                             "next": nxt.id if nxt is not None else None}, status_code=201 if created else 200)
    if feedback is not None:
        return RedirectResponse(f"/a/{aid}/feedback", status_code=303)
    return RedirectResponse(f"/a/{nxt.id}" if nxt is not None else f"/c/{camp.id}/next", status_code=303)


def _checked_submit(request: Request, aid: str, form: Any) -> Response:
    user = current_user(request)
    check_csrf(request, user, form)
    check_form(form)
    return _submit(request, user, aid, form)


async def _fast_submit(request: Request, aid: str, form: Any, pg: AsyncPG) -> Response | None:
    """PostgreSQL: ``A.submit`` on the event loop, its write awaited through the asyncio pool (the
    same statement, see store/rating_pg.py) after one read of session and assignment. None when the
    submission needs more than its write (``A.write_only``) or is refused or repeated: the thread
    path then runs ``A.submit`` itself, to render the errors or answer the repeat."""
    user, asg, camp, item = await _session_and_assignment(request, aid, pg)
    check_csrf(request, user, form)
    check_form(form)
    if asg is None or camp is None:
        raise NotFound("assignment")
    if not A.write_only(camp, asg):
        return None
    store = store_of(request)
    try:
        dims = campaign_dimensions(store, camp)  # the rubric and the secret are cached after their first use
        key = S.app_secret(store)
        prepared = A.prepare(store, camp, asg, _answer(form, asg, camp, dims, key), item_id=item, claim_next=True)
    except BadInput:
        return None
    created, nxt = await pg.record_and_claim(camp, asg, prepared.writes, kind=camp.kind, claim=prepared.claim,
                                             key=key)
    if not created:
        return None
    res = A.written(store, camp, asg, prepared, created, nxt)  # created, no feedback: reads nothing
    if res.next is None and A.is_open(camp):  # none left, or the last free units are being claimed
        return _answered(request, camp, aid, True, res.record_ids, None,
                         await run_in_threadpool(A.next_assignment, store, camp, user.rater_id))
    return _answered(request, camp, aid, True, res.record_ids, None, res.next)


@router.post("/a/{aid}")
async def submit(aid: str, request: Request) -> Response:
    # read before the session is known (the session and the assignment come in one query); BodyLimits
    # has refused a request without a session cookie, and bounded the body, already
    form = await parse_form(request)
    pg = request.app.state.pg
    if pg is not None:
        done = await _fast_submit(request, aid, form, pg)
        if done is not None:
            return done
    # the session check runs in the same worker thread as the work: one thread hop per submission
    return await run_in_threadpool(_checked_submit, request, aid, form)


@router.get("/a/{aid}/feedback")
def feedback_page(aid: str, request: Request, user: UserDep) -> Response:
    asg, camp = _own_assignment(request, user, aid)
    fb = A.feedback(store_of(request), camp, asg)
    if fb is None:
        raise NotFound("feedback")
    return render(request, "feedback.html", campaign=camp, assignment=asg, feedback=fb)


# ---- skipping ---------------------------------------------------------------------------------


def _skip(request: Request, user: ACC.User, aid: str, form: Any) -> Response:
    asg, camp = _own_assignment(request, user, aid)
    store = store_of(request)
    skipped = A.skip(store, camp, asg, str(form.get("reason", "")))
    nxt = A.next_assignment(store, camp, user.rater_id) if A.is_open(camp) else None
    if wants_json(request):
        return JSONResponse({"skipped": skipped, "next": nxt.id if nxt is not None else None},
                            status_code=201 if skipped else 200)
    return RedirectResponse(f"/a/{nxt.id}" if nxt is not None else f"/c/{camp.id}/next", status_code=303)


@router.post("/a/{aid}/skip")
async def skip(aid: str, request: Request, user: UserDep) -> Response:
    """Skip the rater's own pending assignment (once; a repeat changes nothing) and go on to the next."""
    form = await read_form(request)
    check_csrf(request, user, form)
    return await run_in_threadpool(_skip, request, user, aid, form)
