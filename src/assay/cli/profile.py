"""`assay profile`: the distribution of a dataset's prompts, two datasets compared, and what the mix does to a score."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import G, JsonOpt, app, console, emit_json, err_console, wants_json, confidence_option
from assay.cli._boundary import flags_for

FLAGS = {"dataset": "DATASET", "against": "--against", "contamination_against": "--contamination-against",
         "model_a": "--model-a", "model_b": "--model-b", "measure": "--measure", "languages": "--languages"}


def _pct(x: float) -> str:
    return "-" if x != x else f"{x:.1%}"


def _f(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _p(p: Any) -> str:
    return "-" if p is None or p != p else ("< 0.001" if p < 0.001 else f"{p:.3f}")


@app.command("profile")
def profile(
    dataset: Annotated[str, typer.Argument(help="The dataset to profile (the eval set when compared).")],
    against: Annotated[str | None, typer.Option(help="A second dataset to compare it with (production traffic, a training set).")] = None,
    contamination_against: Annotated[str | None, typer.Option(help="Dataset whose word n-grams DATASET's prompts are checked against (contamination).")] = None,
    ngram: Annotated[int, typer.Option(min=1, help="Word n-gram of the contamination overlap (13 as in GPT-3's analysis).")] = 13,
    topics: Annotated[bool, typer.Option("--topics/--no-topics", help="Topic clusters from the bundled embedding model (the 'embed' extra).")] = True,
    distance: Annotated[float, typer.Option(help="Cosine distance under which prompts join one topic (0..2).")] = 0.6,
    n_topics: Annotated[int | None, typer.Option(min=2, help="A fixed number of topics instead of --distance.")] = None,
    min_size: Annotated[int, typer.Option(min=1, help="Smallest topic kept (prompts among those it is fitted on).")] = 3,
    max_texts: Annotated[int, typer.Option(min=2, help="Prompts embedded per dataset (a seeded sample beyond it; scored prompts always).")] = 2000,
    language_sample: Annotated[int, typer.Option(min=0, help="Prompts without a stored language whose language is detected (a seeded sample beyond it).")] = 2000,
    languages: Annotated[str | None, typer.Option(help="Candidate languages of the detector, comma-separated ISO 639-1 codes (faster than all).")] = None,
    test: Annotated[str, typer.Option(help="Test of categorical features: chi2 (Pearson) or g (likelihood ratio).")] = "chi2",
    model_a: Annotated[str | None, typer.Option(help="Score: model A (NAME@VERSION), with --model-b and --dimension.")] = None,
    model_b: Annotated[str | None, typer.Option(help="Score: model B, compared with model A on DATASET's prompts.")] = None,
    rubric: Annotated[str | None, typer.Option(help="Score: the rubric of --dimension (NAME or NAME@VERSION).")] = None,
    dimension: Annotated[str | None, typer.Option(help="Score: the rubric dimension scored.")] = None,
    measure: Annotated[str, typer.Option(help="Score: win-rate (B over A, ties half), difference (B - A), score-a or score-b.")] = "win-rate",
    interval: Annotated[str, typer.Option(help="Interval of the re-weighted score: bootstrap (stratified) or delta.")] = "bootstrap",
    rounds: Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")] = 2000,
    confidence: confidence_option("Confidence level of intervals.") = 0.95,
    seed: Annotated[int, typer.Option(help="Seed of every sample and resample.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Lengths, languages, categories, metadata, topics, duplicates, personal data and contamination of DATASET's
    prompts; with --against, each feature tested against another dataset; with --model-a/--model-b/--dimension,
    the score per topic and re-weighted to the other dataset's mix of topics."""
    from assay.analysis.options import Options
    from assay.analysis.profile import ProfileSettings, compare_datasets, profile_dataset
    from assay.analysis.profile_impact import MEASURES, ScoreSpec
    from assay.analysis.topics import TopicSettings
    from assay.errors import BadInput

    scoring = [f for f, v in (("--rubric", rubric), ("--dimension", dimension)) if v is not None]
    if measure != "win-rate":
        scoring.append("--measure")
    if (model_a is None) != (model_b is None):
        raise BadInput("give both --model-a and --model-b", field="--model-a" if model_a is None else "--model-b")
    if scoring and model_a is None:
        raise BadInput(f"{', '.join(scoring)} {'needs' if len(scoring) == 1 else 'need'} the models: give --model-a "
                       "and --model-b", field="--model-a")
    if model_a is not None and dimension is None:
        raise BadInput("the score needs a rubric dimension: give --dimension", field="--dimension")
    if measure not in MEASURES:
        raise BadInput(f"must be one of {', '.join(MEASURES)}", field="--measure")
    if test not in ("chi2", "g"):
        raise BadInput("must be chi2 or g", field="--test")
    if interval not in ("bootstrap", "delta"):
        raise BadInput("must be bootstrap or delta", field="--interval")
    if not 0 < confidence < 1:
        raise BadInput("must lie between 0 and 1", field="--confidence")
    if not 0 < distance < 2:
        raise BadInput("must lie between 0 and 2 (cosine distance)", field="--distance")
    if against is not None and against == dataset:
        raise BadInput(f"is DATASET itself ({dataset!r}): compare it with another dataset", field="--against")
    langs = tuple(c.strip() for c in languages.split(",") if c.strip()) if languages else None
    if langs is not None:
        from assay.curate.language import check_codes

        try:
            check_codes(list(langs), "--languages")
        except ValueError as e:
            raise BadInput(str(e).split(": ", 1)[1], field="--languages") from None
    settings = ProfileSettings(
        topics=TopicSettings(distance_threshold=distance, n_topics=n_topics, min_size=min_size, max_texts=max_texts,
                             random_state=seed) if topics else None,
        language_sample=language_sample, languages=langs, ngram=ngram, test=test, random_state=seed)
    spec = ScoreSpec(model_a, model_b, dimension, rubric=rubric, measure=measure) if model_a and model_b and dimension else None
    with flags_for(**FLAGS):
        if against is None:
            data = profile_dataset(G.store(), dataset, settings=settings, contamination_against=contamination_against,
                                   score=spec, confidence=confidence)
        else:
            data = compare_datasets(G.store(), dataset, against, settings=settings, score=spec,
                                    options=Options(confidence=confidence, rounds=rounds, random_state=seed),
                                    interval=interval, contamination_against=contamination_against)
    if wants_json(json_out):
        emit_json(data)
        return
    if against is None:
        show_profile(data)
        if data.get("score"):
            show_score(data["score"])
    else:
        show_comparison(data)


