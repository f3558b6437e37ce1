"""Red teaming: attacks on a target model, the detectors that tell whether they worked, and ASR.

An attack turns a behaviour (an Item stating what the attacker wants) into prompts; each
prompt is an Item of a derived dataset, the target's answer a Response, and the attack's
provenance an ``Attempt``. Whether an attempt succeeded is a Judgment on its response, by
a program detector, an LLM judge or a human, so agreement and review work unchanged.
"""
