"""`assay judge`, `assay verify`, `assay import-ifeval` and `assay judge-report`: automated judges and how far to trust them."""

from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import (
    confidence_option,
    base_url_value,
    BackoffOpt, DryRunOpt, ExecutorOpt, G, JsonOpt, NoCacheOpt, PriceInOpt, PriceOutOpt, RayAddressOpt, RetriesOpt,
    RpmOpt, TimeoutOpt, TpmOpt, WorkersOpt, YesOpt, app, console, emit_json, err_console, executor_choice, wants_json,
)
from assay.cli._boundary import flags_for
from assay.cli._runs import RunGuard
from assay.cli.run_report import RunBar, failed_units, print_failures, run_line


def _split(values: list[str] | None) -> list[str]:
    """Options given repeatedly and/or comma-separated, as one list."""
    return [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]


def _rubric_summary(store: Any, rater_id: str, response_ids: set[str]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, list]] = {}
    ids = sorted(response_ids)
    found = [j for i in range(0, len(ids), 500) for j in store.iter("judgments", rater_id=rater_id, response_id=ids[i : i + 500])]
    for j in found:
        d = rows.setdefault(j.dimension, {"values": [], "weighted": []})
        if j.value is not None:
            d["values"].append(j.value)
        if j.detail.get("weighted") is not None:
            d["weighted"].append(j.detail["weighted"])
    return [{"dimension": k, "judged": len(v["values"]),
             "mean": statistics.fmean(v["values"]) if v["values"] else None,
             "weighted_mean": statistics.fmean(v["weighted"]) if v["weighted"] else None} for k, v in rows.items()]