def show_profile(d: dict[str, Any], other: dict[str, Any] | None = None) -> None:
    """One dataset's profile (or two side by side) as Rich tables."""
    sides = [d] + ([other] if other else [])
    t = Table(title="profile", title_justify="left")
    t.add_column("feature")
    for s in sides:
        t.add_column(s["dataset"], justify="right", overflow="fold")
    t.add_row("items", *[str(s["items"]) for s in sides])
    for u, name in (("chars", "characters"), ("words", "whitespace tokens")):
        t.add_row(f"{name}: mean", *[_f(s["length"][u]["mean"], 1) for s in sides])
        t.add_row(f"{name}: p5 / p25 / p50 / p75 / p95",
                  *[" / ".join(f"{s['length'][u][q]:.0f}" for q in ("p5", "p25", "p50", "p75", "p95")) for s in sides])
    t.add_row("language (top 5)", *[", ".join(f"{k} {v}" for k, v in list(s["language"]["counts"].items())[:5])
                                   + f" ({s['language']['stored']} stored, {s['language']['detected']} detected)"
                                   for s in sides])
    t.add_row("category (top 5)", *[", ".join(f"{k} {v}" for k, v in list(s["category"]["counts"].items())[:5])
                                   for s in sides])
    t.add_row("metadata keys", *[", ".join(f"{m['key']} {m['items']}" for m in s["metadata"][:6]) or "-" for s in sides])
    t.add_row("exact duplicates", *[f"{s['duplication']['exact']} ({_pct(s['duplication']['exact_share'])})" for s in sides])
    t.add_row("near or exact duplicates", *[f"{s['duplication']['near']} ({_pct(s['duplication']['near_share'])})"
                                          for s in sides])
    t.add_row("with personal data", *[f"{s['pii']['items']} ({_pct(s['pii']['share'])})"
                                    + (": " + ", ".join(f"{k} {v}" for k, v in s["pii"]["kinds"].items())
                                       if s["pii"]["kinds"] else "") for s in sides])
    c = d.get("contamination")
    if c:
        t.add_row(f"contaminated ({c['ngram']}-gram overlap with {c['against']})",
                  f"{c['items']} ({_pct(c['share'])})", *([""] if other else []))
    console.print(t)
    tp = d.get("topics") or {}
    if tp.get("skipped"):
        err_console.print(tp["skipped"], highlight=False, markup=False)
    elif tp.get("clusters") and other is None:
        show_topics(tp, [d["dataset"]])


