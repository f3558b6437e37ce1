"""Untrusted text (prompts, model responses, gold explanations) as safe HTML for the rater pages.

Two layers: markdown-it renders CommonMark (plus tables and strikethrough) with raw HTML
off, so any HTML in the text comes out as escaped text; then nh3 (ammonia) keeps only an
allow-list of tags and attributes, so a bug or a new feature of the Markdown layer cannot
put a script, an event handler or a ``javascript:`` link on the page. Images become links
(the CSP blocks remote images anyway, and a rater should see that one was there).
"""

from __future__ import annotations

from functools import lru_cache
from html import escape

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

TAGS = frozenset({
    "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "a",
})
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"


def _image_as_link(self, tokens, idx, options, env) -> str:
    tok = tokens[idx]
    alt = self.renderInlineAsText(tok.children or [], options, env)
    src = str(tok.attrGet("src") or "")
    return f'<a href="{escape(src)}">[image: {escape(alt or src, quote=False)}]</a>'


_MD = (MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "typographer": False})
       .enable(["table", "strikethrough"]))
_MD.add_render_rule("image", _image_as_link)
# relative links are dropped: they would point into the app itself; links open beside the rating page
_CLEAN = nh3.Cleaner(tags=set(TAGS), attributes={k: set(v) for k, v in ATTRIBUTES.items()},
                     url_schemes=set(SCHEMES), link_rel=LINK_REL, url_relative="deny", strip_comments=True,
                     set_tag_attribute_values={"a": {"target": "_blank"}})


@lru_cache(maxsize=2048)
def _render(text: str) -> str:
    return _CLEAN.clean(_MD.render(text))


def render_markdown(text: str | None) -> Markup:
    """Markdown as sanitised HTML, safe to put in a page as is (a Jinja filter: ``{{ text|markdown }}``).

    >>> str(render_markdown("*hi* <b>there</b> [x](javascript:alert(1))"))
    '<p><em>hi</em> &lt;b&gt;there&lt;/b&gt; [x](javascript:alert(1))</p>\\n'
    """
    return Markup(_render(text)) if text else Markup("")
