"""ANAF's e-Factura API (SPV), behind a transport the jobs talk to.

`HttpTransport` speaks the REST API (https://mfinante.gov.ro/static/10/eFactura/upload.html and
the pages beside it) with the OAuth2 bearer token of the seller's certificate sign-in:

- POST upload?standard=UBL&cif=...     (B2B; uploadb2c for a private buyer) -> index_incarcare
- GET  stareMesaj?id_incarcare=...     -> "in prelucrare", "ok" or "nok" (+ id_descarcare)
- GET  descarcare?id=...               -> a ZIP: the invoice and the ministry's signature, or the errors
- GET  listaMesajeFactura?zile=N&cif=  -> the messages of the last N days (JSON)

What can go wrong is told apart, because a document must never be reported twice:
`Unavailable` (nothing reached ANAF: try again later), `NoAnswer` (an upload was sent and
no answer came: it may have arrived, so it is looked for before any new upload) and
`Refused` (ANAF answered no, with its reasons).
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Protocol

from lxml import etree

log = logging.getLogger(__name__)

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
#: The largest answer read from ANAF, and the largest file taken out of its ZIP (an invoice is at most 10 MB).
MAX_ANSWER = 32 * 1024 * 1024
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


class Unavailable(Exception):
    """ANAF could not be asked (down, unreachable, the token refused): nothing was done."""


class NoAnswer(Unavailable):
    """An upload was sent and no answer came back: ANAF may have it."""


class Refused(Exception):
    """ANAF answered with a refusal of the request, giving its reasons."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Verdict:
    """What stareMesaj says of an upload: "processing", "ok" or "nok" (rejected, the reasons in its ZIP)."""

    state: str
    download_id: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Message:
    """One entry of listaMesajeFactura: an answer to one upload (`upload_index`), downloadable by `id`."""

    id: str
    upload_index: str
    kind: str  # "FACTURA TRIMISA" (accepted), "ERORI FACTURA" (rejected), ...
    created: str  # yyyymmddHHMM, Romanian time


class Transport(Protocol):
    def upload(self, xml: bytes, *, b2c: bool) -> str: ...

    def status(self, upload_index: str) -> Verdict: ...

    def download(self, download_id: str) -> bytes: ...

    def messages(self, days: int) -> list[Message]: ...


#: stareMesaj's words for an upload's state.
_STATES = {"ok": "ok", "nok": "nok", "in prelucrare": "processing", "xml cu erori nepreluat de sistem": "nok"}


