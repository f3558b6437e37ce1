"""`assay import --from PRESET` and `assay import --label-field ...`: other people's verdicts into the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assay.cli._app import G, console, emit_json, err_console, progress, wants_json
from assay.errors import BadInput


def _fields(value: list[str] | None) -> tuple[str, ...]:
    """Repeatable options that also take comma-separated names."""
    return tuple(x.strip() for v in value or () for x in v.split(",") if x.strip())


@dataclass
class LabelOptions:
    """The label-related options of `assay import`, as given (None: not given)."""

    from_: str | None = None
    response_fields: list[str] | None = None
    model_fields: list[str] | None = None
    label_field: str | None = None
    label_map: str | None = None
    strength_field: str | None = None
    rater: str | None = None
    rater_field: str | None = None
    rater_kind: str | None = None
    shown_field: str | None = None
    justification_field: str | None = None
    model_version: str | None = None
    baseline: str | None = None

    def mapped(self) -> bool:
        """Whether these options ask for pairwise labels with a field mapping."""
        return bool(self.label_field or self.response_fields or self.model_fields or self.label_map)

    def wanted(self, *, ignore_from: bool = False) -> bool:
        """Whether any label option was given (``ignore_from``: any besides --from)."""
        return (bool(self.from_) and not ignore_from) or self.mapped() or any(
            v is not None for v in (self.strength_field, self.rater, self.rater_field, self.rater_kind,
                                    self.shown_field, self.justification_field, self.model_version, self.baseline))


def import_labels_cli(file: Path, opts: LabelOptions, *, dataset: str | None, prompt_field: str | None,
                      id_field: str | None, model: str | None, category_field: str, fmt: str | None,
                      split: str | None, skip_invalid: bool, rejects: Path | None, json_out: bool,
                      item_options: list[str]) -> None:
    """Import labels through a preset or the field mapping; one summary line (or JSON)."""
    from assay.io import OnInvalid
    from assay.io.labels import MappedReader, PairFields, PresetOptions, import_labels, reader_for

    if opts.from_:
        if opts.mapped() or item_options:
            given = ", ".join(item_options + [f for f, v in (("--response-fields", opts.response_fields),
                                                                ("--model-fields", opts.model_fields),
                                                                ("--label-field", opts.label_field),
                                                                ("--label-map", opts.label_map)) if v])
            raise BadInput(f"--from {opts.from_} knows its format's fields: leave out {given}")
        extra = [f for f, v in (("--strength-field", opts.strength_field), ("--rater-field", opts.rater_field),
                                ("--shown-field", opts.shown_field),
                                ("--justification-field", opts.justification_field)) if v]
        if extra:
            raise BadInput(f"--from {opts.from_} knows its format's fields: leave out {', '.join(extra)}")
        reader = reader_for(opts.from_, PresetOptions(model_version=opts.model_version, model=model, rater=opts.rater,
                                                      rater_kind=opts.rater_kind, baseline=opts.baseline))
        dataset = dataset or reader.dataset
    else:
        if opts.baseline:
            raise BadInput("--baseline applies to --from arena-hard")
        if not opts.label_field:
            raise BadInput("pairwise labels need --label-field FIELD (and --label-map, --response-fields, "
                           "--model-fields or --model, --rater or --rater-field)")
        if not opts.label_map:
            raise BadInput("say how the labels are written: --label-map 1/2/0, A/B/tie, model_a/model_b/tie, A>>B, "
                           "probability, probability-second, alpaca-eval, index, or VALUE=VERDICT pairs")
        reader = MappedReader(PairFields(
            responses=_fields(opts.response_fields), label=opts.label_field, label_map=opts.label_map,
            prompt=prompt_field, models=_fields(opts.model_fields), model=model, model_version=opts.model_version,
            strength=opts.strength_field, rater_field=opts.rater_field, rater=opts.rater,
            rater_kind=opts.rater_kind or "human", shown=opts.shown_field, justification=opts.justification_field,
            id=id_field, category=category_field))
        dataset = dataset or file.stem.split(".")[0] or "default"
    with progress() as bar:
        task = bar.add_task(f"importing {file.name}", total=None, rate="")
        summary = import_labels(G.store(), file, reader, dataset=dataset, fmt=fmt, split=split,
                                on_invalid=OnInvalid(skip=skip_invalid, rejects_path=rejects),
                                on_progress=lambda n: bar.update(task, completed=n, rate=f"{n:,} rows"))
    if wants_json(json_out):
        emit_json(summary.as_dict())
        return
    s = summary
    skipped = "; skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(s.skipped.items())) if s.skipped else ""
    console.print(f"{file} -> dataset '{s.dataset}' ({s.source}): {s.rows} rows; added {s.items_added} items, "
                  f"{s.responses_added} responses, {s.comparisons_added} comparisons, {s.judgments_added} judgments, "
                  f"{s.raters_added} raters; {s.duplicates} verdicts already stored, {s.rejected} rejected{skipped}",
                  highlight=False)
    if s.rejects_file:
        err_console.print(f"rejected rows and reasons: {s.rejects_file}", highlight=False)
