"""Lead and admin pages: campaigns, the dashboard, edge cases, exports, and user management."""

from __future__ import annotations

import logging
import math
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from assay import annotate as A
from assay import records as R
from assay.annotate import dashboard as D
from assay.errors import AssayError, BadInput, NotFound
from assay.server import accounts as ACC
from assay.server.app import (
    MAX_FIELD_CHARS,
    admin_only,
    check_csrf,
    current_user,
    lead_only,
    read_form,
    render,
    store_of,
)

router = APIRouter()


def _lead(user: Annotated[ACC.User, Depends(current_user)]) -> ACC.User:
    lead_only(user)
    return user


def _admin(user: Annotated[ACC.User, Depends(current_user)]) -> ACC.User:
    admin_only(user)
    return user


LeadDep = Annotated[ACC.User, Depends(_lead)]
AdminDep = Annotated[ACC.User, Depends(_admin)]


def _own_campaign(request: Request, user: ACC.User, cid: str) -> R.Campaign:
    """A campaign the lead created (admins see all); NotFound otherwise."""
    camp = store_of(request).find(R.Campaign, cid)
    if camp is None or not (user.is_admin or camp.created_by == user.name):
        raise NotFound("campaign")
    return camp


@router.get("/lead")
def lead_home(request: Request, user: LeadDep) -> Response:
    store = store_of(request)
    camps = [c for c in store.iter(R.Campaign) if user.is_admin or c.created_by == user.name]
    camps.sort(key=lambda c: c.created_at, reverse=True)
    return render(request, "lead_home.html", rows=D.progress_by_campaign(store, camps))


_REFRESHING: set[str] = set()
_REFRESH_LOCK = threading.Lock()


def _refreshing(store: Any, camp: R.Campaign, start: bool) -> bool:
    """Whether this process is recomputing the campaign's kept statistics, after starting it when
    ``start``: in a thread of its own, one per campaign, so no page view waits for a read of every judgment."""
    with _REFRESH_LOCK:
        if camp.id in _REFRESHING or not start:
            return camp.id in _REFRESHING
        _REFRESHING.add(camp.id)

    def run() -> None:
        try:
            D.refresh_quality(store, camp)
        except Exception:  # noqa: BLE001 - the page keeps showing the last statistics; the log says why
            logging.getLogger("assay.server").exception("statistics of campaign %s", camp.id)
        finally:
            with _REFRESH_LOCK:
                _REFRESHING.discard(camp.id)

    threading.Thread(target=run, name=f"stats-{camp.id}", daemon=True).start()
    return True


def _quality_view(request: Request, camp: R.Campaign) -> dict[str, Any]:
    store = store_of(request)
    sync = request.app.state.settings.stats_sync_judgments
    view = D.dashboard_view(store, camp, sync_judgments=D.SYNC_JUDGMENTS if sync is None else sync)
    view["refreshing"] = not view["fresh"] and _refreshing(store, camp, view.pop("refresh"))
    return view


@router.get("/lead/c/{cid}")
def dashboard(cid: str, request: Request, user: LeadDep) -> Response:
    store = store_of(request)
    camp = _own_campaign(request, user, cid)
    return render(request, "dashboard.html", campaign=camp, **_quality_view(request, camp),
                  skips=D.recent_skips(store, camp), edges=A.edge_case_queue(store, campaign_id=camp.id),
                  guideline=store.guideline(camp.rubric, camp.guideline_version))


@router.get("/lead/c/{cid}/quality")
def dashboard_quality(cid: str, request: Request, user: LeadDep) -> Response:
    """The dashboard's raters, agreement and disagreements: what the page loads again while they are recomputed."""
    camp = _own_campaign(request, user, cid)
    return render(request, "dashboard_quality.html", campaign=camp, **_quality_view(request, camp))


@router.post("/lead/c/{cid}/collect")
async def collect(cid: str, request: Request, user: LeadDep) -> Response:
    form = await read_form(request)
    check_csrf(request, user, form)
    camp = _own_campaign(request, user, cid)
    await run_in_threadpool(A.collect_edge_cases, store_of(request), campaign_id=camp.id)
    return RedirectResponse(f"/lead/c/{cid}#edges", status_code=303)


