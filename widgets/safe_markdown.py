"""Markdown for untrusted model text: every character is HTML-escaped first, then a small subset
of Markdown (fenced and inline code, bold, italic, headings, lists, paragraphs) is turned into
tags. Links and raw HTML stay visible as text, so nothing the model writes can run or navigate.

    >>> to_html("**Hi** <script>x</script>")
    '<p><strong>Hi</strong> &lt;script&gt;x&lt;/script&gt;</p>'
    >>> to_html("- a\\n- `b<c`")
    '<ul><li>a</li><li><code>b&lt;c</code></li></ul>'
"""

from __future__ import annotations

import html
import re

_FENCE = re.compile(r"^```")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBER = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")


def inline(text: str) -> str:
    """Escape ``text`` and apply code spans, bold and italic (code spans keep their stars)."""
    parts = _CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            escaped = html.escape(part)
            escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
            out.append(_ITALIC.sub(r"<em>\1</em>", escaped))
    return "".join(out)


def to_html(text: str) -> str:
    """Block structure line by line; an unclosed code fence (mid-stream) still renders as code."""
    blocks, para, items, kind = [], [], [], None
    lines = text.split("\n")

    def flush():
        nonlocal para, items, kind
        if para:
            blocks.append("<p>" + "<br>".join(inline(p) for p in para) + "</p>")
        if items:
            blocks.append(f"<{kind}>" + "".join(f"<li>{inline(i)}</li>" for i in items) + f"</{kind}>")
        para, items, kind = [], [], None

    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            flush()
            code = []
            i += 1
            while i < len(lines) and not _FENCE.match(lines[i]):
                code.append(lines[i])
                i += 1
            blocks.append("<pre><code>" + html.escape("\n".join(code)) + "</code></pre>")
        elif not line.strip():
            flush()
        elif m := _HEADING.match(line):
            flush()
            level = min(len(m.group(1)) + 3, 6)  # inside a chat bubble, never bigger than h4
            blocks.append(f"<h{level}>{inline(m.group(2))}</h{level}>")
        elif (m := _BULLET.match(line)) or (m := _NUMBER.match(line)):
            want = "ul" if _BULLET.match(line) else "ol"
            if para or (kind and kind != want):
                flush()
            kind = want
            items.append(m.group(1))
        elif items:
            items[-1] += " " + line.strip()
        else:
            para.append(line)
        i += 1
    flush()
    return "".join(blocks)
