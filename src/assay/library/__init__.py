"""The failure library: recurring failure modes, found in judgments and attacks, kept up to date.

    from assay.library import Clustering, select_failures, discover, hypothesise, add_candidate, check_entry
    session = Session(store, Endpoint(base_url=URL))                 # assay.session
    failures = select_failures(store, rubric="default", dimension="factuality", below=3)
    facets = describe_failures(session, failures.failures, "judge@1")  # optional: topic-free kinds
    found = discover(failures, clustering=Clustering(min_size=3), facets=facets)  # candidates, largest first
    hypothesise(session, found.candidates, "judge@1")                # optional: LLM titles and hypotheses
    entry = add_candidate(store, found.candidates[0], detector={"program": {...}})
    check_entry(session, entry.entry, new_model)                     # mitigated / regressed / confirmed

Modules: ``failures`` (what failed, from rubric judgments, verifiers and red-team
verdicts), ``facets`` (an LLM's topic-free name for each failure's kind), ``discover`` (embedding, clustering, c-TF-IDF terms), ``hypothesise`` (an
LLM's title and hypothesis per candidate), ``entries`` (the versioned library), ``check``
(re-checking an entry on a new model version), ``probes`` and ``why`` (counterfactual probes:
which controlled change of the failing prompts fixes the failure; ``assay why``).
"""

from assay.library.check import CheckResult, check_entry
from assay.library.discover import Candidate, Clustering, Discovery, ModelShare, ctfidf_terms, discover, embed_texts
from assay.library.facets import Facets, describe_failures
from assay.library.entries import (
    EntryConflict,
    EntryFields,
    add_candidate,
    add_entry,
    check_detector,
    edit_entry,
    get_entry,
    history,
    link_examples,
    list_entries,
    retire_entry,
    slugify,
)
from assay.library.failures import (
    Failure,
    Failures,
    merge,
    redteam_failures,
    rubric_failures,
    select_failures,
    verifier_failures,
)
from assay.library.hypothesise import Hypothesis, hypothesise, parse_hypothesis
from assay.library.probes import Change, Probe, probe
from assay.library.why import (
    ProbeRequest,
    ProbeResult,
    ProbeSettings,
    Target,
    WhyResult,
    probe_entry,
    probe_failures,
    probe_target,
)

__all__ = [
    "Candidate",
    "Change",
    "CheckResult",
    "Clustering",
    "Discovery",
    "EntryConflict",
    "EntryFields",
    "Facets",
    "Failure",
    "Failures",
    "Hypothesis",
    "ModelShare",
    "Probe",
    "ProbeRequest",
    "ProbeResult",
    "ProbeSettings",
    "Target",
    "WhyResult",
    "add_candidate",
    "add_entry",
    "check_detector",
    "check_entry",
    "ctfidf_terms",
    "describe_failures",
    "discover",
    "edit_entry",
    "embed_texts",
    "get_entry",
    "history",
    "hypothesise",
    "link_examples",
    "list_entries",
    "merge",
    "parse_hypothesis",
    "probe",
    "probe_entry",
    "probe_failures",
    "probe_target",
    "redteam_failures",
    "retire_entry",
    "rubric_failures",
    "select_failures",
    "slugify",
    "verifier_failures",
]
