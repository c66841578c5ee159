"""fetch_web_content: read one web page for the model, safely and briefly."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httpx

from tools.config import ToolSettings
from tools.extract import Extracted, NotReadable, classify, extract_html, extract_pdf, extract_text, media_type
from tools.failure import ToolFailure
from tools.net_guard import BlockedAddressError, NetGuard, guarded_transport
from tools.trim import truncate

log = logging.getLogger(__name__)

ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,application/pdf;q=0.8,*/*;q=0.5"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RawPage:
    url: str
    content_type: str
    kind: str
    body: bytes
    truncated: bool


class FetchProblem(Exception):
    """A fetch that ended without content; the message is written for the model."""


async def fetch_web_content(url: str, *, settings: ToolSettings, guard: NetGuard | None = None) -> str:
    """Read a web page (HTML, text or PDF) at a full http(s) URL: its title, final URL and main text, cut to a
    few thousand characters. Not for private networks, images or video.
    """
    guard = guard or NetGuard(settings.fetch_allow_hosts, resolve_timeout_s=settings.fetch_connect_timeout_s)
    target = (url or "").strip()
    if not target:
        return ToolFailure("fetch_web_content needs a URL, for example https://example.com/article.")
    if "://" not in target:
        target = "https://" + target
    try:
        async with asyncio.timeout(settings.fetch_timeout_s):
            page = await _download(target, settings, guard)
            extracted = await asyncio.to_thread(_extract, page, settings.tool_output_max_chars)
    except BlockedAddressError as exc:
        return ToolFailure(f"Not fetched: {exc}")
    except (FetchProblem, NotReadable) as exc:
        return ToolFailure(f"Could not read {target}: {exc}")
    except TimeoutError:
        return ToolFailure(
            f"Timed out after {settings.fetch_timeout_s:g} s while fetching {target}. The site is slow or "
            "not answering; try another source."
        )
    except httpx.InvalidURL as exc:
        return ToolFailure(f"Not fetched: {target} is not a valid URL ({exc}).")
    except httpx.TimeoutException:
        return ToolFailure(f"Timed out while fetching {target}: the server did not answer in time. Try another source.")
    except httpx.HTTPError as exc:
        return ToolFailure(f"Could not fetch {target}: {type(exc).__name__}: {exc or 'network error'}.")
    except Exception:
        log.exception("fetch_web_content failed", extra={"url": target})
        return ToolFailure(f"Could not fetch {target} because of an internal error.")
    return render(page, extracted, settings)


def render(page: RawPage, extracted: Extracted, settings: ToolSettings) -> str:
    """Title, final URL, notes, then the text, all within the output cap."""
    title = truncate(extracted.title or "(none)", 200, marker=False)
    header = [f"Title: {title}", f"URL: {truncate(page.url, 500, marker=False)}"]
    notes = []
    if page.truncated:
        notes.append(f"only the first {settings.fetch_max_bytes:,} bytes of a larger page were read")
    if extracted.note:
        notes.append(extracted.note)
    if notes:
        header.append("Note: " + "; ".join(notes) + ".")
    head = "\n".join(header) + "\n\n"
    text = extracted.text or "(The page has no readable text.)"
    return head + truncate(text, max(settings.tool_output_max_chars - len(head), 200))


async def _download(url: str, settings: ToolSettings, guard: NetGuard) -> RawPage:
    timeout = httpx.Timeout(
        connect=settings.fetch_connect_timeout_s,
        read=settings.fetch_read_timeout_s,
        write=settings.fetch_read_timeout_s,
        pool=settings.fetch_connect_timeout_s,
    )
    headers = {"User-Agent": settings.http_user_agent, "Accept": ACCEPT, "Accept-Language": "en;q=1.0, *;q=0.5"}
    current = httpx.URL(url)
    async with httpx.AsyncClient(
        transport=guarded_transport(guard), timeout=timeout, headers=headers, follow_redirects=False, trust_env=False
    ) as client:
        for _hop in range(settings.fetch_max_redirects + 1):
            await guard.check_url(current)
            async with client.stream("GET", current) as response:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    current = response.url.join(location)
                    continue
                if response.status_code >= 400:
                    raise FetchProblem(_status_message(response))
                return await _read(response, settings)
    raise FetchProblem(f"more than {settings.fetch_max_redirects} redirects; the last one pointed to {current}.")


async def _read(response: httpx.Response, settings: ToolSettings) -> RawPage:
    """Stream the body, stopping at the byte cap; refuse binary content after its first chunk."""
    content_type = response.headers.get("content-type", "")
    declared = response.headers.get("content-length")
    cap = settings.fetch_max_bytes
    chunks: list[bytes] = []
    size = 0
    kind: str | None = None
    truncated = False
    async for chunk in response.aiter_bytes(_CHUNK):
        if kind is None:
            kind = classify(content_type, chunk)
            if kind == "binary":
                raise FetchProblem(_binary_message(content_type, declared))
            if kind == "pdf" and declared and declared.isdigit() and int(declared) > cap:
                raise FetchProblem(f"the PDF is {int(declared):,} bytes, over the {cap:,}-byte limit.")
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap:
            truncated = True
            break
    body = b"".join(chunks)[:cap]
    if kind is None:
        kind = classify(content_type, body)
    if kind == "pdf" and truncated:
        raise FetchProblem(f"the PDF is larger than the {cap:,}-byte limit.")
    return RawPage(url=str(response.url), content_type=content_type, kind=kind, body=body, truncated=truncated)


def _extract(page: RawPage, output_chars: int) -> Extracted:
    if page.kind == "html":
        return extract_html(page.body, page.url, page.content_type)
    if page.kind == "pdf":
        return extract_pdf(page.body, want_chars=output_chars * 2)
    if page.kind == "text":
        return extract_text(page.body, page.content_type)
    raise NotReadable(_binary_message(page.content_type, None))


def _status_message(response: httpx.Response) -> str:
    hint = {
        401: " The page needs a login.",
        403: " The site refuses automated readers; try another source.",
        404: " The page does not exist; check the URL.",
        429: " The site is rate limiting; try another source.",
    }.get(
        response.status_code,
        " The server had a problem; try again later or another source." if response.status_code >= 500 else "",
    )
    return f"the server answered HTTP {response.status_code} {response.reason_phrase}.{hint}"


def _binary_message(content_type: str, declared: str | None) -> str:
    what = media_type(content_type) or "unknown type"
    size = f", {int(declared):,} bytes" if declared and declared.isdigit() else ""
    return (
        f"it is a binary file ({what}{size}), not a text page, so it cannot be read. Look for an HTML or PDF "
        "version of the content."
    )
