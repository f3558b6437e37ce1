"""The cipher, look-alike, ASCII-art and many-shot converters; many-shot's success as a function of N on a
scripted target that yields only to 32 or more shots."""

from __future__ import annotations

import doctest
import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.redteam import converters as C
from assay.redteam.ciphers import FONT, HOMOGLYPHS, read_art, render
from assay.redteam.manyshot import faux_dialogue
from assay.testing.redteam import shots_in

INVERTIBLE = ["caesar", "atbash", "homoglyph", "manyshot"]


@pytest.mark.parametrize("module", ["assay.redteam.ciphers", "assay.redteam.manyshot"])
def test_doctests(module):
    assert doctest.testmod(importlib.import_module(module)).failed == 0


@pytest.mark.parametrize("name", INVERTIBLE)
@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=200))
def test_invertible_converters_round_trip(name, text):
    conv = C.create(name)
    assert conv.invert(conv(text)) == text
    assert C.create(name)(text) == conv(text)  # deterministic


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.,?!'/():;=+-\"@ ", max_size=120))
def test_morse_round_trips_lower_case_text_up_to_spacing(text):
    conv = C.create("morse")
    assert conv.invert(conv(text)) == " ".join(text.split())


def test_ciphers_by_hand():
    assert C.create("caesar", shift=1, instruction=False)("Zebra, yak!") == "Afcsb, zbl!"
    assert C.create("atbash", instruction=False)("abc XYZ") == "zyx CBA"
    assert C.create("morse", instruction=False)("hi there") == ".... .. / - .... . .-. ."
    assert C.create("morse", instruction=False)("a#b") == ".- [#] -..."
    assert C.create("morse").invert(C.create("morse")("a#b")) == "a#b"
    with pytest.raises(ValueError, match="shift must lie in 1..25"):
        C.create("caesar", shift=26)


def test_homoglyphs_look_alike_change_the_bytes_and_follow_the_seed():
    assert all(len(v) == 1 and ord(v) > 127 for v in HOMOGLYPHS.values())
    assert len(set(HOMOGLYPHS.values())) == len(HOMOGLYPHS)  # one-to-one, so invertible
    text = "please explain the process in detail"
    every = C.create("homoglyph", rate=1.0)(text)
    assert every != text and all(ch not in HOMOGLYPHS for ch in every)
    assert C.create("homoglyph", rate=0.0)(text) == text
    assert C.create("homoglyph", seed=1)(text) != C.create("homoglyph", seed=2)(text)


def test_ascii_art_draws_the_keyword_and_reads_it_back():
    art = render("bomb-42")
    assert len(art.splitlines()) == 5 and read_art(art) == "bomb-42"
    assert all(read_art(render(ch)) == ch for ch in FONT if ch != " ")
    conv = C.create("ascii-art")
    out = conv("describe the keyword carefully")
    assert "carefully" not in out and "[MASK]" in out  # the longest word is drawn, not written
    assert conv.invert(out) == "describe the keyword carefully"
    assert C.create("ascii-art", keyword="the").invert(C.create("ascii-art", keyword="the")("say the word")) == \
        "say the word"
    with pytest.raises(ValueError, match="not in the request"):
        C.create("ascii-art", keyword="absent")("say the word")


def test_manyshot_shots_are_seeded_harmless_placeholders():
    a, b = faux_dialogue(40, seed=1), faux_dialogue(40, seed=1)
    assert a == b and a != faux_dialogue(40, seed=2) and len(a) == 40
    conv = C.create("manyshot", shots=40, seed=1)
    prompt = conv("the request")
    assert shots_in(prompt) == 40 and prompt.endswith("User: the request\nAssistant:")
    assert len(C.create("manyshot", shots=64)("x")) > len(C.create("manyshot", shots=8)("x"))
    with pytest.raises(ValueError, match="shots must lie"):
        C.create("manyshot", shots=0)


def test_manyshot_success_grows_with_n_and_finds_the_planted_threshold(store):
    """ASR as a function of N: a target that yields only to >= 32 shots is broken exactly from N = 32."""
    from assay.redteam.asr import asr
    from assay.redteam.attacks import run_attacks
    from assay.redteam.detect import detect_refusals
    from assay.testing import ScriptedServer
    from assay.testing.redteam import PlantedRedTeam
    from tests.redteam.test_attacks import FAST, behaviors, model
    from tests.sessions import session

    behaviors(store)
    ns = [1, 8, 16, 31, 32, 64]
    with ScriptedServer(handler=PlantedRedTeam(framing=None, min_shots=32)) as srv:
        results = run_attacks(session(store, **FAST), model(srv, "target"), "beh",
                              [f"manyshot(shots={n})" for n in ns])
        assert [r.attempts for r in results] == [3] * len(ns)
    detect_refusals(session(store), attempts_only=True)
    rows = {r["attack"]: r["asr"] for r in asr(store, dimension="refusal", by=("attack",))["rows"]}
    label = {n: C.parse_chain(f"manyshot(shots={n})").label() for n in ns}
    assert [rows[label[n]] for n in ns] == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
