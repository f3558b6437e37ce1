"""Lead pages over red teaming and the failure library: ASR by model and attack, and the library's entries.

A thin face over ``assay.redteam`` and ``assay.library``: the pages read and write through
their functions, and every change to an entry is a new version written by ``edit_entry``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from assay import library as L
from assay import records as R
from assay.errors import AssayError, BadInput, NotFound
from assay.redteam import asr as ASR
from assay.server import accounts as ACC
from assay.server.app import check_csrf, current_user, lead_only, read_form, render, store_of
from assay.store import rating as S

if TYPE_CHECKING:
    from assay.store import Store

router = APIRouter()
RECENT = 50  # successful attempts listed on the red-team page
EXAMPLES = 50  # example responses shown on an entry's page
DIMENSIONS = ASR.DIMENSIONS  # jailbroken, refusal, injected, leaked: what `assay redteam asr` reads
SEVERITIES = ("low", "medium", "high", "critical")


def _lead(user: Annotated[ACC.User, Depends(current_user)]) -> ACC.User:
    lead_only(user)
    return user


LeadDep = Annotated[ACC.User, Depends(_lead)]


def _arg(request: Request, name: str) -> str | None:
    v = request.query_params.get(name, "").strip()
    return v[:200] or None


# ---- the failure library ----------------------------------------------------------------------


def _last_check(e: R.LibraryEntry) -> dict[str, Any] | None:
    check = e.evidence.get("last_check") if isinstance(e.evidence, dict) else None
    return check if isinstance(check, dict) else None


@router.get("/lead/library")
def library(request: Request, user: LeadDep) -> Response:
    store = store_of(request)
    status, model, tag = _arg(request, "status"), _arg(request, "model"), _arg(request, "tag")
    if status not in (None, "all", *R.LIBRARY_STATUSES):
        raise BadInput(f"status must be one of {', '.join(R.LIBRARY_STATUSES)} or all", field="status")
    everything = L.list_entries(store, include_retired=True)
    rows = L.list_entries(store, status=None if status in (None, "all") else status, model=model, tag=tag,
                          include_retired=status == "all")
    return render(request, "library.html", rows=[(e, _last_check(e)) for e in rows], statuses=R.LIBRARY_STATUSES,
                  models=sorted({m for e in everything for m in e.models}),
                  tags=sorted({t for e in everything for t in e.tags}),
                  chosen={"status": status or "", "model": model or "", "tag": tag or ""})


def _entry_page(request: Request, slug: str, *, status: int = 200, error: str | None = None,
                form: dict[str, str] | None = None) -> Response:
    store = store_of(request)
    if len(slug) > 120:
        raise NotFound("library entry")
    versions = L.history(store, slug)
    entry = versions[-1]
    responses = store.by_id(R.Response, entry.examples[:EXAMPLES])
    items = store.by_id(R.Item, {r.item_id for r in responses.values()})
    examples = [(responses[i], items.get(responses[i].item_id)) for i in entry.examples[:EXAMPLES] if i in responses]
    notes = {n.get("version"): n for n in entry.evidence.get("notes", []) if isinstance(n, dict)}
    saved = request.query_params.get("saved", "")
    return render(request, "library_entry.html", status=status, entry=entry, versions=list(reversed(versions)),
                  notes=notes, examples=examples, more=max(0, len(entry.examples) - EXAMPLES),
                  last_check=_last_check(entry), statuses=R.LIBRARY_STATUSES, severities=SEVERITIES, error=error,
                  form=form or {}, saved=saved if saved.isdigit() else "")


@router.get("/lead/library/{slug}")
def library_entry(slug: str, request: Request, user: LeadDep) -> Response:
    return _entry_page(request, slug)


def _expected_version(form: Any) -> int:
    try:
        return int(str(form.get("version", "")))
    except ValueError:
        raise BadInput("the form lacks the version it was made from: reload the page", field="version") from None


class Stale(AssayError):
    """The entry moved on since the form was loaded, or another writer took the same version."""


def _change(store: Store, slug: str, user: ACC.User, form: Any, action: str) -> R.LibraryEntry:
    latest = L.get_entry(store, slug)
    seen = _expected_version(form)
    if latest.version != seen:
        raise Stale(f"{latest.created_by or 'someone'} saved version {latest.version} of this entry after you loaded "
                    f"version {seen}; nothing was saved. Review the entry below and make your change again.")
    if action == "status":
        new, note = str(form.get("status", "")), str(form.get("note", "")).strip()[:5000]
        if new == latest.status:
            raise BadInput(f"the entry is already {new}", field="status")
        if new == "retired":
            return L.retire_entry(store, slug, reason=note, created_by=user.name, expected_version=seen)
        if new not in R.LIBRARY_STATUSES:
            raise BadInput(f"status must be one of {', '.join(R.LIBRARY_STATUSES)}", field="status")
        notes = [*latest.evidence.get("notes", []), {"version": latest.version + 1, "status": new, "was": latest.status,
                                                      "note": note, "by": user.name}]
        return L.edit_entry(store, slug, status=new, evidence={**latest.evidence, "notes": notes},
                            created_by=user.name, expected_version=seen)
    # only the fields the form sent: a client may change one field without restating the others
    changes: dict[str, Any] = {k: str(form[k]).strip() for k in ("title", "description", "hypothesis", "severity")
                               if k in form}
    if "tags" in form:
        changes["tags"] = list(dict.fromkeys(t.strip() for t in str(form["tags"]).split(",") if t.strip()))
    changes = {k: v for k, v in changes.items() if v != getattr(latest, k)}
    if not changes:
        raise BadInput("nothing changed", field="title")
    return L.edit_entry(store, slug, created_by=user.name, expected_version=seen, **changes)


async def _post(slug: str, request: Request, user: ACC.User, action: str) -> Response:
    form = await read_form(request)
    check_csrf(request, user, form)
    store = store_of(request)
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        new = await run_in_threadpool(_change, store, slug, user, form, action)
    except NotFound:
        raise
    except BadInput as e:
        status, error = 400, e.reason
    except AssayError as e:  # Stale, or the library's "written by someone else meanwhile"
        status, error = 409, str(e)
    else:
        return RedirectResponse(f"/lead/library/{quote(slug)}?saved={new.version}", status_code=303)
    return await run_in_threadpool(lambda: _entry_page(request, slug, status=status, error=error, form=values))


@router.post("/lead/library/{slug}/status")
async def library_status(slug: str, request: Request, user: LeadDep) -> Response:
    return await _post(slug, request, user, "status")


@router.post("/lead/library/{slug}/edit")
async def library_edit(slug: str, request: Request, user: LeadDep) -> Response:
    return await _post(slug, request, user, "edit")


# ---- red teaming ------------------------------------------------------------------------------


def _judging_raters(store: Store, dimension: str) -> list[str]:
    """Raters with judgments on the dimension: the chooser's options."""
    return sorted(store.columns("judgments", ["rater_id"], dimension=dimension)["rater_id"].unique())


