"""Self-contained HTML rendering of the report :class:`~synthclf.analysis.document.Document`.

One file with inline CSS and every PNG embedded as a ``data:image/png;base64`` URI, so the
report opens anywhere (mail attachment, artifact browser, Prefect UI link) without its
folder. Text is HTML-escaped; inline ``code`` in backticks becomes ``<code>``.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from synthclf.analysis.document import Bullets, Document, Image, Paragraph, Table
from synthclf.core.errors import NotFound

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1000px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #eee; padding-bottom: .2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; }
th { background: #f4f4f4; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0 1.6em; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption, .caption { color: #555; font-size: .9em; font-style: italic; }
code { background: #f3f3f3; padding: 0 .25em; border-radius: 3px; font-size: .9em; }
"""

_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """Escape text and turn `code` spans into <code> elements."""
    return _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", html.escape(str(text), quote=False))


def _table(table: Table) -> str:
    caption = f'<p class="caption">{_inline(table.caption)}</p>' if table.caption else ""
    head = "".join(f"<th>{_inline(h)}</th>" for h in table.header)
    body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in table.rows)
    return f"{caption}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(image: Image, folder: Path) -> str:
    path = folder / image.file
    if not path.is_file():
        raise NotFound(f"figure {image.file} is missing from {folder}")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = html.escape(image.caption)
    return (f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_inline(image.caption)}</figcaption></figure>")


def render_html(document: Document, folder: Path) -> str:
    """The document as one self-contained HTML page.

    Args:
        document: the report.
        folder: the folder the document's figure paths are relative to.

    Returns:
        HTML text (UTF-8) with every figure embedded in base64.

    Raises:
        NotFound: a figure file is missing.
    """
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(document.title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{_inline(document.title)}</h1>"]
    if document.lead:
        parts.append(f"<p>{_inline(document.lead)}</p>")
    for section in document.sections:
        parts.append(f"<section><h2>{_inline(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Paragraph):
                parts.append(f"<p>{_inline(block.text)}</p>")
            elif isinstance(block, Bullets):
                parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>")
            elif isinstance(block, Table):
                parts.append(_table(block))
            else:
                parts.append(_image(block, Path(folder)))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
