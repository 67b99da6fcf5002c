"""A fake of ANAF's e-Factura REST API on loopback, for the tests: it speaks the real requests and
answers (XML for upload and stareMesaj, a ZIP for descarcare, JSON for listaMesajeFactura).

What it does with an upload is set per test:

- `verdict`: "ok" (accepted) or "nok" (rejected with `errors`), given after `processing_polls`
  answers of "in prelucrare";
- `upload_mode`: "answer" (the index), "refuse" (ExecutionStatus 1 with `errors`), "timeout"
  (accepted, then no answer until after the client gave up), "lost" (no answer, nothing stored),
  "garbled" (accepted, answered with a page that is not ANAF's XML, as a proxy in between might);
- `list_error`: listaMesajeFactura answers with this error instead of its messages;
- `redirect_status`: stareMesaj answers with a redirect to /elsewhere, which records who followed it.
"""

from __future__ import annotations

import http.server
import io
import json
import threading
import urllib.parse
import zipfile
from dataclasses import dataclass, field

TOKEN = "test-efactura-token"
CIF = "12345678"


@dataclass
class Upload:
    index: str
    path: str  # upload or uploadb2c
    cif: str
    xml: bytes
    verdict: str
    errors: list[str]
    polls: int = 0
    download_id: str = ""


@dataclass
class FakeAnaf:
    verdict: str = "ok"
    errors: list[str] = field(default_factory=lambda: ["E: eroare validare: BR-RO-100 cif cumparator invalid"])
    processing_polls: int = 1
    upload_mode: str = "answer"
    list_error: str | None = None
    redirect_status: bool = False
    hang_seconds: float = 2.0
    uploads: list[Upload] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    url: str = ""
    _next: int = 5001130147
    _release: threading.Event = field(default_factory=threading.Event)

    def by_index(self, index: str) -> Upload | None:
        return next((u for u in self.uploads if u.index == index), None)

    def _new_index(self) -> str:
        self._next += 1
        return str(self._next)

    # --- answers ---------------------------------------------------------------------

    def upload(self, path: str, query: dict, body: bytes) -> tuple[int, str, bytes]:
        if self.upload_mode == "refuse":
            errors = "".join(f'<Errors errorMessage="{e}"/>' for e in self.errors)
            return 200, "application/xml", _header("spv:respUploadFisier", 'ExecutionStatus="1"', errors)
        if self.upload_mode == "lost":
            self._release.wait(self.hang_seconds)
            return 504, "text/plain", b"Gateway Timeout"
        upload = Upload(self._new_index(), path, query.get("cif", ""), body, self.verdict, list(self.errors))
        self.uploads.append(upload)
        if self.upload_mode == "timeout":
            self._release.wait(self.hang_seconds)  # stored, but the client stopped waiting
        if self.upload_mode == "garbled":
            return 200, "text/html", b"Service temporarily unavailable"
        attrs = f'ExecutionStatus="0" index_incarcare="{upload.index}"'
        return 200, "application/xml", _header("spv:respUploadFisier", attrs)

    def status(self, query: dict) -> tuple[int, str, bytes]:
        upload = self.by_index(query.get("id_incarcare", ""))
        if upload is None:
            errors = '<Errors errorMessage="Nu aveti dreptul de interogare pentru id_incarcare"/>'
            return 200, "application/xml", _header("efactura:stareMesajFactura", "", errors)
        upload.polls += 1
        if upload.polls <= self.processing_polls:
            return 200, "application/xml", _header("efactura:stareMesajFactura", 'stare="in prelucrare"')
        upload.download_id = upload.download_id or self._new_index()
        attrs = f'stare="{upload.verdict}" id_descarcare="{upload.download_id}"'
        return 200, "application/xml", _header("efactura:stareMesajFactura", attrs)

    def download(self, query: dict) -> tuple[int, str, bytes]:
        upload = next((u for u in self.uploads if u.download_id and u.download_id == query.get("id")), None)
        if upload is None:
            return 200, "application/json", json.dumps({"eroare": "Nu exista mesaj", "titlu": "Descarcare"}).encode()
        return 200, "application/zip", _zip(upload)

    def messages(self, query: dict) -> tuple[int, str, bytes]:
        if self.list_error:
            return 200, "application/json", json.dumps({"eroare": self.list_error, "titlu": "Lista"}).encode()
        listed = []
        for upload in self.uploads:
            upload.download_id = upload.download_id or self._new_index()  # processed by the time it is listed
            kind = "FACTURA TRIMISA" if upload.verdict == "ok" else "ERORI FACTURA"
            listed.append(
                {
                    "data_creare": "202612041200",
                    "cif": upload.cif,
                    "id_solicitare": upload.index,
                    "detalii": f"Factura cu id_incarcare={upload.index} emisa de cif_emitent={upload.cif}",
                    "tip": kind,
                    "id": upload.download_id,
                }
            )
        if not listed:
            return 200, "application/json", json.dumps({"eroare": "Nu exista mesaje", "titlu": "Lista"}).encode()
        return 200, "application/json", json.dumps({"mesaje": listed, "titlu": "Lista Mesaje"}).encode()


def _header(namespace: str, attrs: str, children: str = "") -> bytes:
    ns = f"mfp:anaf:dgti:{namespace}:v1"
    head = f'<header xmlns="{ns}" dateResponse="202612041200" {attrs}>'
    return f'<?xml version="1.0" encoding="UTF-8"?>{head}{children}</header>'.encode()


def _zip(upload: Upload) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if upload.verdict == "ok":
            archive.writestr(f"{upload.index}.xml", upload.xml)
            archive.writestr(f"semnatura_{upload.index}.xml", b"<Signature>ministry</Signature>")
        else:
            errors = "".join(f'<Error errorMessage="{e}"/>' for e in upload.errors)
            attrs = f'Index_incarcare="{upload.index}" Cif_emitent="{upload.cif}"'
            archive.writestr(f"{upload.index}.xml", _header("efactura:raspunsErori", attrs, errors))
    return buffer.getvalue()


def start() -> tuple[FakeAnaf, http.server.ThreadingHTTPServer]:
    fake = FakeAnaf()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            name = url.path.rsplit("/", 1)[-1]
            fake.requests.append(f"{method} {name}")
            if name == "elsewhere":
                fake.requests.append(f"followed with {self.headers.get('Authorization')}")
                status, kind, body = 404, "text/plain", b"not here"
            elif name == "stareMesaj" and fake.redirect_status:
                self.send_response(302)
                self.send_header("Location", f"{fake.url}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status, kind, body = 401, "application/json", b'{"error": "invalid_token"}'
            elif method == "POST" and name in ("upload", "uploadb2c"):
                length = int(self.headers.get("Content-Length") or 0)
                status, kind, body = fake.upload(name, query, self.rfile.read(length))
            elif method == "GET" and name == "stareMesaj":
                status, kind, body = fake.status(query)
            elif method == "GET" and name == "descarcare":
                status, kind, body = fake.download(query)
            elif method == "GET" and name == "listaMesajeFactura":
                status, kind, body = fake.messages(query)
            else:
                status, kind, body = 404, "text/plain", b"not found"
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped waiting (a timeout test)

        def do_GET(self):
            self._answer("GET")

        def do_POST(self):
            self._answer("POST")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/test/FCTEL/rest"
    return fake, server


def stop(fake: FakeAnaf, server: http.server.ThreadingHTTPServer) -> None:
    fake._release.set()
    server.shutdown()
    server.server_close()
