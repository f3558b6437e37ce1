"""Red teaming: attacks on a target model, the detectors that tell whether they worked, and ASR.

An attack turns a behaviour (an Item stating what the attacker wants) into prompts; each
prompt is an Item of a derived dataset, the target's answer a Response, and the attack's
provenance an ``Attempt``. Whether an attempt succeeded is a Judgment on its response, by
a program detector, an LLM judge or a human, so agreement and review work unchanged.

    from assay.redteam import asr, compare, detect_refusals, run_attacks
    session = Session(store)                              # assay.session: endpoint and execution
    run_attacks(session, target_model, "behaviours", ["direct", "base64", "roleplay+prefix"])
    detect_refusals(session, attempts_only=True)          # or an LLM judge on the redteam rubric
    asr.asr(store, dimension="refusal", by=("model", "attack"))  # with Wilson intervals
    compare(store, "base64", "direct", on="attack", dimension="refusal")  # McNemar, paired by behaviour

Modules: ``converters`` (prompt transformations, chained; ``ciphers``, ``manyshot`` and
``rewrite`` add ciphers, look-alikes, ASCII art, many-shot and model rewrites), ``attacks``
(single-shot attacks and the catalogue), ``iterative``, ``tap`` and ``crescendo`` (attacks
with an attacker model and a scorer), ``suites`` (named suites of attacks, probes and
detectors), ``detect`` (the refusal detector), ``sources`` (JailbreakBench and XSTest
imports), ``asr`` (attack success, over-refusal, paired comparisons), ``injection`` and
``leakage`` (prompt injection and secret extraction, judged by the canary detectors of ``canary``),
``code``, ``rendering`` and ``insecure`` (insecure code found by bandit and njsscan, unsafe rendering,
their rates), ``bias`` (counterfactual bias probes: term swaps, paired gaps between groups) and ``bbq`` (BBQ's
question sets: accuracy and bias scores); ``options`` holds ``RunOptions``, the settings injection, leakage and
the bias probes share.
"""

from __future__ import annotations

import importlib

# name -> the module that defines it; loaded on first use, so importing one submodule (the web
# app reads ``assay.redteam.asr``) does not import the attacks and, through them, judges and runs
_EXPORTS = {
    "attempt_outcomes": "asr", "compare": "asr", "refusal_rates": "asr", "resolve_rater": "asr",
    "AttackResult": "attacks", "catalog": "attacks", "load_behaviors": "attacks", "run_attacks": "attacks",
    "IterativeResult": "iterative", "program_scorers": "iterative", "run_iterative": "iterative",
    "Chain": "converters", "chain_from_spec": "converters", "parse_chain": "converters",
    "RefusalCall": "detect", "classify_refusal": "detect", "detect_refusals": "detect",
    "import_jailbreakbench": "sources", "import_xstest": "sources",
    "TapAttack": "tap", "TapResult": "tap", "run_tap": "tap",
    "CrescendoAttack": "crescendo", "run_crescendo": "crescendo",
    "Suite": "suites", "load_suite": "suites", "suite_names": "suites", "suite_probe": "suites",
    "convert_all": "rewrite",
    "detect_canaries": "injection", "run_injection": "injection", "run_leakage": "leakage",
    "find_canary": "canary", "injection_call": "canary", "leak_call": "canary",
    "extract_code": "code", "scan_response": "code", "unsafe_rendering_findings": "rendering",
    "scan_outputs": "insecure", "insecure_rates": "insecure",
    "GapOptions": "bias", "bias_results": "bias", "run_bias": "bias", "bbq_results": "bbq", "import_bbq": "bbq",
    "run_bbq": "bbq", "RunOptions": "options",
}
_SUBMODULES = ("asr", "attacks", "bbq", "bias", "canary", "ciphers", "code", "converters", "crescendo", "detect",
               "injection", "insecure", "iterative", "leakage", "manyshot", "options", "rendering", "rewrite",
               "sources", "suites", "tap")

__all__ = [
    "AttackResult",
    "Chain",
    "CrescendoAttack",
    "GapOptions",
    "RunOptions",
    "Suite",
    "TapAttack",
    "TapResult",
    "convert_all",
    "load_suite",
    "run_crescendo",
    "run_tap",
    "suite_names",
    "suite_probe",
    "IterativeResult",
    "RefusalCall",
    "attempt_outcomes",
    "bbq_results",
    "bias_results",
    "catalog",
    "chain_from_spec",
    "classify_refusal",
    "compare",
    "detect_canaries",
    "detect_refusals",
    "extract_code",
    "find_canary",
    "import_bbq",
    "import_jailbreakbench",
    "import_xstest",
    "injection_call",
    "insecure_rates",
    "leak_call",
    "load_behaviors",
    "parse_chain",
    "program_scorers",
    "refusal_rates",
    "resolve_rater",
    "run_attacks",
    "run_injection",
    "run_bbq",
    "run_bias",
    "run_iterative",
    "run_leakage",
    "scan_outputs",
    "scan_response",
    "unsafe_rendering_findings",
]


def __getattr__(name: str):  # noqa: ANN202
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"assay.redteam.{_EXPORTS[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"assay.redteam.{name}")
    raise AttributeError(f"module 'assay.redteam' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])
