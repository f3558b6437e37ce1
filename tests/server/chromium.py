"""Headless Chromium for the web app's tests: a logged-in page that records problems, and what a
person would see wrong on a page (a red error nobody caused, unreadable text, a blank page,
sideways scrolling), measured in the browser."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.conftest import require_module, skip_or_fail
from tests.server.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium (`apt-get install chromium`); never a downloaded browser
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
# how long a page may take to load or an element to appear: waits, not speed checks, so generous
# (Playwright's 30 s default is reached on a 2-core machine under a full test run)
WAIT_MS = 180_000


def sync_api():
    """playwright.sync_api, with Chromium present: a skip here, a failure under CI=true, when missing."""
    api = require_module("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"no browser at {CHROMIUM} (apt-get install chromium)")
    return api


class Watched:
    """A logged-in page that records dialogs, console errors and page errors."""

    def __init__(self, browser, base: str, name: str, *, width: int = 1280, height: int = 900) -> None:
        self.ctx = browser.new_context(base_url=base, viewport={"width": width, "height": height})
        self.ctx.set_default_timeout(WAIT_MS)
        self.page = self.ctx.new_page()
        self.problems: list[str] = []
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.goto("/login")
        # keyboard only: the name field takes focus by itself (autofocus lands just after load)
        # polled from here: wait_for_function polls by eval in the page, which the app's CSP refuses
        # ("unsafe-eval"), so it failed whenever the focus had not landed at its first look
        deadline = time.monotonic() + WAIT_MS / 1000
        while self.page.evaluate("document.activeElement ? document.activeElement.id : ''") != "name":
            assert time.monotonic() < deadline, "the name field never took the focus"
            time.sleep(0.02)
        self.page.keyboard.type(name)
        self.page.keyboard.press("Tab")
        self.page.keyboard.type(PASSWORD)
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")
        assert self.page.url.rstrip("/") == base.rstrip("/"), self.page.url

    def assert_clean(self) -> None:
        page = self.page
        page.wait_for_timeout(300)  # give any injected handler (onerror, onload, refresh) its chance
        for frame in page.frames:
            assert frame.evaluate("typeof window.__xss") == "undefined", frame.url
        assert page.evaluate("typeof parent.__xss") == "undefined"
        assert page.locator("script").count() == 1  # only /static/app.js
        assert page.locator("main img, main svg, main iframe, main style, main meta, #xsslink").count() == 0
        assert self.problems == []

    def close(self) -> None:
        self.ctx.close()


# WCAG 2.2 contrast (https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio): (L1 + 0.05) / (L2 + 0.05) over
# relative luminance; 4.5:1 for text, 3:1 for large text (24 px, or 18.66 px bold), success criterion 1.4.3.
# The background is every ancestor's background colour composited over white; text colour and
# opacity are composited over it. Background images are not considered (the app uses none).
CONTRAST = """() => {
  const rgba = s => { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const lum = c => { const f = v => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const background = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    return layers.reverse().reduce((bg, c) => over(c, bg), [255, 255, 255, 1]); };
  const opacity = el => { let o = 1; for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    if (el.closest(":disabled, option, select")) continue;  // disabled controls are exempt; options are drawn natively
    const st = getComputedStyle(el), bg = background(el), fg = rgba(st.color);
    const text = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
    const [hi, lo] = [lum(text), lum(bg)].sort((a, b) => b - a);
    const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
    out.push({tag: el.tagName.toLowerCase(), text: el.textContent.trim().slice(0, 40), ratio: (hi + 0.05) / (lo + 0.05),
              needed: size >= 24 || (bold && size >= 18.66) ? 3 : 4.5, color: st.color,
              background: `rgb(${bg.slice(0, 3).map(Math.round)})`, inButton: !!el.closest("button, .button")});
  }
  return out;
}"""

# what overflows the window sideways, outside any box that scrolls on its own
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth, wide = [];
  const scrolls = el => { for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      const o = getComputedStyle(e).overflowX; if (o === "auto" || o === "scroll" || o === "hidden") return true; }
    return false; };
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (!r.width || r.right <= width + 1 || scrolls(el)) continue;
    const cls = typeof el.className === "string" && el.className ? "." + el.className.split(" ").join(".") : "";
    wide.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${cls} right=${Math.round(r.right)}`);
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, wide: wide.slice(0, 8)};
}"""

VISIBLE_ERRORS = """() => [...document.querySelectorAll(".error")].filter(e => e.checkVisibility()).map(e => e.textContent.trim())"""


def page_problems(page, shot: Path) -> list[str]:
    """What is wrong with the page as loaded: each problem one line. Saves a full-page screenshot."""
    problems = [f"visible error: {t}" for t in page.evaluate(VISIBLE_ERRORS)]
    for c in page.evaluate(CONTRAST):
        if c["ratio"] < c["needed"]:
            problems.append(f"contrast {c['ratio']:.2f} < {c['needed']} for <{c['tag']}> {c['text']!r} "
                            f"({c['color']} on {c['background']})")
    wide = page.evaluate(OVERFLOW)
    if wide["scrollWidth"] > wide["width"]:
        problems.append(f"scrolls sideways: {wide['scrollWidth']} px wide in a {wide['width']} px window: {wide['wide']}")
    if not page.inner_text("main").strip():
        problems.append("nothing in <main>")
    page.screenshot(path=str(shot), full_page=True)
    problems += blank(shot)
    return problems


def blank(shot: Path) -> list[str]:
    """A screenshot that is one colour, or almost: the page did not draw."""
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20) or []
    most = max((n for n, _ in colours), default=0)
    drawn = 1 - most / (img.width * img.height)
    return [] if len(colours) > 16 and drawn > 0.02 else [f"blank screenshot {shot.name}: {len(colours)} colours, {drawn:.1%} drawn"]


def kbd_contrast(page) -> list[dict]:
    """Every visible <kbd> key hint with its contrast against what is behind it."""
    return [c for c in page.evaluate(CONTRAST) if c["tag"] == "kbd"]
