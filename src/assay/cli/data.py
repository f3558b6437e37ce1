"""`assay import` and `assay export`: getting items, responses and any record in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypeGuard

import typer

from assay.cli._app import G, JsonOpt, app, console, emit_json, err_console, progress, wants_json


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSONL, JSON, CSV, Parquet file, a saved HuggingFace dataset folder, "
                                              "or a folder written by `assay export --all`.")],
    dataset: Annotated[str | None, typer.Option(help="Dataset name (default: the file name).")] = None,
    prompt_field: Annotated[str | None, typer.Option(help="Field with the prompt: text or chat messages.")] = None,
    response_field: Annotated[str | None, typer.Option(help="Field with the model's response.")] = None,
    reference_field: Annotated[str | None, typer.Option(help="Field with a reference answer.")] = None,
    id_field: Annotated[str | None, typer.Option(help="Field with a stable item id (default: 'id' if present).")] = None,
    model: Annotated[str | None, typer.Option(help="NAME@VERSION of the model that wrote every response.")] = None,
    model_field: Annotated[str | None, typer.Option(help="Field naming each row's model as NAME@VERSION.")] = None,
    sample_field: Annotated[str | None, typer.Option(help="Field with the sample index of a response.")] = None,
    category_field: Annotated[str, typer.Option(help="Field with the item's category.")] = "category",
    language_field: Annotated[str, typer.Option(help="Field with the item's language.")] = "language",
    tags_field: Annotated[str, typer.Option(help="Field with the item's tags.")] = "tags",
    cluster_field: Annotated[str, typer.Option(help="Field with a cluster key (for clustered errors).")] = "cluster",
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl, json, csv, parquet or hf (default: from the name).")] = None,
    split: Annotated[str | None, typer.Option(help="Split of a saved HuggingFace DatasetDict.")] = None,
    kind: Annotated[str | None, typer.Option(help="Import records exported by assay (items, judgments, ...) instead.")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Import good rows; write rejected ones with reasons.")] = False,
    rejects: Annotated[Path | None, typer.Option(help="Where --skip-invalid writes rejected rows (default FILE.rejects.jsonl).")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Another tool's log: inspect (.eval/.json), lm-eval "
                                                             "(results JSON + samples), promptfoo (results JSON); an "
                                                             "annotation tool's export of a campaign's tasks: label-studio, "
                                                             "argilla; or a "
                                                             "published label format: alpaca-eval, arena-hard, mt-bench, "
                                                             "chatbot-arena, hh-rlhf, ultrafeedback, helpsteer2.")] = None,
    response_fields: Annotated[list[str] | None, typer.Option(help="Labels: the answers' fields, in order (comma-separated "
                                                              "or repeated), or one field holding a list.")] = None,
    model_fields: Annotated[list[str] | None, typer.Option(help="Labels: the field of each answer's model (or one holding a list).")] = None,
    label_field: Annotated[str | None, typer.Option(help="Labels: the field with the verdict.")] = None,
    label_map: Annotated[str | None, typer.Option(help="Labels: how verdicts are written: 1/2/0, A/B/tie, model_a/model_b/tie, "
                                                  "A>>B, probability, probability-second, alpaca-eval, index, or "
                                                  "VALUE=VERDICT pairs ('yes=first,no=second,same=tie').")] = None,
    strength_field: Annotated[str | None, typer.Option(help="Labels: the field with a win's strength (1 or 2).")] = None,
    rater: Annotated[str | None, typer.Option(help="Labels: who gave every label (a name).")] = None,
    rater_field: Annotated[str | None, typer.Option(help="Labels: the field naming each label's rater.")] = None,
    rater_kind: Annotated[str | None, typer.Option(help="Labels: human or llm (default human).")] = None,
    shown_field: Annotated[str | None, typer.Option(help="Labels: the order the rater saw the answers: positions 1..N, or "
                                                    "true for two answers shown swapped (default: as given).")] = None,
    justification_field: Annotated[str | None, typer.Option(help="Labels: the field with the rater's reasons.")] = None,
    model_version: Annotated[str | None, typer.Option(help="Labels: VERSION added to model names written without @VERSION "
                                                      "(presets: the preset's name).")] = None,
    baseline: Annotated[str | None, typer.Option(help="--from arena-hard: the baseline model (default gpt-4-0314).")] = None,
    campaign: Annotated[str | None, typer.Option(help="--from label-studio|argilla: the campaign (name or id) "
                                                      "whose tasks were exported.")] = None,
    annotators: Annotated[Path | None, typer.Option(help="--from label-studio|argilla: JSON mapping the tool's user "
                                                         "ids to names ({id: name}, or its list of users).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Import items and responses, pairwise labels, another tool's log, an annotation tool's export or a
    published label format (--from), or records exported by assay, from a file, as one transaction."""
    from assay.cli._labels import LabelOptions, import_labels_cli
    from assay.cli._tools import TOOLS, import_from_tool
    from assay.errors import BadInput
    from assay.io import FieldMap, OnInvalid, import_file, import_records, is_store_export
    from assay.io.labels import names as label_formats
    from assay.io.peers import PEERS

    if from_ in TOOLS:  # an annotation tool's answers to a campaign's tasks
        import_from_tool(from_, file, campaign=campaign, annotators=annotators, skip_invalid=skip_invalid,
                         rejects=rejects, json_out=json_out)
        return
    if campaign is not None or annotators is not None:
        raise BadInput("--campaign and --annotators go with --from label-studio or --from argilla")

    labels = LabelOptions(from_=from_, response_fields=response_fields, model_fields=model_fields,
                          label_field=label_field, label_map=label_map, strength_field=strength_field, rater=rater,
                          rater_field=rater_field, rater_kind=rater_kind, shown_field=shown_field,
                          justification_field=justification_field, model_version=model_version, baseline=baseline)
    if from_ is not None and from_ in PEERS:
        if labels.wanted(ignore_from=True):
            raise BadInput(f"label options (--label-field, --rater, ...) do not apply to --from {from_}")
        _import_peer(file, from_, dataset, model, kind, skip_invalid, rejects, json_out)
        return
    if from_ is not None and from_ not in label_formats():
        raise BadInput(f"unknown --from {from_!r}: other tools' logs are {', '.join(PEERS)}; annotation tools "
                       f"{', '.join(TOOLS)}; published label formats are {', '.join(label_formats())}",
                       field="--from")
    if labels.wanted():
        if kind or is_store_export(file):
            raise BadInput("label options (--from, --label-field, ...) do not apply to records exported by assay")
        # options that only shape items and responses; a preset also knows its prompt, id and category
        item_options = [flag for flag, v, default in (
            ("--response-field", response_field, None), ("--reference-field", reference_field, None),
            ("--model-field", model_field, None), ("--sample-field", sample_field, None),
            ("--language-field", language_field, "language"), ("--tags-field", tags_field, "tags"),
            ("--cluster-field", cluster_field, "cluster")) if v != default]
        if from_:
            item_options += [flag for flag, v, default in (("--prompt-field", prompt_field, None),
                                                           ("--id-field", id_field, None),
                                                           ("--category-field", category_field, "category"))
                             if v != default]
        elif item_options:
            raise BadInput(f"{', '.join(item_options)} belong to importing items and responses; labels name "
                           "their answers with --response-fields and --model-fields")
        import_labels_cli(file, labels, dataset=dataset, prompt_field=prompt_field, id_field=id_field, model=model,
                          category_field=category_field, fmt=fmt, split=split, skip_invalid=skip_invalid,
                          rejects=rejects, json_out=json_out, item_options=item_options)
        return
    if is_store_export(file):
        _import_store(file, kind, skip_invalid, rejects, json_out)
        return
    store = G.store()
    if kind:
        summary = import_records(store, file, kind, fmt=fmt,
                                 on_invalid=OnInvalid(skip=skip_invalid, rejects_path=rejects))
    else:
        fm = FieldMap(prompt=prompt_field, response=response_field, reference=reference_field, id=id_field,
                      model=model, model_field=model_field, sample=sample_field, category=category_field,
                      language=language_field, tags=tags_field, cluster=cluster_field)
        with progress() as bar:
            task = bar.add_task(f"importing {file.name}", total=None, rate="")
            summary = import_file(store, file, dataset=dataset, fields=fm, fmt=fmt, split=split,
                                  on_invalid=OnInvalid(skip=skip_invalid, rejects_path=rejects),
                                  on_progress=lambda n: bar.update(task, completed=n, rate=f"{n:,} rows"))
    if wants_json(json_out):
        emit_json(summary.as_dict())
        return
    if kind:
        console.print(f"{file}: {summary.rows} rows, {summary.records_added} {kind} added, "
                      f"{summary.duplicates} already stored, {summary.rejected} rejected", highlight=False)
    else:
        console.print(f"{file} -> dataset '{summary.dataset}': {summary.rows} rows, {summary.items_added} items "
                      f"and {summary.responses_added} responses added, {summary.duplicates} already stored, "
                      f"{summary.rejected} rejected", highlight=False)
    if summary.rejects_file:
        err_console.print(f"rejected rows and reasons: {summary.rejects_file}", highlight=False)