@app.command()
def judge(
    pairwise_models: Annotated[list[str] | None, typer.Argument(metavar="[MODEL_A MODEL_B ...]", help="With --pairwise: the models whose responses to compare, NAME@VERSION.")] = None,
    rubric: Annotated[str | None, typer.Option(help="Grade responses on this rubric (name or name@version).")] = None,
    pairwise: Annotated[bool, typer.Option("--pairwise", help="Compare the responses of the models given as arguments, item by item.")] = False,
    judge_: Annotated[list[str] | None, typer.Option("--judge", help="Judge model NAME@VERSION (repeat for a panel).")] = None,
    tuned: Annotated[str | None, typer.Option(help="A tuned judge NAME@VERSION (`assay judge-tune`): its judges, template, criteria, exemplars and samples.")] = None,
    panel: Annotated[str | None, typer.Option(help="Several judges as one panel: NAME@VERSION,NAME@VERSION,...")] = None,
    aggregate: Annotated[str, typer.Option(help="How a panel aggregates: majority or mean.")] = "majority",
    base_url: Annotated[str | None, typer.Option(callback=base_url_value, help="OpenAI-compatible base URL of the judge(s).")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the judge's API key (default: OPENAI_API_KEY, when set).")] = None,
    dimensions: Annotated[list[str] | None, typer.Option(help="Rubric dimensions to grade (default: all); repeat or comma-separate.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only responses to this dataset's items.")] = None,
    models: Annotated[list[str] | None, typer.Option(help="Only responses of these models (rubric grading); repeat or comma-separate.")] = None,
    samples: Annotated[int, typer.Option(min=1, help="Judge samples per response (mean and spread stored).")] = 1,
    temperature: Annotated[float | None, typer.Option(help="Judge temperature (default 0; 1 with --samples > 1).")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Maximum tokens of a judge answer.")] = None,
    template: Annotated[Path | None, typer.Option(help="Your own prompt template file (see assay/judges/templates).")] = None,
    no_logprobs: Annotated[bool, typer.Option("--no-logprobs", help="Do not ask for logprobs (no probability-weighted score).")] = False,
    one_order: Annotated[bool, typer.Option("--one-order", help="Pairwise: judge each pair in one order only.")] = False,
    no_reference: Annotated[bool, typer.Option("--no-reference", help="Pairwise: do not show the item's reference answer.")] = False,
    criteria: Annotated[str | None, typer.Option(help="Pairwise: what makes an answer better (replaces the default criteria).")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at once, per judge.")] = 8,
    structured: Annotated[str, typer.Option(help="Structured outputs (JSON schema) for the verdict: auto (ask for them; a server that refuses response_format is asked for a verdict line with a per-call code instead, and a text answer is read too), on (never fall back), or off (never ask).")] = "auto",
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    no_cache: NoCacheOpt = False,
    timeout: TimeoutOpt = 120.0,
    max_retries: RetriesOpt = 6,
    backoff: BackoffOpt = 1.0,
    price_in: PriceInOpt = None,
    price_out: PriceOutOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    workers: WorkersOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Grade responses on a rubric, or compare models' responses pairwise, with an LLM judge or a panel.

    Runs resume: the same command again skips finished work and answers repeated calls from the cache.
    The plan (calls, estimated tokens and cost) is printed before the first call.
    """
    from assay.errors import BadInput
    from assay.judges import jobs
    from assay.session import Endpoint, Session

    judges = _split(judge_) + _split([panel] if panel else [])
    how_tuned = None
    if tuned is not None:
        from assay.judges.tune import tuned_setup

        if judges or pairwise or template or dimensions or samples != 1:
            raise BadInput("a tuned judge brings its judges, template, dimension and samples: give --tuned alone "
                           "with --rubric (optional) and the responses to grade", field="--tuned")
        setup, how_tuned = tuned_setup(G.store(), tuned)
        if rubric is not None and rubric not in (how_tuned.rubric, how_tuned.rubric.split("@")[0]):
            raise BadInput(f"{tuned} was tuned on {how_tuned.rubric}, not {rubric}", field="--rubric")
        rubric, judges, aggregate = how_tuned.rubric, list(setup.judges), setup.aggregate
        if setup.sample_vote == "mean":
            err_console.print(f"note: {tuned} was chosen on the mean of its {setup.samples} samples: read each "
                              "judgment's detail 'mean' (its value is their median)", highlight=False, soft_wrap=True)
    if not judges:
        raise BadInput("name the judge with --judge NAME@VERSION (or several with --panel)", field="--judge")
    if len(set(judges)) != len(judges):
        raise BadInput("the same judge is named twice", field="--judge")
    if (rubric is None) == (not pairwise):
        raise BadInput("give either --rubric R or --pairwise MODEL_A MODEL_B", field="--rubric")
    if pairwise_models and not pairwise:
        raise BadInput(f"unexpected arguments {pairwise_models}: models to compare go after --pairwise", field="MODEL")
    if aggregate not in ("majority", "mean"):
        raise BadInput("must be majority or mean", field="--aggregate")
    if structured not in ("auto", "on", "off"):
        raise BadInput("must be auto, on or off", field="--structured")
    where = executor_choice(executor, ray_address, workers)
    store = G.store()
    endpoint = Endpoint(base_url=base_url, api_key_env=api_key_env, temperature=temperature, max_tokens=max_tokens,
                        rpm=rpm, tpm=tpm, timeout=timeout, max_retries=max_retries, backoff_base=backoff,
                        cache="own-run" if no_cache else "on", price_in=price_in, price_out=price_out,
                        structured=structured)
    label = f"judge {'+'.join(judges)}"
    with RunGuard(store, yes=yes, dry_run=dry_run, json_out=json_out) as guard:
        b = RunBar(guard.bar, label, guard)
        session = Session(store, endpoint, dataclasses.replace(where, concurrency=concurrency, on_progress=b.update,
                                                               on_start=b.start, on_plan=guard.approve))
        if pairwise:
            compared = _split(pairwise_models)
            prompt = jobs.PairwisePrompt(template=template, both_orders=not one_order, use_reference=not no_reference,
                                         criteria=criteria)
            with flags_for(models="--pairwise"):  # the models compared are given after --pairwise
                run, rater = jobs.judge_pairwise(session, compared, judges, dataset=dataset, prompt=prompt,
                                                 aggregate=aggregate)
        else:
            assert rubric is not None
            if how_tuned is not None:
                prompt = jobs.RubricPrompt(dimensions=[how_tuned.dimension], template=how_tuned.template,
                                           samples=setup.samples, criteria=setup.criteria,
                                           exemplars=how_tuned.exemplars, logprobs=not no_logprobs)
            else:
                prompt = jobs.RubricPrompt(dimensions=_split(dimensions) or None, template=template, samples=samples,
                                           logprobs=not no_logprobs)
            run, rater = jobs.judge_rubric(session, judges, rubric, dataset=dataset, models=_split(models) or None,
                                           aggregate=aggregate, prompt=prompt)
    failed = failed_units(store, run)
    done = jobs.run_units(store, run.id)
    if pairwise:
        table = jobs.win_rates(store, rater.id, compared, units=done)
        ranked = jobs.store_rankings(store, rater.id, compared, units=done, run_id=run.id)
        flips = [c.detail.get("consistent") for c in store.iter("comparisons", rater_id=rater.id)
                 if ":".join(c.response_ids) in done and len(c.detail.get("orders") or []) == 2]
        summary: dict[str, Any] = {"win_rates": table, "rankings_stored": ranked,
                                   "position_flips": sum(f is False for f in flips), "judged_both_orders": len(flips)}
    else:
        summary = {"dimensions": _rubric_summary(store, rater.id, done)}
    if wants_json(json_out):
        emit_json({"run": run.model_dump(mode="json", exclude={"config"}), "rater": rater.model_dump(mode="json"),
                   **summary, "failed_units": failed})
    else:
        console.print(run_line(run, did="done"), highlight=False)
        console.print(f"rater {rater.id}", highlight=False)
        if pairwise:
            t = Table(title="pairwise results", title_justify="left")
            for col in ("rank", "model", "wins", "ties", "losses", "both bad", "win rate"):
                t.add_column(col, justify="left" if col == "model" else "right")
            for r in summary["win_rates"]:
                wr = "" if r["win_rate"] is None else f"{r['win_rate']:.3f}"
                t.add_row("" if r["rank"] is None else str(r["rank"]), r["model"], str(r["wins"]), str(r["ties"]),
                          str(r["losses"]), str(r["both_bad"]), wr)
            console.print(t)
            console.print("ties and both bad count half; equal win rates share a rank", highlight=False)
            if summary["judged_both_orders"]:
                console.print(f"position flips: {summary['position_flips']} of {summary['judged_both_orders']} pairs "
                              "judged in both orders (counted as ties)", highlight=False)
        else:
            t = Table(title=f"judgments on {rubric}", title_justify="left")
            for col in ("dimension", "judged", "mean", "weighted mean"):
                t.add_column(col, justify="left" if col == "dimension" else "right")
            for r in summary["dimensions"]:
                t.add_row(r["dimension"], str(r["judged"]), "" if r["mean"] is None else f"{r['mean']:.3f}",
                          "" if r["weighted_mean"] is None else f"{r['weighted_mean']:.3f}")
            console.print(t)
        print_failures(failed, run)
    if run.failed:
        # not typer.Exit: main() runs click with standalone_mode=False, which returns Exit's code and main drops it
        raise SystemExit(1)


def _parse_args(pairs: list[str] | None) -> dict[str, Any]:
    from assay.errors import BadInput

    out: dict[str, Any] = {}
    for raw in pairs or []:
        key, sep, value = raw.partition("=")
        if not sep or not key:
            raise BadInput(f"{raw!r} is not KEY=VALUE", field="--arg")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


@app.command()
def verify(
    ifeval: Annotated[bool, typer.Option("--ifeval", help="IFEval instructions of each item (metadata instruction_id_list, kwargs).")] = False,
    verifier: Annotated[str | None, typer.Option(help="A program verifier or metric by name (json_valid, regex, length, rouge_l...).")] = None,
    arg: Annotated[list[str] | None, typer.Option("--arg", help="Verifier argument KEY=VALUE (VALUE read as JSON when it parses); repeat.")] = None,
    mode: Annotated[str, typer.Option(help="IFEval checking: strict, loose or both.")] = "both",
    dataset: Annotated[str | None, typer.Option(help="Only responses to this dataset's items.")] = None,
    models: Annotated[list[str] | None, typer.Option(help="Only responses of these models; repeat or comma-separate.")] = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    workers: WorkersOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run program verifiers (no model needed) on stored responses; results are Judgments on rubric 'verifiers'."""
    from assay.errors import BadInput
    from assay.judges import jobs, registry
    from assay.session import Session

    if ifeval == (verifier is not None):
        raise BadInput("give either --ifeval or --verifier NAME", field="--verifier")
    if ifeval:
        if mode not in ("strict", "loose", "both"):
            raise BadInput("must be strict, loose or both", field="--mode")
        made = [registry.create("ifeval", mode=m) for m in (("strict", "loose") if mode == "both" else (mode,))]
    else:
        assert verifier is not None, "checked above: --verifier is given when --ifeval is not"
        try:
            made = [registry.create(verifier, **_parse_args(arg))]
        except ValueError as e:
            raise BadInput(str(e), field="--verifier") from None
    where = executor_choice(executor, ray_address, workers)
    store = G.store()
    results = []
    with RunGuard(store) as guard:
        for j in made:
            b = RunBar(guard.bar, f"verify {j.name}", guard)
            try:
                session = Session(store, execution=dataclasses.replace(where, on_progress=b.update,
                                                                       on_start=b.start))
                run, rater = jobs.verify(session, j, dataset=dataset, models=_split(models) or None)
            except BadInput as e:
                if e.field != "judge":
                    raise
                raise BadInput(e.reason, field="--ifeval" if ifeval else "--verifier") from None
            entry: dict[str, Any] = {"run": run.model_dump(mode="json", exclude={"config"}), "rater": rater.id,
                                     "verifier": j.spec(), "failed_units": failed_units(store, run),
                                     "left_out": run.config.get("left_out")}
            values = [x.value for x in store.iter("judgments", rater_id=rater.id, run_id=run.id) if x.value is not None]
            entry["judged"] = len(values)
            entry["mean"] = statistics.fmean(values) if values else None
            if j.name == "ifeval":
                entry["ifeval"] = jobs.ifeval_summary(store, rater.id, run_id=run.id)
            results.append((j, run, entry))
    if wants_json(json_out):
        emit_json([e for _, _, e in results])
    else:
        for j, run, e in results:
            console.print(run_line(run, did="done"), highlight=False)
            if e["left_out"]:
                err_console.print(f"{e['left_out']['responses']:,} responses left out: their items lack what "
                                  f"{j.name} needs ({e['left_out']['items_lack']})", highlight=False, soft_wrap=True)
            if "ifeval" in e:
                s = e["ifeval"]
                m = j.args["mode"]
                console.print(f"IFEval {m}: prompt-level {s['prompt_followed']}/{s['prompts']} = "
                              f"{100 * (s['prompt_accuracy'] or 0):.2f}%, instruction-level {s['instruction_followed']}/"
                              f"{s['instructions']} = {100 * (s['instruction_accuracy'] or 0):.2f}%", highlight=False)
            elif e["mean"] is not None:
                what = "pass rate" if j.kind == "verifier" else "mean"
                console.print(f"{j.name}: {what} {e['mean']:.4f} over {e['judged']} responses", highlight=False)
            print_failures(e["failed_units"], run)
    if any(run.failed for _, run, _ in results):
        # not typer.Exit: main() runs click with standalone_mode=False, which returns Exit's code and main drops it
        raise SystemExit(1)


@app.command("import-ifeval")
def import_ifeval(
    input_data: Annotated[Path, typer.Argument(help="IFEval's input_data.jsonl (key, prompt, instruction_id_list, kwargs).")],
    responses: Annotated[Path | None, typer.Argument(help="A response file: JSONL rows with prompt and response.")] = None,
    model: Annotated[str | None, typer.Option(help="NAME@VERSION of the model that wrote the responses.")] = None,
    dataset: Annotated[str, typer.Option(help="Dataset name for the prompts.")] = "ifeval",
    json_out: JsonOpt = False,
) -> None:
    """Import IFEval prompts as items (and a response file as responses) so `assay verify --ifeval` can score them."""
    from assay.judges.jobs import load_ifeval

    out = load_ifeval(G.store(), input_data, responses, dataset=dataset, model=model)
    if wants_json(json_out):
        emit_json(out)
        return
    console.print(f"{input_data} -> dataset '{dataset}': {out['items_added']} items and {out['responses_added']} "
                  f"responses added", highlight=False)
    if out["missing_responses"]:
        err_console.print(f"{len(out['missing_responses'])} prompts have no response in {responses} (keys "
                          f"{', '.join(map(str, out['missing_responses'][:10]))})", highlight=False)


def _f(v: Any, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


@app.command("judge-report")
def judge_report(
    judge_: Annotated[str, typer.Option("--judge", help="The judge: rater id, or its name or model when unique.")],
    human: Annotated[list[str] | None, typer.Option(help="Human rater ids to compare with (default: every human rater).")] = None,
    rubric: Annotated[str | None, typer.Option(help="Only this rubric (name@version).")] = None,
    dimension: Annotated[str | None, typer.Option(help="Only this dimension.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """How far a judge can be trusted: agreement with humans beside theirs, confusion, position flips, length bias, self-preference."""
    from assay.analysis.judge_trust import judge_report as build

    rep = build(G.store(), judge_, humans=_split(human) or None, rubric=rubric, dimension=dimension)
    if wants_json(json_out):
        emit_json(rep)
        return
    console.print(f"judge {rep['judge']['id']}", highlight=False)
    if rep["pairwise"] is not None:
        _print_block("pairwise comparisons", rep["pairwise"])
    for block in rep["rubric"]:
        _print_block(f"{block['rubric']} / {block['dimension']}", block)


def _print_block(title: str, b: dict[str, Any]) -> None:
    a = b.get("agreement")
    console.print(f"\n[bold]{title}[/bold]")
    if a:
        t = Table(title="agreement", title_justify="left")
        for col in ("pair", "n", "percent", "kappa", "spearman"):
            t.add_column(col, justify="left" if col == "pair" else "right")
        for name, s in a["human_pairs"].items():
            t.add_row(name, str(s["n"]), _f(s["percent"]), _f(s["kappa"], 4), _f(s.get("spearman")))
        for h, s in a["judge_vs_humans"].items():
            t.add_row(f"judge ~ {h}", str(s["n"]), _f(s["percent"]), _f(s["kappa"], 4), _f(s.get("spearman")))
        m = a["judge_vs_majority"]
        t.add_row("judge ~ human consensus", str(m["n"]), _f(m["percent"]), _f(m["kappa"], 4), _f(m.get("spearman")))
        console.print(t)
        console.print(a["definition"], highlight=False)
        console.print(f"human alpha {_f(a.get('human_alpha'), 4)}; with the judge {_f(a.get('alpha_with_judge'), 4)}; "
                      f"judge's mean kappa with humans {_f(a.get('judge_mean_kappa_with_humans'), 4)} vs humans' with "
                      f"each other {', '.join(_f(v, 4) for v in (a.get('human_mean_kappa_with_other_humans') or {}).values())}",
                      highlight=False)
        cov = a["judge_coverage"]
        console.print(f"judge covered {cov['units']} of {cov['of']} units; human consensus labels "
                      f"{a['majority_labels']} ({a['no_majority']} without a consensus)", highlight=False)
        conf = (a.get("confusion") or {}).get("counts") or {}  # none on a continuous scale
        cols = list(next(iter(conf.values())).keys()) if conf else []
        ct = Table(title="confusion (rows: judge, columns: human consensus)", title_justify="left")
        ct.add_column("")
        for c in cols:
            ct.add_column(c, justify="right")
        for r, row in conf.items():
            ct.add_row(r, *[str(row[c]) for c in cols])
        if conf:
            console.print(ct)
    pos = b.get("position")
    if pos:
        console.print(f"position flips: {pos['flips']} of {pos['pairs_judged_both_orders']} pairs judged in both orders"
                      f" (rate {_f(pos['flip_rate'])})", highlight=False)
    lb = b.get("length_bias")
    if lb and "p_judge_prefers_longer" in lb:
        console.print(f"length: judge prefers the longer response {_f(lb['p_judge_prefers_longer'])} of {lb['n_judge']}; "
                      f"human majority {_f(lb['p_humans_prefer_longer'])} of {lb['n_humans']}", highlight=False)
    elif lb:
        console.print(f"length: slope of score per 100 words, judge {_f(lb['judge_slope_per_100_words'])}, "
                      f"humans {_f(lb['human_slope_per_100_words'])}", highlight=False)
    sp = b.get("self_preference")
    if sp and sp.get("pairs"):
        console.print(f"self-preference ({sp['family']}): judge prefers its family {_f(sp['p_judge_prefers_own_family'])} "
                      f"of {sp['pairs']} pairs; humans {_f(sp['p_humans_prefer_own_family'])}", highlight=False)
    elif sp and "self_preference" in sp:
        console.print(f"self-preference ({sp['family']}): judge minus humans on its family "
                      f"{_f(sp['judge_minus_humans_own'])}, on others {_f(sp['judge_minus_humans_other'])}", highlight=False)
    for n in b.get("notes") or []:
        console.print(f"note: {n}", highlight=False)


@app.command("judge-tune")
def judge_tune(
    rubric: Annotated[str, typer.Option(help="The rubric (name or name@version) the people labelled.")],
    dimension: Annotated[str | None, typer.Option(help="The dimension to tune on (default: the rubric's only one).")] = None,
    human_kind: Annotated[str, typer.Option(help="Rater kind whose labels are the truth.")] = "human",
    human: Annotated[list[str] | None, typer.Option(help="Only these raters' labels (rater ids); repeat or comma-separate.")] = None,
    judge_: Annotated[list[str] | None, typer.Option("--judge", help="Judge model NAME@VERSION for the built-in variations (repeat for a panel among them).")] = None,
    candidates: Annotated[Path | None, typer.Option(help="YAML file of candidate set-ups (instead of the built-in variations).")] = None,
    baseline: Annotated[str | None, typer.Option(help="The candidate gains are measured against (default: the first).")] = None,
    holdout: Annotated[float, typer.Option(help="Share of the labelled items held out to check the choice.")] = 0.5,
    min_units: Annotated[int, typer.Option(min=1, help="Fewest labelled responses each split needs.")] = 10,
    metric: Annotated[str | None, typer.Option(help="accuracy, kappa, kappa_quadratic or mae (default: by the scale).")] = None,
    confidence: confidence_option("Confidence of the intervals (the gains' are Bonferroni-adjusted).") = 0.95,
    rounds: Annotated[int, typer.Option(min=100, help="Bootstrap rounds.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the split, the exemplars and the bootstrap.")] = 0,
    name: Annotated[str | None, typer.Option(help="Name of the tuned judge (default tuned-RUBRIC-DIMENSION); each run stores a new version.")] = None,
    base_url: Annotated[str | None, typer.Option(callback=base_url_value, help="OpenAI-compatible base URL of the judge(s).")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the judge's API key.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at once, per judge.")] = 8,
    structured: Annotated[str, typer.Option(help="Structured outputs: auto, on or off (as for `assay judge`).")] = "auto",
    rpm: RpmOpt = None,
    tpm: TpmOpt = None,
    timeout: TimeoutOpt = 120.0,
    max_retries: RetriesOpt = 6,
    backoff: BackoffOpt = 1.0,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Tune a rubric judge against people: candidates chosen on a training split, checked on a held-out one.

    The chosen set-up is stored as a new version of a tuned judge (`assay judge --tuned NAME@VERSION` runs it).
    A held-out gain within noise (its interval, widened for the number of candidates, reaches 0) is warned about.
    """
    from assay.errors import BadInput
    from assay.judges import tune
    from assay.session import Endpoint, Session

    if (candidates is None) == (not judge_):
        raise BadInput("give --judge NAME@VERSION (built-in variations) or --candidates FILE", field="--judge")
    if structured not in ("auto", "on", "off"):
        raise BadInput("must be auto, on or off", field="--structured")
    flags = {"candidates": "--candidates" if candidates else "--judge", "holdout": "--holdout", "metric": "--metric",
             "baseline": "--baseline", "labels": "--human-kind" if not human else "--human"}
    with flags_for(**flags):
        if candidates is not None:
            setups, named = tune.read_candidates(candidates)
        else:
            setups, named = tune.builtin_candidates(_split(judge_)), None
        options = tune.TuneOptions(holdout=holdout, min_units=min_units, metric=metric, confidence=confidence,
                                   rounds=rounds, seed=seed)
        store = G.store()
        endpoint = Endpoint(base_url=base_url, api_key_env=api_key_env, rpm=rpm, tpm=tpm, timeout=timeout,
                            max_retries=max_retries, backoff_base=backoff, structured=structured)
        with RunGuard(store, yes=yes, dry_run=dry_run, json_out=json_out) as guard:
            b = RunBar(guard.bar, "judge-tune", guard)
            session = Session(store, endpoint, dataclasses.replace(executor_choice("local", None, None),
                                                                   concurrency=concurrency, on_progress=b.update,
                                                                   on_start=b.start, on_plan=guard.approve))
            people = tune.People(dimension=dimension, humans=_split(human) or None, human_kind=human_kind)
            result = tune.tune_judge(session, rubric, setups, people=people, baseline=baseline or named,
                                     options=options, name=name)
    out = result.to_dict()
    if wants_json(json_out):
        emit_json(out)
        return
    _print_tune(out)


def _print_tune(out: dict[str, Any]) -> None:
    better = "higher" if out["higher_is_better"] else "lower"
    s = out["splits"]
    console.print(f"{out['rubric']} / {out['dimension']}: {s['labelled']} responses labelled by "
                  f"{', '.join(out['humans'])}; {s['train']} to choose on, {s['held_out']} held out "
                  f"({out['held_out_items']} items), {s['exemplar_pool']} set aside as exemplars", highlight=False)
    t = Table(title=f"{out['metric']} with the human consensus ({better} is better)", title_justify="left")
    for col in ("candidate", "judged", "train", "held-out", "interval", "gain", f"gain interval ({out['adjusted_confidence']:.1%})", "Holm p"):
        t.add_column(col, justify="left" if col == "candidate" else "right")
    for r in out["candidates"]:
        mark = " (chosen)" if r["name"] == out["chosen"] else " (baseline)" if r["name"] == out["baseline"] else ""
        ci, gi = r["held_out_interval"], r["gain_interval"]
        t.add_row(r["name"] + mark, str(r["judged"]), _f(r["train"]), _f(r["held_out"]),
                  f"[{_f(ci[0])}, {_f(ci[1])}]" if ci else "-", _f(r["gain"]),
                  "-" if r["name"] == out["baseline"] else f"[{_f(gi[0])}, {_f(gi[1])}]",
                  "-" if r["name"] == out["baseline"] else "< 0.001" if r["p_holm"] is not None and r["p_holm"] < 0.001 else _f(r["p_holm"]))
    console.print(t)
    console.print(f"{out['confidence']:.0%} percentile intervals from {out['rounds']} paired bootstrap rounds over "
                  f"held-out items; gains are Bonferroni-adjusted over the candidates and p-values Holm-adjusted",
                  highlight=False)
    for w in out["warnings"]:
        err_console.print(f"warning: {w}", highlight=False, soft_wrap=True)
    if out["tuned"]:
        console.print(f"stored tuned judge {out['tuned']['name']} (rater {out['tuned']['id']}): {out['chosen']}",
                      highlight=False)


@app.command("judge-calibrate")
def judge_calibrate(
    judge_: Annotated[str, typer.Option("--judge", help="The judge: rater id, or its name or model when unique.")],
    human: Annotated[list[str] | None, typer.Option(help="Human rater ids to calibrate to (default: every rater of --human-kind).")] = None,
    human_kind: Annotated[str, typer.Option(help="Rater kind whose labels are the truth.")] = "human",
    rubric: Annotated[str | None, typer.Option(help="Only this rubric (name@version); leaves pairwise verdicts out.")] = None,
    dimension: Annotated[str | None, typer.Option(help="Only this dimension.")] = None,
    weighted: Annotated[bool, typer.Option("--weighted", help="Calibrate the probability-weighted scores (logprobs).")] = False,
    folds: Annotated[int, typer.Option(help="Folds of items for the cross-fitted error.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the folds.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write the calibration (maps included) to this JSON file.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Map a judge's scores to the human scale (isotonic regression), with a reliability table and the error before and after."""
    from assay.analysis.judge_calibration import CalibrationOptions, judge_calibration

    with flags_for(folds="--folds"):
        rep = judge_calibration(G.store(), judge_, humans=_split(human) or None, human_kind=human_kind, rubric=rubric,
                                dimension=dimension, options=CalibrationOptions(weighted=weighted, folds=folds, seed=seed))
    if out is not None:
        out.write_text(json.dumps(rep, indent=2) + "\n", encoding="utf-8")
    if wants_json(json_out):
        emit_json(rep)
        return
    console.print(f"judge {rep['judge']['id']} calibrated to {', '.join(rep['humans'])}", highlight=False)
    for s in rep["sections"]:
        title = "pairwise preferences" if s["kind"] == "pairwise" else f"{s['rubric']} / {s['dimension']}"
        if "loss" not in s:
            console.print(f"{title}: {s['error']}", highlight=False)
            continue
        t = Table(title=f"{title}: {s['n']} units, {s['loss']['metric']} {s['loss']['raw']:.3f} raw -> "
                        f"{s['loss']['calibrated']:.3f} calibrated ({s['loss']['folds']}-fold cross-fitted)",
                  title_justify="left")
        for col in ("judge score", "n", "judge mean", "people's mean", "calibrated mean"):
            t.add_column(col, justify="right")
        for r in s["reliability"]:
            where = _f(r["low"]) if r["low"] == r["high"] else f"{_f(r['low'])}-{_f(r['high'])}"
            t.add_row(where, str(r["n"]), _f(r["judge_mean"]), _f(r["human_mean"]), _f(r["calibrated_mean"]))
        console.print(t)
    console.print(rep["definition"], highlight=False)
    if out is not None:
        console.print(f"wrote {out}", highlight=False)