@router.post("/lead/c/{cid}/close")
async def close(cid: str, request: Request, user: LeadDep) -> Response:
    form = await read_form(request)
    check_csrf(request, user, form)
    camp = _own_campaign(request, user, cid)
    await run_in_threadpool(A.close_campaign, store_of(request), camp.id)
    return RedirectResponse(f"/lead/c/{cid}", status_code=303)


def _case_for_lead(request: Request, user: ACC.User, case_id: str) -> R.EdgeCase:
    """An edge case of one of the lead's campaigns (admins: any); NotFound otherwise. A case of no
    campaign (judges', or stored before migration 0010) is the admins' to handle."""
    store = store_of(request)
    case = store.find(R.EdgeCase, case_id) if len(case_id) <= 64 else None
    if case is None:
        raise NotFound("edge case")
    if not user.is_admin:
        if case.campaign_id is None:
            raise NotFound("edge case")
        _own_campaign(request, user, case.campaign_id)
    return case


@router.post("/lead/edge/{case_id}")
async def edge_action(case_id: str, request: Request, user: LeadDep) -> Response:
    form = await read_form(request)
    check_csrf(request, user, form)
    case = _case_for_lead(request, user, case_id)
    store = store_of(request)
    if form.get("action") == "dismiss":
        await run_in_threadpool(lambda: A.dismiss_edge_case(store, case.id, reason=str(form.get("text", "")),
                                                            author=user.name))
    else:
        await run_in_threadpool(lambda: A.resolve_edge_case(store, case.id, clarification=str(form.get("text", "")),
                                                            author=user.name))
    back = str(form.get("back", ""))
    return RedirectResponse(back if back.startswith("/lead/c/") and "//" not in back else "/lead", status_code=303)


@router.get("/lead/c/{cid}/export.{fmt}")
def export(cid: str, fmt: str, request: Request, user: LeadDep) -> Response:
    """The campaign's answers as CSV or JSONL, streamed as they are read (see ``annotate/export.py``)."""
    from assay.annotate.export import FORMATS, export_text

    camp = _own_campaign(request, user, cid)
    if fmt not in FORMATS:
        raise NotFound("format")
    name = f"{camp.name}-{'judgments' if camp.kind == 'rate' else 'comparisons'}.{fmt}"
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    media = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    body = (piece.encode() for piece in export_text(store_of(request), camp, fmt))
    return StreamingResponse(body, media_type=media, headers={"content-disposition": f'attachment; filename="{safe}"'})


# ---- creating a campaign in the app -------------------------------------------------------------


MAX_GOLD_BYTES = 20 * 1024 * 1024


def _new_form(request: Request, *, status: int = 200, error: str | None = None, values: Any = None) -> Response:
    store = store_of(request)
    return render(request, "new_campaign.html", status=status, datasets=[d.name for d in store.iter(R.Dataset)],
                  rubrics=sorted({f"{r.name}@{r.version}" for r in store.iter(R.Rubric)} | {"default@1"}),
                  error=error, values=values or {})


@router.get("/lead/new")
def new_campaign(request: Request, user: LeadDep) -> Response:
    return _new_form(request)


def _split(v: Any) -> list[str]:
    return [x.strip() for x in str(v or "").replace("\n", ",").split(",") if x.strip()]


async def _gold_upload(form: Any) -> list[A.Gold]:
    """The gold answers of the form's file, when one was chosen: the JSONL of ``assay campaign create --gold``."""
    up = form.get("gold")
    if not isinstance(up, UploadFile) or not up.filename:
        return []
    name = up.filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or "the gold file"
    data = await up.read(MAX_GOLD_BYTES + 1)
    if len(data) > MAX_GOLD_BYTES:
        raise BadInput(f"larger than {MAX_GOLD_BYTES // (1024 * 1024)} MB", file=name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(f"not UTF-8 text ({e.reason} at byte {e.start})", file=name) from None
    gold = A.gold_from_text(text, source=name)
    if not gold:
        raise BadInput("no gold answer in it (one JSON object a line)", file=name)
    return gold


MAX_OVERLAP = 10_000
MAX_CAMPAIGN_NAME = 200  # the store's column


def _user_names(form: Any, name: str) -> list[str]:
    names = _split(form.get(name))
    bad = [n for n in names if not ACC.NAME_RE.match(n)]
    if bad:
        raise BadInput(f"{bad[0][:40]!r} is not a user name (1-100 letters, digits, '.', '_' or '-')", field=name)
    return names


def _whole_number(form: Any, name: str, lo: int, hi: int) -> int:
    """A whole-number field from ``lo`` to ``hi`` (``lo`` when empty); BadInput naming the field otherwise."""
    raw = str(form.get(name) or "").strip()
    if not raw:
        return lo
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(hi)) and lo <= int(raw) <= hi):
        raise BadInput(f"a whole number from {lo} to {hi}, not {raw[:40]!r}", field=name)
    return int(raw)