def _import_peer(file: Path, source: str, dataset: str | None, model: str | None, kind: str | None,
                 skip_invalid: bool, rejects: Path | None, json_out: bool) -> None:
    from assay.errors import BadInput
    from assay.io import OnInvalid
    from assay.io.peers import import_peer

    if kind:
        raise BadInput("--from reads another tool's log: leave out --kind", field="--kind")
    s = import_peer(G.store(), file, source, dataset=dataset, model=model,
                    on_invalid=OnInvalid(skip=skip_invalid, rejects_path=rejects))
    if wants_json(json_out):
        emit_json(s.as_dict())
        return
    failed = f", {s.failed} failed in the run (items kept)" if s.failed else ""
    console.print(f"{file} ({source}) -> dataset '{s.dataset}': {s.rows} samples, {s.items_added} items, "
                  f"{s.responses_added} responses and {s.judgments_added} judgments added, {s.duplicates} already "
                  f"stored, {s.rejected} rejected{failed}", highlight=False)
    console.print(f"models: {', '.join(s.models) or 'none'}; rubrics: {', '.join(s.rubrics) or 'none'}; "
                  f"raters: {', '.join(s.raters) or 'none'}", highlight=False)
    if s.rejects_file:
        err_console.print(f"rejected samples and reasons: {s.rejects_file}", highlight=False)


