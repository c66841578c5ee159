"""A local HTTP server (127.0.0.1, random port, own thread) that plays Google CSE, DuckDuckGo's HTML endpoint,
the MediaWiki Action API, the arXiv API and a few web pages, from the recorded responses in
tests/fixtures/tools/.

Special words in a query pick the failure cases, so tests stay stateless:
  google-error / google-quota / google-slow / google-empty        (Google CSE)
  ddg-slow / ddg-empty                                            (DuckDuckGo)
  nothing-anywhere                                                (empty everywhere)
  wiki-error / wiki-slow / wiki-garbage                           (MediaWiki)
  arxiv-error / arxiv-slow / nothing-anywhere                     (arXiv)
"""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support import paths
from tools.config import ToolSettings

FIXTURES = paths.FIXTURES / "tools"
SLOW_S = 3.0
HUGE_BYTES = 50 * 1024 * 1024
ATOM = "http://www.w3.org/2005/Atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
ET.register_namespace("", ATOM)
ET.register_namespace("opensearch", OPENSEARCH)
ET.register_namespace("arxiv", "http://arxiv.org/schemas/atom")


def make_pdf(pages: list[str], title: str) -> bytes:
    """A small valid PDF (Helvetica text, one content stream per page) with a document title."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    kids = []
    next_id = 4
    for text in pages:
        ops = " ".join(f"({escape(line)}) Tj T*" for line in text.split("\n"))
        stream = f"BT /F1 11 Tf 72 740 Td 14 TL {ops} ET".encode("latin-1")
        objects[next_id] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
        objects[next_id + 1] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {next_id} 0 R >>"
        ).encode()
        kids.append(next_id + 1)
        next_id += 2
    objects[2] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode()
    info = next_id
    objects[info] = f"<< /Title ({escape(title)}) /Producer (fixture) >>".encode("latin-1")
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += f"{number} 0 obj\n".encode() + objects[number] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offsets[n]:010d} 00000 n \n".encode() for n in range(1, size))
    out += f"trailer\n<< /Size {size} /Root 1 0 R /Info {info} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


PDF_PAGES = [
    "Field Station Annual Report 2023\nSummary\nThe northern station recorded 8,412 hourly readings.\n"
    "Mean air temperature was 6.1 degrees Celsius.",
    "Section 2: Instruments\nThe barometer was replaced in March.\nHumidity sensors were recalibrated twice.",
]
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
    b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND"
    b"\xaeB`\x82"
)


def weather_page(days: int = 120) -> bytes:
    """A long page of the kind a weather search finds: a headline, today's report, then a day-by-day archive
    (distinct text on every line, as on a real site, so extraction keeps it all: about 25,000 characters of text)."""
    skies = ["clear", "partly cloudy", "overcast", "light rain", "showers", "fog in the morning", "sunny spells"]
    winds = ["north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west"]
    rows = []
    for day in range(1, days + 1):
        high, low = 12 + (day * 7) % 15, 4 + (day * 5) % 9
        rows.append(
            f"<h3>Day {day}</h3><p>On day {day} Paris saw a high of {high} °C and a low of {low} °C, "
            f"{skies[day % len(skies)]}, with a {winds[day % len(winds)]} wind of {5 + day % 20} km/h. "
            f"Humidity averaged {55 + day % 40}% and {(day * 3) % 11} mm of rain fell at Montsouris. "
            f"Sunrise was at 0{6 + day % 3}:{10 + day % 50:02d} and sunset at {19 + day % 3}:{day % 60:02d}."
            "</p>"
        )
    html = (
        "<html><head><title>Paris weather now and the last 120 days</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/maps'>Maps</a> <a href='/news'>News</a></nav><article>"
        "<h1>Paris weather now</h1><p>Right now it is 18 °C and partly cloudy in Paris, with a light "
        "south-west wind of 10 km/h. Humidity is 64% and no rain is expected before the evening.</p>"
        "<h2>The last 120 days</h2>" + "".join(rows) + "</article><footer>Weather archive demo</footer>"
        "</body></html>"
    )
    return html.encode()


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FixtureServer:
    server: ThreadingHTTPServer
    thread: threading.Thread
    requests: list[Recorded] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fixture: FixtureServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing -----------------------------------------------------------------------------
    def _record(self, body: bytes = b"") -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        if body and "x-www-form-urlencoded" in self.headers.get("content-type", ""):
            query.update(parse_qs(body.decode(), keep_blank_values=True))
        self.fixture.requests.append(Recorded(self.command, parts.path, query, dict(self.headers.items()), body))
        return parts.path, query

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        try:
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout test)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json; charset=UTF-8")

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        path, query = self._record(self.rfile.read(length))
        if path == "/html/":
            return self._duckduckgo(query.get("q", [""])[0])
        self._send(404, b"not found", "text/plain")

    def do_GET(self) -> None:
        path, query = self._record()
        q = {k: v[0] for k, v in query.items()}
        routes = {"/customsearch/v1": self._google, "/w/api.php": self._mediawiki, "/api/query": self._arxiv}
        if path in routes:
            return routes[path](q)
        if path.startswith("/pages/") or path.startswith("/redirect") or path.startswith("/status/"):
            return self._page(path, q)
        self._send(404, b"not found", "text/plain")

    # --- Google Custom Search JSON API --------------------------------------------------------
    def _google(self, q: dict[str, str]) -> None:
        terms = q.get("q", "")
        if not q.get("key") or not q.get("cx"):
            return self._json(
                400, {"error": {"code": 400, "message": "Missing key or cx", "status": "INVALID_ARGUMENT"}}
            )
        if "google-slow" in terms:
            time.sleep(SLOW_S)
        if "google-error" in terms:
            return self._send(500, (FIXTURES / "google_cse_error_500.json").read_bytes(), "application/json")
        if "google-quota" in terms:
            return self._send(403, (FIXTURES / "google_cse_error_403.json").read_bytes(), "application/json")
        if "nothing-anywhere" in terms or "google-empty" in terms:
            return self._send(200, (FIXTURES / "google_cse_empty.json").read_bytes(), "application/json")
        data = json.loads((FIXTURES / "google_cse_results.json").read_text())
        data["items"] = data["items"][: int(q.get("num", "10"))]
        self._json(200, data)

    # --- DuckDuckGo html endpoint -------------------------------------------------------------
    def _duckduckgo(self, terms: str) -> None:
        if "ddg-slow" in terms:
            time.sleep(SLOW_S)
        empty = "nothing-anywhere" in terms or "ddg-empty" in terms
        name = "ddg_empty.html" if empty else "ddg_results.html"
        self._send(200, (FIXTURES / name).read_bytes(), "text/html; charset=UTF-8")

    # --- MediaWiki Action API -----------------------------------------------------------------
    def _mediawiki(self, q: dict[str, str]) -> None:
        terms = q.get("srsearch", q.get("titles", ""))
        if "wiki-slow" in terms:
            time.sleep(SLOW_S)
        if "wiki-error" in terms:
            return self._json(
                200,
                {
                    "error": {
                        "code": "internal_api_error_DBQueryError",
                        "info": "A database query error has occurred.",
                        "docref": "...",
                    }
                },
            )
        if "wiki-garbage" in terms:
            return self._send(502, b"<html><body>Bad gateway</body></html>", "text/html")
        if q.get("list") == "search":
            searches = json.loads((FIXTURES / "wikipedia_search.json").read_text())
            data = searches.get(q.get("srsearch", "").lower(), {"batchcomplete": True, "query": {"search": []}})
            data = json.loads(json.dumps(data))
            data["query"]["search"] = data["query"]["search"][: int(q.get("srlimit", "10"))]
            return self._json(200, data)
        if q.get("prop", "").startswith("extracts"):
            titles = q.get("titles", "").split("|")
            if "exintro" not in q:  # whole-page extract, one page
                full = json.loads((FIXTURES / "wikipedia_full_extracts.json").read_text())
                page = {"pageid": 1, "ns": 0, "title": titles[0], "extract": full.get(titles[0], "")}
                return self._json(200, {"batchcomplete": True, "query": {"pages": [page]}})
            pages = json.loads((FIXTURES / "wikipedia_pages.json").read_text())
            found = [pages[t] for t in titles if t in pages]
            found += [{"ns": 0, "title": t, "missing": True} for t in titles if t not in pages]
            return self._json(200, {"batchcomplete": True, "query": {"pages": found}})
        self._json(200, {"error": {"code": "badvalue", "info": "Unrecognized parameters."}})

    # --- arXiv API ----------------------------------------------------------------------------
    def _arxiv(self, q: dict[str, str]) -> None:
        search = q.get("search_query", "")
        ids = [i for i in q.get("id_list", "").split(",") if i]
        if "arxiv-slow" in search:
            time.sleep(SLOW_S)
        if "arxiv-error" in search:
            return self._send(503, b"Service Unavailable", "text/plain")
        tree = ET.parse(FIXTURES / "arxiv_feed.xml")
        root = tree.getroot()
        entries = root.findall(f"{{{ATOM}}}entry")
        for entry in entries:
            root.remove(entry)
        words = [
            w.split(":", 1)[-1].lower()
            for w in search.replace("(", " ").replace(")", " ").split()
            if w.upper() not in ("AND", "OR", "ANDNOT")
        ]

        def matches(entry: ET.Element) -> bool:
            entry_id = entry.findtext(f"{{{ATOM}}}id", "")
            if ids:
                return any(f"/abs/{i}" in entry_id for i in ids)
            text = " ".join(entry.itertext()).lower()
            return bool(words) and all(w in text for w in words)

        chosen = [e for e in entries if matches(e)]
        start, count = int(q.get("start", "0")), int(q.get("max_results", "10"))
        for tag, value in (("totalResults", len(chosen)), ("startIndex", start), ("itemsPerPage", count)):
            element = root.find(f"{{{OPENSEARCH}}}{tag}")
            assert element is not None, tag
            element.text = str(value)
        for entry in chosen[start : start + count]:
            root.append(entry)
        body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        self._send(200, body, "application/atom+xml; charset=utf-8")

    # --- web pages ----------------------------------------------------------------------------
    def _page(self, path: str, q: dict[str, str]) -> None:
        if path == "/redirect":
            return self._send(302, b"", "text/plain", {"Location": q["to"]})
        if path.startswith("/redirect-chain/"):
            left = int(path.rsplit("/", 1)[1])
            target = "/pages/article.html" if left <= 0 else f"/redirect-chain/{left - 1}"
            return self._send(301, b"", "text/plain", {"Location": target})
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            return self._send(code, b"<html><body><h1>Error</h1></body></html>", "text/html")
        pages = {
            "/pages/article.html": ((FIXTURES / "page_article.html").read_bytes(), "text/html; charset=utf-8"),
            "/pages/no-type.html": ((FIXTURES / "page_article.html").read_bytes(), ""),
            "/pages/plain.txt": ((FIXTURES / "page_plain.txt").read_bytes(), "text/plain; charset=utf-8"),
            "/pages/report.pdf": (make_pdf(PDF_PAGES, "Field Station Annual Report 2023"), "application/pdf"),
            "/pages/image.png": (PNG_BYTES, "image/png"),
            "/pages/blob": (bytes(range(256)) * 64, "application/octet-stream"),
            "/pages/empty.html": (b"<html><head><title>Empty</title></head><body></body></html>", "text/html"),
            "/pages/paris-weather.html": (weather_page(), "text/html; charset=utf-8"),
        }
        if path in pages:
            body, content_type = pages[path]
            return self._send(200, body, content_type)
        if path == "/pages/slow.html":
            time.sleep(SLOW_S)
            return self._send(200, b"<html><body><p>late</p></body></html>", "text/html")
        if path == "/pages/huge.html":
            return self._huge(q.get("declare") == "1")
        if path == "/pages/huge.pdf":
            return self._huge_pdf()
        self._send(404, b"<html><body>Not found</body></html>", "text/html")

    def _huge(self, declare_length: bool) -> None:
        """50 MB of HTML, streamed in 64 KiB chunks; counts what the client actually took."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if declare_length:
            self.send_header("Content-Length", str(HUGE_BYTES))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        paragraph = b"<p>" + b"The quick brown fox jumps over the lazy dog. " * 20 + b"</p>\n"
        chunk = (b"<html><head><title>Huge page</title></head><body>" + paragraph * 80)[:65536]
        chunk = chunk.ljust(65536, b" ")
        sent = 0
        self.fixture.stats["huge_sent"] = 0
        try:
            while sent < HUGE_BYTES:
                self.wfile.write(chunk)
                sent += len(chunk)
                self.fixture.stats["huge_sent"] = sent
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.fixture.stats["huge_done"] = 1
        self.close_connection = True

    def _huge_pdf(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(HUGE_BYTES))
        self.end_headers()
        sent = 0
        self.fixture.stats["huge_pdf_sent"] = 0
        try:
            self.wfile.write(b"%PDF-1.4\n" + b"0" * 65527)
            sent = 65536
            while sent < HUGE_BYTES:
                self.wfile.write(b"0" * 65536)
                sent += 65536
                self.fixture.stats["huge_pdf_sent"] = sent
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up early (the byte-cap tests do it on purpose) are not errors worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def start_fixture_server() -> FixtureServer:
    handler: type[_Handler] = type("FixtureHandler", (_Handler,), {})
    server = _QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="tool-fixtures", daemon=True)
    fixture = FixtureServer(server=server, thread=thread)
    handler.fixture = fixture
    thread.start()
    return fixture


def make_settings(server: FixtureServer, tmp_path: Path, **overrides: object) -> ToolSettings:
    """Tool settings aimed at this fixture server (no Google keys unless given), short timeouts."""
    values: dict[str, Any] = dict(
        google_api_key=None,
        google_cse_id=None,
        google_cse_url=server.url("/customsearch/v1"),
        ddg_url=server.url("/html/"),
        wikipedia_api_url=server.url("/w/api.php"),
        arxiv_api_url=server.url("/api/query"),
        fetch_allow_hosts=[f"127.0.0.1:{server.port}"],
        arxiv_min_interval_s=0.0,
        web_search_timeout_s=2.0,
        wikipedia_timeout_s=2.0,
        arxiv_timeout_s=2.0,
        fetch_timeout_s=5.0,
        fetch_connect_timeout_s=1.0,
        fetch_read_timeout_s=2.0,
        code_scratch_root=tmp_path / "scratch",
        code_timeout_s=5.0,
    )
    values.update(overrides)
    return ToolSettings(_env_file=None, **values)