class HttpTransport:
    """The real API over HTTPS, `base_url` like https://api.anaf.ro/prod/FCTEL/rest."""

    def __init__(self, base_url: str, cif: str, token: str, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
            # The bearer token goes with every request: never in the clear (plain http only to a test server here).
            raise ValueError(f"EFACTURA_API_URL must be an https URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.cif = cif
        self.token = token
        self.timeout = timeout

    def upload(self, xml: bytes, *, b2c: bool) -> str:
        path = "uploadb2c" if b2c else "upload"
        body = self._request("POST", path, {"standard": "UBL", "cif": self.cif}, xml, sent_matters=True)
        root = _xml_or_none(body)
        if root is None:  # an answer came, but not ANAF's (a proxy's page, cut short): it may have the upload
            raise NoAnswer(f"{path}: an answer that is not ANAF's XML: {body[:200]!r}")
        errors = _errors(root)
        if root.get("ExecutionStatus") != "0" or not root.get("index_incarcare"):
            raise Refused(errors or [f"ExecutionStatus {root.get('ExecutionStatus')!r} without an index"])
        return root.get("index_incarcare")

    def status(self, upload_index: str) -> Verdict:
        root = _xml(self._request("GET", "stareMesaj", {"id_incarcare": upload_index}))
        state = _STATES.get((root.get("stare") or "").strip().lower())
        if state is None:
            # No state: ANAF refused the question itself (an unknown index, no right to ask it).
            raise Unavailable("; ".join(_errors(root)) or "stareMesaj answered without a state")
        return Verdict(state, root.get("id_descarcare"), _errors(root))

    def download(self, download_id: str) -> bytes:
        body = self._request("GET", "descarcare", {"id": download_id})
        if not zipfile.is_zipfile(io.BytesIO(body)):  # {"eroare": ...}: not a ZIP we could read it from
            raise Unavailable(f"descarcare {download_id}: not a ZIP: {body[:200]!r}")
        return body

    def messages(self, days: int) -> list[Message]:
        body = self._request("GET", "listaMesajeFactura", {"zile": str(days), "cif": self.cif})
        try:
            data = json.loads(body)
        except ValueError as error:
            raise Unavailable(f"listaMesajeFactura answered something that is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise Unavailable(f"listaMesajeFactura answered {body[:200]!r}")
        problem = str(data.get("eroare") or "")
        if problem and not problem.startswith("Nu exista mesaje"):
            # Too many messages, no right to the CIF...: not "there are none", which would lead to an upload.
            raise Unavailable(f"listaMesajeFactura: {problem[:300]}")
        return [
            Message(str(m.get("id", "")), str(m.get("id_solicitare", "")), m.get("tip", ""), m.get("data_creare", ""))
            for m in data.get("mesaje") or []  # none: {"eroare": "Nu exista mesaje in ultimele N zile"}
        ]

    def _request(self, method: str, path: str, query: dict, body: bytes | None = None, *, sent_matters=False) -> bytes:
        url = f"{self.base_url}/{path}?{urllib.parse.urlencode(query)}"
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = "text/plain"
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 (checked)
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                answer = response.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as error:
            detail = f"{path}: HTTP {error.code} {error.reason}"
            if error.code in (401, 403):
                raise Unavailable(f"{detail}: the e-Factura token was refused (renew EFACTURA_ACCESS_TOKEN)") from None
            if error.code >= 500 and sent_matters:
                raise NoAnswer(detail) from None  # it may have been stored before the server failed
            if error.code in (400, 413, 422):
                raise Refused(_errors(_xml_or_none(error.read(MAX_ANSWER))) or [detail]) from None
            if 300 <= error.code < 400 and sent_matters:
                raise NoAnswer(f"{detail}: redirected, not followed") from None
            raise Unavailable(detail) from None
        except urllib.error.URLError as error:
            # Raised while connecting or sending: the request did not arrive whole.
            raise Unavailable(f"{path}: {error.reason}") from None
        except (TimeoutError, ConnectionError, OSError, http.client.HTTPException) as error:
            # Raised while waiting for the answer: the request arrived and may have been acted on.
            if sent_matters:
                raise NoAnswer(f"{path}: no answer ({error or type(error).__name__})") from None
            raise Unavailable(f"{path}: no answer ({error or type(error).__name__})") from None
        if len(answer) > MAX_ANSWER:
            raise (NoAnswer if sent_matters else Unavailable)(f"{path}: an answer over {MAX_ANSWER} bytes")
        return answer


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: urllib would carry the bearer token to wherever it points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _xml(body: bytes):
    root = _xml_or_none(body)
    if root is None:
        raise Unavailable(f"ANAF answered something that is not XML: {body[:200]!r}")
    return root


def _xml_or_none(body: bytes):
    try:
        return etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return None


def _errors(root) -> list[str]:
    if root is None:
        return []
    return [e.get("errorMessage", "").strip() for e in root.iter() if etree.QName(e).localname in ("Errors", "Error")]


def zip_errors(archive: bytes) -> list[str]:
    """The errors ANAF gives in the ZIP of a rejected upload (its raspunsErori XML); none if it cannot be read."""
    errors: list[str] = []
    try:
        xmls = _zip_xmls(archive)
    except Unavailable as error:
        log.warning("%s", error)
        return []
    for xml in xmls:
        root = _xml_or_none(xml)
        if root is not None and "raspunsErori" in (etree.QName(root).namespace or ""):
            errors.extend(_errors(root))
    return errors


def zip_document_id(archive: bytes) -> tuple[str, str] | None:
    """The (number, issue date) of the invoice inside the ZIP of an accepted upload, if any
    (Unavailable when the ZIP cannot be read: whose it is stays unknown)."""
    for xml in _zip_xmls(archive):
        root = _xml_or_none(xml)
        if root is None or etree.QName(root).localname not in ("Invoice", "CreditNote"):
            continue
        cbc = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
        return root.findtext(f"{cbc}ID"), root.findtext(f"{cbc}IssueDate")
    return None


def _zip_xmls(archive: bytes) -> list[bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as z:
            entries = [i for i in z.infolist() if i.filename.lower().endswith(".xml")]
            if any(i.file_size > MAX_ANSWER for i in entries):
                raise Unavailable(f"ANAF's ZIP holds a file over {MAX_ANSWER} bytes")
            return [z.read(i) for i in entries]
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, ValueError, EOFError, OSError) as error:
        raise Unavailable(f"ANAF's ZIP ({len(archive)} bytes) cannot be read: {error}") from None