def _import_store(folder: Path, kind: str | None, skip_invalid: bool, rejects: Path | None, json_out: bool) -> None:
    from assay.errors import BadInput
    from assay.io import OnInvalid, import_store

    if kind:
        raise BadInput("a folder written by `assay export --all` holds every kind: leave out --kind", file=str(folder))
    out = import_store(G.store(), folder, on_invalid=OnInvalid(skip=skip_invalid, rejects_path=rejects))
    if wants_json(json_out):
        emit_json(out.as_dict())
        return
    for k, s in out.kinds.items():
        console.print(f"{k}: {s.rows} rows, {s.records_added} added, {s.duplicates} already stored, "
                      f"{s.rejected} rejected", highlight=False)
    if out.rejects_file:
        err_console.print(f"rejected rows and reasons: {out.rejects_file}", highlight=False)


def _is_preference_source(source: str) -> TypeGuard[Literal["comparisons", "judgments"]]:
    return source in ("comparisons", "judgments")


def _export_store(folder: Path, with_cache: bool, json_out: bool) -> None:
    from assay.io import export_store

    with progress() as bar:
        task = bar.add_task(f"exporting to {folder}", total=None, rate="")
        manifest = export_store(G.store(), folder, cache=with_cache,
                                on_kind=lambda k, n: bar.update(task, rate=f"{k}: {n:,}"))
    if wants_json(json_out):
        emit_json({k: manifest[k] for k in ("counts", "left_out", "migration")} | {"folder": str(folder)})
        return
    total = sum(manifest["counts"].values())
    console.print(f"wrote {total:,} rows of {len(manifest['counts'])} kinds to {folder} (manifest.json lists them; "
                  f"left out: {', '.join(manifest['left_out']) or 'nothing'})", highlight=False)


