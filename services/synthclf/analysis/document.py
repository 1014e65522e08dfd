"""A small document model for the report, rendered to Markdown here and to HTML in :mod:`.html`.

The report is built once as typed blocks (paragraphs, bullet lists, tables, figures) inside
sections; both renderings come from the same blocks, so the Markdown and the HTML can never
disagree on a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Paragraph:
    """A paragraph of plain text (inline ``code`` in backticks is allowed)."""

    text: str


@dataclass
class Bullets:
    """A bullet list."""

    items: list[str]


@dataclass
class Table:
    """A table of pre-formatted cells.

    Attributes:
        header: column titles (c).
        rows: rows of c cells each.
        caption: optional line shown above the table.
    """

    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Image:
    """A PNG figure inside the report artifact.

    Attributes:
        file: path relative to the report folder, e.g. ``figures/projection-sms_spam.png``.
        caption: what it shows.
    """

    file: str
    caption: str


Block = Paragraph | Bullets | Table | Image


@dataclass
class Section:
    """A titled section of blocks."""

    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    """The report: a title, an optional lead paragraph and sections."""

    title: str
    lead: str = ""
    sections: list[Section] = field(default_factory=list)

    def images(self) -> list[Image]:
        """Every figure, in document order."""
        return [b for s in self.sections for b in s.blocks if isinstance(b, Image)]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    lines = ["| " + " | ".join(_cell(h) for h in table.header) + " |",
             "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def render_markdown(document: Document) -> str:
    """Markdown text of the document; figures link to their PNG files beside report.md."""
    parts = [f"# {document.title}", ""]
    if document.lead:
        parts += [document.lead, ""]
    for section in document.sections:
        parts += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Paragraph):
                parts += [block.text, ""]
            elif isinstance(block, Bullets):
                parts += [f"- {item}" for item in block.items] + [""]
            elif isinstance(block, Table):
                parts += ([f"*{block.caption}*", ""] if block.caption else []) + [table_markdown(block), ""]
            else:
                parts += [f"![{block.caption}]({block.file})", "", f"*{block.caption}*", ""]
    return "\n".join(parts).rstrip() + "\n"
