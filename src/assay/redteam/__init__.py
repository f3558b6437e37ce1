"""Red teaming: attacks on a target model, the detectors that tell whether they worked, and ASR.

An attack turns a behaviour (an Item stating what the attacker wants) into prompts; each
prompt is an Item of a derived dataset, the target's answer a Response, and the attack's
provenance an ``Attempt``. Whether an attempt succeeded is a Judgment on its response, by
a program detector, an LLM judge or a human, so agreement and review work unchanged.

    from assay.redteam import asr, compare, detect_refusals, run_attacks
    run_attacks(store, target_model, "behaviours", ["direct", "base64", "roleplay+prefix"])
    detect_refusals(store, attempts_only=True)            # or an LLM judge on the redteam rubric
    asr.asr(store, dimension="refusal", by=("model", "attack"))  # with Wilson intervals
    compare(store, "base64", "direct", on="attack", dimension="refusal")  # McNemar, paired by behaviour

Modules: ``converters`` (prompt transformations, chained), ``attacks`` (single-shot and
iterative attacks), ``detect`` (the refusal detector), ``sources`` (JailbreakBench and
XSTest imports), ``asr`` (attack success, over-refusal, paired comparisons).
"""

from assay.redteam.asr import attempt_outcomes, compare, refusal_rates, resolve_rater
from assay.redteam.attacks import AttackResult, catalog, load_behaviors, run_attacks
from assay.redteam.iterative import IterativeResult, program_scorers, run_iterative
from assay.redteam.converters import Chain, chain_from_spec, parse_chain
from assay.redteam.detect import RefusalCall, classify_refusal, detect_refusals
from assay.redteam.sources import import_jailbreakbench, import_xstest

__all__ = [
    "AttackResult",
    "Chain",
    "IterativeResult",
    "RefusalCall",
    "attempt_outcomes",
    "catalog",
    "chain_from_spec",
    "classify_refusal",
    "compare",
    "detect_refusals",
    "import_jailbreakbench",
    "import_xstest",
    "load_behaviors",
    "parse_chain",
    "program_scorers",
    "refusal_rates",
    "resolve_rater",
    "run_attacks",
    "run_iterative",
]
