"""The code blocks of README.md and docs/**/*.md, as the documentation's tests run them.

A page's ```python blocks run in order in one namespace; its ```sh (or ```bash) blocks run each line
that starts with `minie5 ` or `python `, in order, in the same folder. `<!-- skip: reason -->` on
the line just before a fence skips that block, and the reason is required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SKIP = re.compile(r"<!--\s*skip\b(.*?)-->")
FENCE = re.compile(r"^```\s*([\w+-]*)")
SHELL = {"sh", "bash", "shell"}
RUN_PREFIXES = ("minie5 ", "python ")


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, from 1
    language: str
    code: str
    skip: str | None  # the reason, when the block is skipped

    @property
    def where(self) -> str:
        return f"{shown(self.page)}:{self.line}"

    def commands(self) -> list[str]:
        """A shell block's lines that run: those starting `minie5 ` or `python ` (a trailing
        backslash joins the next line)."""
        joined, current = [], ""
        for line in self.code.splitlines():
            current += line.rstrip()
            if current.endswith("\\"):
                current = current[:-1] + " "
                continue
            joined.append(current.strip())
            current = ""
        return [c for c in joined if c.startswith(RUN_PREFIXES)]


def shown(page: Path) -> str:
    """A page's path as the repository names it."""
    return str(page.relative_to(REPO)) if page.is_relative_to(REPO) else str(page)


def pages() -> list[Path]:
    """README.md and every page of the documentation site."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """Every top-level fenced block of a page, with the skip marker just before it, if any."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start = i
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
        marker = SKIP.search(lines[start - 1]) if start > 0 else None
        skip = None
        if marker:
            skip = marker.group(1).strip().removeprefix(":").strip()
            skip = skip or ""  # a marker without a reason: reported by the tests
        found.append(Block(page, start + 1, match.group(1).lower(), "\n".join(lines[start + 1:end]), skip))
        i = end + 1
    return found


def skip_markers_without_reason(page: Path) -> list[str]:
    """Every skip marker of a page that gives no reason, or that stands before no fence."""
    lines = page.read_text(encoding="utf-8").splitlines()
    bad = []
    for number, line in enumerate(lines, start=1):
        marker = SKIP.search(line)
        if not marker:
            continue
        reason = marker.group(1).strip()
        if not reason.startswith(":") or not reason[1:].strip():
            bad.append(f"{shown(page)}:{number}: a skip marker without a reason")
        elif number >= len(lines) or not FENCE.match(lines[number]):
            bad.append(f"{shown(page)}:{number}: a skip marker not just before a fence")
    return bad