def show_topics(tp: dict[str, Any], names: list[str], limit: int = 20) -> None:
    sizes = ", ".join(f"{n}: {tp['embedded'][n]} of {tp['of'][n]} embedded" for n in names)
    t = Table(title=f"topics ({sizes})", title_justify="left")
    t.add_column("topic")
    t.add_column("terms", overflow="fold")
    for n in names:
        t.add_column(f"{n} share", justify="right")
    t.add_column("example", overflow="fold")
    for c in tp["clusters"][:limit]:
        ex = next((e[0] for e in c["examples"].values() if e), "")
        t.add_row(c["topic"], ", ".join(c["terms"]), *[_pct(c["shares"][n]) for n in names], ex[:80])
    console.print(t)
    if len(tp["clusters"]) > limit:
        console.print(f"{len(tp['clusters']) - limit} more topics (--json lists them all)", highlight=False)


def show_comparison(d: dict[str, Any]) -> None:
    show_profile(d["profile_a"], d["profile_b"])
    t = Table(title=f"{d['a']} against {d['b']}: one test per feature, p-values Holm-adjusted", title_justify="left")
    for col in ("feature", "test", "statistic", "divergence", "p", "p (Holm)", "note"):
        t.add_column(col, justify="left" if col in ("feature", "test", "note") else "right", overflow="fold")
    for r in d["tests"]:
        t.add_row(r["feature"], r["test"], _f(r["statistic"]), f"{_f(r['divergence'])} {r['divergence_name']}",
                  _p(r["pvalue"]), _p(r["p_holm"]), r.get("note") or "")
    console.print(t)
    tp = d["topics"]
    if tp.get("skipped"):
        err_console.print(tp["skipped"], highlight=False, markup=False)
    else:
        show_topics(tp, [d["a"], d["b"]])
        for key, has, lacks in (("only_in_b", d["b"], d["a"]), ("only_in_a", d["a"], d["b"])):
            for c in tp[key]:
                ex = c["examples"].get(has) or [""]
                console.print(f"{c['topic']} ({', '.join(c['terms'])}): {c['counts'][has]} prompts of {has}, none of "
                              f"{lacks}; e.g. {ex[0][:100]!r}", highlight=False, markup=False)
    c = d.get("contamination")
    if c:
        console.print(f"contaminated: {c['items']} prompts of {d['a']} ({_pct(c['share'])}) share a {c['ngram']}-gram "
                      f"with {c['against']}", highlight=False)
    if d.get("score"):
        show_score(d["score"])


def show_score(s: dict[str, Any]) -> None:
    t = Table(title=f"{s['what']} on {s['dimension']} ({s['rubric']}), per topic", title_justify="left")
    for col in ("topic", "terms", "prompts", "estimate", "interval"):
        t.add_column(col, justify="right" if col in ("prompts", "estimate", "interval") else "left", overflow="fold")
    for r in s["per_topic"]:
        t.add_row(r["topic"], r["title"], str(r["n"]), _f(r["estimate"]), f"[{_f(r['low'])}, {_f(r['high'])}]")
    e = s["eval"]
    t.add_row("all (eval mix)", "", str(s["n"]), _f(e["estimate"]), f"[{_f(e['low'])}, {_f(e['high'])}]")
    tg = s.get("target")
    if tg:
        t.add_row(f"all ({tg['dataset']}'s mix)", f"{tg['method']}, covers {_pct(tg['covered'])}", "",
                  _f(tg["estimate"]), f"[{_f(tg['low'])}, {_f(tg['high'])}]")
    console.print(t)
    if tg and tg["uncovered"]:
        console.print("topics of " + tg["dataset"] + " with no scored prompt (not re-weighted): " + "; ".join(
            f"{u['topic']} {u['title']} ({_pct(u['share'])})" for u in tg["uncovered"]), highlight=False, markup=False)
    console.print(s["line"], highlight=False, markup=False)
