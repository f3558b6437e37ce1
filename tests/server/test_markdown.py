"""The Markdown filter on its own: what renders, and what never reaches the page."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markupsafe import Markup

from assay.server.app import _env
from assay.server.markdown import LINK_REL, SCHEMES, TAGS, render_markdown


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    p = _Tags()
    p.feed(html)
    return p.tags


def assert_safe(html: str) -> None:
    for tag, attrs in tags(html):
        assert tag in TAGS, (tag, html)
        for name, value in attrs.items():
            assert not name.startswith("on") and name not in ("style", "src", "srcdoc", "formaction"), html
            if name == "href":
                assert value.split(":", 1)[0].lower() in SCHEMES, html
        if tag == "a":
            assert attrs.get("rel") == LINK_REL, html


def test_markdown_renders_the_usual_constructs():
    html = str(render_markdown(
        "# Title\n\nSome *emphasis*, **strong**, ~~gone~~ and `code`.\n\n"
        "- one\n- two\n\n3. three\n4. four\n\n> quoted\n\n"
        "| a | b |\n|---|--:|\n| 1 | 2 |\n\n"
        "```python\ndef f():\n    return  1\n```\n\n"
        "[docs](https://example.com/a?b=1&c=2) <https://auto.example> <me@example.com>"))
    for piece in ("<h1>Title</h1>", "<em>emphasis</em>", "<strong>strong</strong>", "<s>gone</s>",
                  "<code>code</code>", "<ul>", "<li>one</li>", '<ol start="3">', "<blockquote>", "<table>",
                  "<th>a</th>", "<td>2</td>"):
        assert piece in html, piece
    # a code block keeps its whitespace exactly
    assert "<pre><code>def f():\n    return  1\n</code></pre>" in html
    anchors = [a for t, a in tags(html) if t == "a"]
    assert [a["href"] for a in anchors] == ["https://example.com/a?b=1&c=2", "https://auto.example",
                                            "mailto:me@example.com"]
    assert all(a["rel"] == LINK_REL and a["target"] == "_blank" for a in anchors)
    assert_safe(html)


def test_line_breaks_are_kept():
    assert str(render_markdown("roses are red\nviolets are blue")) == "<p>roses are red<br>\nviolets are blue</p>\n"


@pytest.mark.parametrize("text", [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](java\tscript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](data:image/png;base64,iVBORw0KGgo=)",
    "[x](file:///etc/passwd)",
    "[x](/logout)",
    "[x](//evil.example/path)",
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "[ref][evil]\n\n[evil]: javascript:alert(1)",
    "[ref][evil]\n\n[evil]: <javascript:alert(1)> \"title\"",
    "![alt](javascript:alert(1))",
    "![alt](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
])
def test_dangerous_links_never_get_an_href(text):
    html = str(render_markdown(text))
    assert_safe(html)
    assert not any("href" in a for t, a in tags(html))


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<svg onload=alert(1)>",
    "<style>body{display:none}</style>",
    "<details open ontoggle=alert(1)>",
    "*<img src=x onerror=alert(1)>*",
    "***<script>***alert(1)**</script>**",
    "**<b onclick=alert(1)>x</b>**",
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
    "    <script>alert(1)</script>",
    "| <img src=x onerror=alert(1)> | b |\n|---|---|\n| <script>x</script> | c |",
    "> <script>alert(1)</script>",
    "[<img src=x onerror=alert(1)>](https://example.com)",
    '[x](https://example.com "a\\" onmouseover=\\"alert(1)")',
    "<!-- <script>alert(1)</script> -->",
    "<<script>script>alert(1)<</script>/script>",
])
def test_raw_html_is_shown_as_text(text):
    html = str(render_markdown(text))
    assert_safe(html)
    assert "<script" not in html and "<img" not in html and "<svg" not in html and "<iframe" not in html
    assert "<style" not in html and "<details" not in html


def test_html_in_a_code_span_is_escaped_text():
    assert str(render_markdown("`<b onclick=\"x\">`")) == "<p><code>&lt;b onclick=\"x\"&gt;</code></p>\n"


def test_images_become_links_with_their_alt_text():
    html = str(render_markdown("![a chart](https://example.com/c.png) ![](data:image/png;base64,AAAA)"))
    assert "<img" not in html
    anchors = [(t, a) for t, a in tags(html) if t == "a"]
    assert anchors[0][1]["href"] == "https://example.com/c.png" and "href" not in anchors[1][1]
    assert "[image: a chart]" in html
    assert_safe(html)


def test_nesting_is_bounded():
    html = str(render_markdown(">" * 5000 + " deep"))
    assert html.count("<blockquote>") <= 20
    assert_safe(html)


def test_the_filter_is_registered_and_marks_its_output_safe():
    out = render_markdown("**x** <b>")
    assert isinstance(out, Markup)
    env = _env()
    page = env.from_string("<div>{{ t|markdown }}</div><pre>{{ t }}</pre>").render(t="**x** <b>")
    assert page == "<div><p><strong>x</strong> &lt;b&gt;</p>\n</div><pre>**x** &lt;b&gt;</pre>"
    assert render_markdown(None) == Markup("") == render_markdown("")