def _gold_share(form: Any) -> float:
    raw = str(form.get("gold_share") or "").strip()
    try:
        share = float(raw) if raw else 0.0
    except ValueError:
        share = math.nan
    if not 0 <= share <= 1:  # NaN too
        raise BadInput(f"gold share is a number from 0 to 1, not {raw[:40]!r}", field="gold_share")
    return share


def _create(request: Request, user: ACC.User, form: Any, gold: list[A.Gold]) -> R.Campaign:
    store = store_of(request)
    kind = A.campaign_kind(str(form.get("kind", "rate")))
    overlap = _whole_number(form, "overlap", 1, MAX_OVERLAP)
    min_just = _whole_number(form, "min_justification", 0, MAX_FIELD_CHARS)
    gold_share = _gold_share(form)
    deadline = None
    if form.get("deadline"):
        try:
            deadline = datetime.fromisoformat(str(form["deadline"])).replace(tzinfo=UTC)
        except ValueError:
            raise BadInput("deadline must be a date, YYYY-MM-DD", field="deadline") from None
    units = A.units_from_dataset(store, str(form.get("dataset", "")), kind=kind,
                                 models=_split(form.get("models")) or None)
    raters = [R.Rater.make_id("human", n) for n in _user_names(form, "raters")]
    name = str(form.get("name", "")).strip()
    if len(name) > MAX_CAMPAIGN_NAME:
        raise BadInput(f"at most {MAX_CAMPAIGN_NAME} characters, not {len(name)}", field="name")
    return A.create_campaign(store, name, rubric=str(form.get("rubric", "default")), units=units,
                             spec=A.CampaignSpec(dimensions=_split(form.get("dimensions")) or None, overlap=overlap,
                                                 gold_share=gold_share, calibration=form.get("calibration") == "on",
                                                 blind=form.get("unblind") != "on", min_justification=min_just,
                                                 deadline=deadline, raters=raters or None, kind=kind),
                             gold=gold, created_by=user.name)


@router.post("/lead/new")
async def create(request: Request, user: LeadDep) -> Response:
    form = await read_form(request)
    check_csrf(request, user, form)
    try:
        if not str(form.get("name", "")).strip():
            raise BadInput("give the campaign a name", field="name")
        gold = await _gold_upload(form)
        # validated whole before one transaction writes it: a bad line creates nothing
        camp = await run_in_threadpool(_create, request, user, form, gold)
    except AssayError as e:
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        return await run_in_threadpool(lambda: _new_form(request, status=400, error=str(e), values=values))
    return RedirectResponse(f"/lead/c/{camp.id}", status_code=303)


# ---- users ------------------------------------------------------------------------------------


@router.get("/admin/users")
def users(request: Request, user: AdminDep) -> Response:
    return render(request, "users.html", users=ACC.list_users(store_of(request)), roles=ACC.ROLES, error=None)


@router.post("/admin/users")
async def users_post(request: Request, user: AdminDep) -> Response:
    form = await read_form(request)
    check_csrf(request, user, form)
    store = store_of(request)
    action, name = str(form.get("action", "")), str(form.get("name", ""))

    def act() -> None:
        if action == "add":
            ACC.create_user(store, name, str(form.get("password", "")), role=str(form.get("role", "rater")))
        elif action in ("disable", "enable"):
            if name == user.name:
                raise BadInput("you cannot disable yourself")
            ACC.set_disabled(store, name, action == "disable")
        elif action == "role":
            if name == user.name:
                raise BadInput("you cannot change your own role: ask another admin")
            ACC.set_role(store, name, str(form.get("role", "")))
        elif action == "password":
            ACC.set_password(store, name, str(form.get("password", "")))
        else:
            raise BadInput(f"unknown action {action!r}")

    try:
        await run_in_threadpool(act)
    except BadInput as e:
        return render(request, "users.html", status=400, users=ACC.list_users(store), roles=ACC.ROLES,
                      error=e.message)
    return RedirectResponse("/admin/users", status_code=303)