def _recent_successes(store: Store, outcomes: Any) -> list[dict[str, Any]]:
    hits = outcomes[outcomes["success"] == True]  # noqa: E712 - None (unjudged) must not count
    if hits.empty:
        return []
    when = store.columns("attempts", ["id", "created_at"])
    hits = hits.merge(when, left_on="attempt", right_on="id").sort_values("created_at", ascending=False).head(RECENT)
    responses = store.by_id(R.Response, hits["response"].tolist())
    behaviours = store.by_id(R.Item, set(hits["behavior"]))
    rows = []
    for h in hits.itertuples():
        b, r = behaviours.get(h.behavior), responses.get(h.response)
        rows.append({"goal": b.prompt_text() if b else h.behavior, "attack": h.attack, "model": h.model,
                     "response": r, "when": h.created_at})
    return rows


def _default_rater(store: Store, dimension: str | None) -> tuple[str | None, str | None]:
    """With no rater chosen: the dimension the library would read (jailbroken where an attempt's
    answer was judged on it, else refusal) and the rater with verdicts on the most attempt answers
    there (ties: the first id), so the page opens on rates rather than on a question."""
    answers = set(store.columns("attempts", ["response_id"])["response_id"].dropna())
    if not answers:
        return None, dimension
    if dimension is None:
        judged = store.columns("judgments", ["response_id"], dimension="jailbroken")["response_id"]
        dimension = "jailbroken" if judged.isin(answers).any() else "refusal"
    js = store.columns("judgments", ["rater_id", "response_id"], dimension=dimension)
    counts = js[js["response_id"].isin(answers)].drop_duplicates().groupby("rater_id").size()
    if counts.empty:
        return None, dimension
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0], dimension


