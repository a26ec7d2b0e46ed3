"""Plain-text tables for ``summary()``."""

from __future__ import annotations

import html

import numpy as np


def num(x: float, digits: int = 4) -> str:
    """A number for a table cell (``.`` for missing)."""
    if x is None or not np.isfinite(x):
        return "."
    return f"{x:.{digits}f}"


def text_table(headers: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    """Fixed-width table; ``align`` is ``"l"`` or ``"r"`` per column (default right, first column left)."""
    align = align or (["l"] + ["r"] * (len(headers) - 1))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True))

    rule = "-" * len(line(headers))
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def pre_html(text: str) -> str:
    """Text wrapped for a notebook's HTML display."""
    return f"<pre style='font-size: 0.9em'>{html.escape(text)}</pre>"
