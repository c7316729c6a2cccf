"""Adds tabindex="0" to every <abbr title="..."> of a page.

Material's `content.tooltips` shows an abbreviation's title as a tooltip when the element is
hovered or focused; an <abbr> is not focusable by itself, so keyboard readers would never see it.

    <abbr title="Direct preference optimisation">DPO</abbr>
 -> <abbr tabindex="0" title="Direct preference optimisation">DPO</abbr>
"""
from __future__ import annotations

import re

from mkdocs.plugins import BasePlugin

from .config import GlossaryConfig

ABBR = re.compile(r"<abbr(?![^>]*\btabindex=)(?=[^>]*\btitle=)")


def focusable(html: str) -> str:
    return ABBR.sub('<abbr tabindex="0"', html)


class GlossaryPlugin(BasePlugin[GlossaryConfig]):
    def on_page_content(self, html, *, page, config, files):
        if not self.config.enabled:
            return html
        return focusable(html)