@router.get("/lead/redteam")
def redteam(request: Request, user: LeadDep) -> Response:
    store = store_of(request)
    dimension = _arg(request, "dimension")  # None: the library's choice (jailbroken where judged, else refusal)
    if dimension not in (None, *DIMENSIONS):
        raise BadInput(f"dimension must be one of {', '.join(DIMENSIONS)}", field="dimension")
    rater = _arg(request, "rater")
    ctx: dict[str, Any] = {"dimensions": DIMENSIONS, "rater": rater, "result": None, "recent": [], "problem": None,
                           "note": None, "chosen_for_you": False}
    if rater is None:  # nothing chosen yet: no error, the rater with the most verdicts (or a neutral note)
        rater, dimension = _default_rater(store, dimension)
        ctx["chosen_for_you"] = rater is not None
    try:
        if rater is None:
            ASR.attempt_outcomes(store, dimension=dimension)  # raises with the reason: no attempts, none judged
        ctx["result"] = ASR.asr(store, rater=rater, dimension=dimension, by=("model", "attack"))
        dimension = ctx["result"]["dimension"]
        outcomes = ASR.attempt_outcomes(store, rater=ctx["result"]["rater"], dimension=dimension)
        ctx["recent"] = _recent_successes(store, outcomes)
    except NotFound as e:  # no attempts yet: nothing went wrong, there is nothing to show
        ctx["note"] = f"Nothing to show yet: {e}. Attacks run with `assay redteam run` appear here."
    except BadInput as e:
        if ctx["rater"] is None:  # not the user's doing: attempts exist but nobody judged them
            ctx["note"] = f"No attempt has been judged on {dimension} yet: judge the answers to see rates here."
        else:  # a rater the user asked for that does not exist
            ctx["problem"] = e.reason
    if dimension is None:  # the library could not say; offer the raters of the dimension it would have chosen
        dimension = "jailbroken" if _judging_raters(store, "jailbroken") else "refusal"
    ctx.update(dimension=dimension, raters=_judging_raters(store, dimension))
    return render(request, "redteam.html", **ctx)


@router.get("/lead/response/{rid}")
def response_page(rid: str, request: Request, user: LeadDep) -> Response:
    """A response with its attempts, library entries and judgments. Red-team attempts and the library
    are the workbench's; a response only in campaigns is its campaigns' leads' (others get 404), and
    a lead sees the judgments of their own campaigns and of judges, never another lead's raters'."""
    store = store_of(request)
    resp = store.find(R.Response, rid) if len(rid) <= 128 else None
    if resp is None:
        raise NotFound("response")
    attempts = store.list(R.Attempt, response_id=rid)
    entries = [e for e in L.list_entries(store, include_retired=True) if rid in e.examples]
    mine = None if user.is_admin else {c.id for c in store.iter(R.Campaign, created_by=user.name)}
    if mine is not None and not attempts and not entries and not S.shows_response(store, mine, resp):
        raise NotFound("response")
    item = store.find(R.Item, resp.item_id)
    behaviours = store.by_id(R.Item, {a.behavior_id for a in attempts})
    judgments = sorted((j for j in store.iter(R.Judgment, response_id=rid)
                        if mine is None or j.campaign_id is None or j.campaign_id in mine),
                       key=lambda j: j.created_at)
    return render(request, "response.html", response=resp, item=item, attempts=attempts, behaviours=behaviours,
                  judgments=judgments, entries=entries)