@app.command("export")
def export_(
    kind: Annotated[str | None, typer.Argument(help="Record kind: items, responses, judgments, comparisons, models, "
                                                    "...")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file.")] = None,
    all_: Annotated[Path | None, typer.Option("--all", help="Write every kind to this folder, with a manifest, for "
                                                            "`assay import FOLDER`.")] = None,
    with_cache: Annotated[bool, typer.Option("--with-cache", help="--all: include the cache of model calls.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl, csv or parquet (default: from --out).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset (items).")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model (responses).")] = None,
    rubric: Annotated[str | None, typer.Option(help="Only this rubric id NAME@VERSION (judgments, comparisons).")] = None,
    rater: Annotated[str | None, typer.Option(help="Only this rater id (judgments, comparisons).")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign id.")] = None,
    source: Annotated[str, typer.Option(help="preferences: comparisons, or judgments on --dimension.")] = "comparisons",
    dimension: Annotated[str | None, typer.Option(help="preferences: the rubric dimension (judgments source).")] = None,
    min_gap: Annotated[float, typer.Option(help="preferences, judgments: smallest score difference.")] = 1.0,
    min_agreement: Annotated[float, typer.Option(help="preferences: share of raters agreeing with the majority.")] = 0.0,
    min_raters: Annotated[int, typer.Option(help="preferences: at least this many raters on a pair.")] = 1,
    exclude_ties: Annotated[bool, typer.Option("--exclude-ties", help="preferences: drop pairs any rater called a tie.")] = False,
    exclude_both_bad: Annotated[bool, typer.Option("--exclude-both-bad", help="preferences: drop pairs any rater called both bad.")] = False,
    exclude_flagged: Annotated[bool, typer.Option("--exclude-flagged", help="preferences: drop items any rater flagged.")] = False,
    min_gold_accuracy: Annotated[float | None, typer.Option(help="preferences: only raters this accurate on gold.")] = None,
    gold_rater: Annotated[str | None, typer.Option(help="preferences: rater id whose verdicts are gold.")] = None,
    rater_kind: Annotated[list[str] | None, typer.Option(help="preferences: only raters of this kind (repeatable).")] = None,
    no_margin: Annotated[bool, typer.Option("--no-margin", help="preferences, reward: leave out the margin.")] = False,
    no_formula_guard: Annotated[bool, typer.Option(
        "--no-formula-guard", help="CSV: write cells as they are, for programs (by default a cell a spreadsheet "
                                   "would run as a formula, starting with = + - @, gets a leading ').")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Export every record of one kind to JSONL, CSV or Parquet; or preference data for training
    (`assay export preferences --format trl|trl-conversational|kto|reward|hh-rlhf`)."""
    from assay.errors import BadInput
    from assay.io import export
    from assay.store.kinds import table_of

    if all_ is not None:
        if kind is not None or out is not None:
            raise BadInput("--all writes every kind into its folder: give no KIND and no --out")
        if any(v is not None for v in (dataset, model, rubric, rater, campaign)):
            raise BadInput("--all exports the whole store: it takes no filters")
        _export_store(all_, with_cache, json_out)
        return
    if kind is None or out is None:
        raise BadInput("give a record KIND and --out FILE, or --all FOLDER")
    if kind == "preferences":
        from assay.io.preferences import PreferenceFilters, export_preferences

        if not _is_preference_source(source):
            raise BadInput(f"source must be 'comparisons' or 'judgments', not {source!r}")
        pf = PreferenceFilters(
            source=source, rubric=rubric, dimension=dimension, min_gap=min_gap,
            min_agreement=min_agreement, min_raters=min_raters, exclude_ties=exclude_ties,
            exclude_both_bad=exclude_both_bad, exclude_flagged=exclude_flagged, min_gold_accuracy=min_gold_accuracy,
            gold_rater=gold_rater, raters=(rater,) if rater else None,
            rater_kinds=tuple(rater_kind) if rater_kind else None, campaign=campaign,
            datasets=(dataset,) if dataset else None, models=(model,) if model else None, margin=not no_margin)
        m = export_preferences(G.store(), out, fmt or "trl", pf)
        if wants_json(json_out):
            emit_json({k: v for k, v in m.items() if k not in ("provenance", "records")})
        else:
            c = m["counts"]
            dropped = ", ".join(f"{k} {v}" for k, v in c["pairs_dropped"].items()) or "none"
            console.print(f"wrote {c['rows']} {m['format']} rows from {c['pairs_kept']} of {c['pairs']} pairs "
                          f"to {out} (dropped: {dropped}); manifest {out}.manifest.json", highlight=False)
        return
    if (source, dimension, min_gap, min_agreement, min_raters, exclude_ties, exclude_both_bad, exclude_flagged,
            min_gold_accuracy, gold_rater, rater_kind, no_margin) != ("comparisons", None, 1.0, 0.0, 1, False, False,
                                                                     False, None, None, None, False):
        raise BadInput(f"preference options (--min-agreement, --exclude-ties, ...) only apply to "
                       f"`assay export preferences`, not {kind}")
    filters = {"dataset": dataset, "model": model, "rubric": rubric, "rater_id": rater, "campaign_id": campaign}
    try:
        table = table_of(kind)
    except KeyError:
        table = None
    if table is not None:
        bad = [k for k, v in filters.items() if v is not None and k not in table.c]
        if bad:
            raise BadInput(f"{kind} cannot be filtered by {', '.join(bad)}")
    store = G.store()
    with progress() as bar:
        task = bar.add_task(f"exporting {kind}", total=None, rate="")
        n = export(store, kind, out, fmt=fmt, on_progress=lambda k: bar.update(task, completed=k, rate=f"{k:,} rows"),
                   formula_guard=not no_formula_guard, **{k: v for k, v in filters.items() if v is not None})
    if wants_json(json_out):
        emit_json({"kind": kind, "count": n, "out": str(out)})
    else:
        console.print(f"wrote {n} {kind} to {out}", highlight=False)
