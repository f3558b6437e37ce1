"""Where the red-team validation data is: the copies bundled in ``assay/data`` (see their ATTRIBUTION.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

JBB = Path(str(resources.files("assay.data").joinpath("jailbreakbench")))
XSTEST = Path(str(resources.files("assay.data").joinpath("xstest")))
# published attack success rates (JailbreakBench artifacts, parameters.attack_success_rate)
PUBLISHED_ASR = {"PAIR-gpt-3.5-turbo-1106": 0.71, "PAIR-gpt-4-0125-preview": 0.34, "PAIR-llama-2-7b-chat-hf": 0.00,
                 "PAIR-vicuna-13b-v1.5": 0.69, "GCG-vicuna-13b-v1.5": 0.80, "GCG-llama-2-7b-chat-hf": 0.03}
XSTEST_MODELS = ("gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct")
# XSTest v1's human-labelled completions, which the refusal detector was not written against (see ATTRIBUTION.md)


def completions(model: str) -> Path:
    return XSTEST / f"xstest_v2_completions_{model}.csv"
