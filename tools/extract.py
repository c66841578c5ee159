"""Turn fetched bytes into readable text by content type: HTML main text (trafilatura), plain text, PDF (pypdf).

CPU-bound and synchronous: the fetcher runs these in a worker thread.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from typing import Literal

import lxml.etree
import lxml.html
import trafilatura
from charset_normalizer import from_bytes

from tools.trim import one_line, squash_whitespace

log = logging.getLogger(__name__)

Kind = Literal["html", "text", "pdf", "binary"]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PDF_TYPES = frozenset({"application/pdf", "application/x-pdf"})
TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/ld+json",
        "application/xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/javascript",
        "application/x-javascript",
        "application/x-yaml",
        "application/yaml",
        "application/x-sh",
        "application/x-tex",
        "application/csv",
    }
)
# Types that are binary whatever the bytes look like; anything unknown is sniffed.
BINARY_PREFIXES = ("image/", "audio/", "video/", "font/", "model/")
SNIFF_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/unknown"})

_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.I)


@dataclass(frozen=True)
class Extracted:
    title: str | None
    text: str
    kind: Kind
    note: str | None = None


class NotReadable(Exception):
    """The content cannot be turned into text; the message is written for the model."""


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def classify(content_type: str | None, head: bytes) -> Kind:
    """What the response is, from its declared type, or from its first bytes when the type says nothing."""
    declared = media_type(content_type)
    if declared in HTML_TYPES:
        return "html"
    if declared in PDF_TYPES:
        return "pdf"
    if declared.startswith("text/") or declared in TEXT_TYPES or declared.endswith(("+xml", "+json")):
        return "text"
    if declared.startswith(BINARY_PREFIXES):
        return "binary"
    if declared and declared not in SNIFF_TYPES:
        return "binary"  # zip, msword, wasm ...: not something we can read as text
    return sniff(head)


def sniff(head: bytes) -> Kind:
    start = head.lstrip()[:512].lower()
    if start.startswith(b"%pdf-"):
        return "pdf"
    if start.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in start:
        return "html"
    sample = head[:4096]
    if b"\x00" in sample:
        return "binary"
    try:
        sample.decode("utf-8")
        return "text"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:  # a multi-byte character cut at the end of the sample
            return "text"
    best = from_bytes(sample).best()
    return "text" if best is not None and best.chaos < 0.2 else "binary"


def decode(data: bytes, content_type: str | None) -> str:
    """Bytes to text: the declared charset, else UTF-8, else charset detection."""
    match = _CHARSET.search(content_type or "")
    if match:
        try:
            return data.decode(match.group(1), errors="replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(data[:200_000]).best()
        return data.decode(best.encoding if best else "utf-8", errors="replace")


def extract_html(data: bytes, url: str, content_type: str | None = None) -> Extracted:
    """Main text of an article-like page (navigation, ads and boilerplate dropped), and its title."""
    html = decode(data, content_type) if _CHARSET.search(content_type or "") else data
    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_links=False,
        include_images=False,
        deduplicate=True,
    )
    title = _clean_title(getattr(document, "title", None)) if document is not None else None
    text = squash_whitespace(getattr(document, "text", None) or "") if document is not None else ""
    if not title or not text:
        fallback_title, fallback_text = _lxml_text(data if isinstance(html, bytes) else html)
        title = title or fallback_title
        if not text:
            text = fallback_text
    return Extracted(title=title, text=text, kind="html")


def extract_text(data: bytes, content_type: str | None = None) -> Extracted:
    return Extracted(title=None, text=squash_whitespace(decode(data, content_type)), kind="text")


def extract_pdf(data: bytes, *, want_chars: int, max_pages: int = 50) -> Extracted:
    """Text of the first pages of a PDF, stopping once there is more than `want_chars` of it."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception as exc:
                raise NotReadable("The PDF is encrypted and cannot be read.") from exc
        total = len(reader.pages)
        parts: list[str] = []
        size = 0
        read_pages = 0
        for page in reader.pages[:max_pages]:
            text = page.extract_text() or ""
            parts.append(text)
            size += len(text)
            read_pages += 1
            if size >= want_chars:
                break
        title = None
        if reader.metadata is not None and reader.metadata.title:
            title = _clean_title(str(reader.metadata.title))
    except PdfReadError as exc:
        raise NotReadable(f"The PDF could not be parsed ({exc}).") from exc
    text = squash_whitespace("\n\n".join(parts))
    if not text:
        raise NotReadable("The PDF has no extractable text (it may be scanned images).")
    note = f"PDF with {total} pages; text of the first {read_pages} shown" if read_pages < total else None
    return Extracted(title=title, text=text, kind="pdf", note=note)


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    title = one_line(title)
    return title or None


def _lxml_text(html: bytes | str) -> tuple[str | None, str]:
    """Plain fallback when trafilatura finds no main text (short or unusual pages)."""
    try:
        root = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return None, ""
    title_nodes = root.xpath("//title/text()")
    title = _clean_title(title_nodes[0]) if title_nodes else None
    for bad in root.xpath("//script|//style|//noscript|//template|//svg|//head"):
        bad.drop_tree()
    body = root.find("body")
    text = (body if body is not None else root).text_content()
    return title, squash_whitespace(text)
