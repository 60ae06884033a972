"""Where SNS signing certificates may come from: the certificate-URL rule, the bounded download, the cache.

A certificate fetcher is a `Callable[[str], bytes]` mapping a `SigningCertURL` to PEM bytes. `verify_message`
(in `sns.py`) checks the URL with `check_certificate_url` *before* calling any fetcher, so a fetcher only ever
sees URLs of the form `https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<id>.pem`.

Two fetchers exist:
- `default_certificate_fetcher`: downloads over HTTPS with the stdlib (no redirects, 5 s timeout, 16 KiB
  cap) and keeps a bounded in-process cache. The verified HTTPS connection to the AWS host is what makes the
  key trustworthy.
- `mapped_certificate_fetcher`: the explicit trust seam of the sandbox. Configuration maps official-looking
  certificate URLs to a local `file://` path or a loopback `http://` address; the URL and signature rules are
  unchanged, only where the PEM bytes are read from differs.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from email.message import Message
from pathlib import Path
from typing import IO, NoReturn
from urllib.parse import urlsplit

from cryptography import x509

from oncall_agent.domain.errors import ConfigError, SignatureError

CertificateFetcher = Callable[[str], bytes]

FETCH_TIMEOUT_SECONDS = 5.0
MAX_CERTIFICATE_BYTES = 16 * 1024
CACHE_MAX_ENTRIES = 64
_MAX_URL_LENGTH = 512

# Regions look like us-east-1, cn-northwest-1, us-gov-west-1, us-isob-east-1: letters, 1-2 dash-separated
# words, a number. Deliberately no wildcard: every character of the host is accounted for.
_REGION = r"[a-z]{2}(?:-[a-z]+){1,2}-[0-9]{1,2}"
_HOST_RE = re.compile(rf"sns\.{_REGION}\.amazonaws\.com(?:\.cn)?")
_PATH_RE = re.compile(r"/SimpleNotificationService-[A-Za-z0-9]{1,128}\.pem")
# The whole URL once more, as an invariant on top of the step-by-step checks that produce the reasons.
_URL_RE = re.compile(rf"https://{_HOST_RE.pattern}{_PATH_RE.pattern}")


class CertificateUnavailableError(SignatureError):
    """The signing certificate could not be obtained (network, HTTP status, size, missing source).

    A `SignatureError` like every verification failure, but a transient one: the HTTP layer should answer 5xx
    so SNS retries, rather than 4xx which SNS counts as delivered (DESIGN §4).
    """


def check_certificate_url(url: object) -> str:
    """Return `url` if it may name an SNS signing certificate, else raise `SignatureError` saying why."""
    if not isinstance(url, str) or not url:
        raise SignatureError("SigningCertURL is missing or not a string")
    if len(url) > _MAX_URL_LENGTH or not url.isascii() or not url.isprintable() or any(c in url for c in " \\%"):
        raise SignatureError(f"SigningCertURL {url!r} contains characters a certificate URL never has")
    parts = urlsplit(url)
    if parts.scheme != "https" or not url.startswith("https://"):
        raise SignatureError(f"SigningCertURL {url!r} refused: scheme must be https")
    if "@" in parts.netloc:
        raise SignatureError(f"SigningCertURL {url!r} refused: userinfo is not allowed")
    if ":" in parts.netloc:
        raise SignatureError(f"SigningCertURL {url!r} refused: an explicit port is not allowed")
    if not _HOST_RE.fullmatch(parts.netloc):
        raise SignatureError(f"SigningCertURL {url!r} refused: host must be sns.<region>.amazonaws.com[.cn]")
    if "?" in url or "#" in url:
        raise SignatureError(f"SigningCertURL {url!r} refused: query and fragment are not allowed")
    if not _PATH_RE.fullmatch(parts.path):
        raise SignatureError(f"SigningCertURL {url!r} refused: path must be /SimpleNotificationService-<id>.pem")
    if not _URL_RE.fullmatch(url):  # pragma: no cover - the checks above are meant to be exhaustive
        raise SignatureError(f"SigningCertURL {url!r} refused")
    return url


# --- bounded, redirect-free reading ------------------------------------------------------------------------


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could lead anywhere; the certificate must come from the host the URL rule approved."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> NoReturn:
        raise CertificateUnavailableError(f"certificate download answered {code} redirect to {newurl!r}: refused")


def build_opener(*transports: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """An opener with exactly the given transport handlers, redirects refused and HTTP errors raised.

    `urllib.request.build_opener` would add handlers for http, ftp, file and data URLs; certificates are
    only read through the transports the caller names.
    """
    opener = urllib.request.OpenerDirector()
    for handler in (
        *transports,
        _RefuseRedirects(),
        urllib.request.UnknownHandler(),  # any other scheme: URLError("unknown url type"), not None
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def read_limited(
    opener: urllib.request.OpenerDirector,
    url: str,
    *,
    timeout: float = FETCH_TIMEOUT_SECONDS,
    max_bytes: int = MAX_CERTIFICATE_BYTES,
) -> bytes:
    """GET `url` through `opener`; refuse redirects, error statuses and bodies over `max_bytes`."""
    # S310: the opener's handlers, chosen by our callers, decide which schemes can be read at all.
    request = urllib.request.Request(url, headers={"Accept": "application/x-pem-file, */*"})  # noqa: S310
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            body = _read_body(response, max_bytes=max_bytes, deadline=deadline)
    except CertificateUnavailableError:
        raise
    except urllib.error.HTTPError as exc:
        raise CertificateUnavailableError(f"certificate download from {url!r} answered HTTP {exc.code}") from exc
    except (OSError, ValueError) as exc:  # URLError, timeouts, TLS failures, unknown URL types
        raise CertificateUnavailableError(f"certificate download from {url!r} failed: {exc}") from exc
    if len(body) > max_bytes:
        raise CertificateUnavailableError(f"certificate at {url!r} is larger than {max_bytes} bytes")
    return body


def _read_body(response: http.client.HTTPResponse, *, max_bytes: int, deadline: float) -> bytes:
    # The socket timeout bounds each read, not the whole body: a server dripping a byte at a time would hold
    # the SNS request past its deadline, so the total time is checked between reads too.
    body = bytearray()
    # Read one byte past the limit: a lying or missing Content-Length cannot make us read more.
    while len(body) <= max_bytes:
        if time.monotonic() > deadline:
            raise CertificateUnavailableError("certificate download exceeded its time limit")
        chunk = response.read1(max_bytes + 1 - len(body))
        if not chunk:
            break
        body += chunk
    return bytes(body)


def download_certificate(url: str) -> bytes:
    """Download a certificate over HTTPS only: system trust roots, no redirects, bounded size and time."""
    # ProxyHandler honours HTTPS_PROXY on egress-restricted hosts; TLS is still verified end to end.
    opener = build_opener(
        urllib.request.ProxyHandler(),
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),
    )
    return read_limited(opener, url)


# --- cache ------------------------------------------------------------------------------------------------


class CachingCertificateFetcher:
    """Wrap a fetcher with a bounded, thread-safe LRU cache of PEM bytes keyed by URL.

    Only bytes that parse as a PEM certificate are cached, so a bad response is retried next time. No expiry
    is needed: AWS names each certificate file by its content, and validity is checked at verification.
    """

    def __init__(self, fetch: CertificateFetcher, *, max_entries: int = CACHE_MAX_ENTRIES) -> None:
        self._fetch = fetch
        self._max_entries = max_entries
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, url: str) -> bytes:
        with self._lock:
            if url in self._entries:
                self._entries.move_to_end(url)
                return self._entries[url]
        # Fetch outside the lock: a slow download must not block verification of other, cached URLs.
        pem = self._fetch(url)
        try:
            x509.load_pem_x509_certificate(pem)
        except ValueError:
            return pem  # let the verifier report the bad certificate; do not remember it
        with self._lock:
            self._entries[url] = pem
            self._entries.move_to_end(url)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return pem

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


default_certificate_fetcher = CachingCertificateFetcher(download_certificate)


# --- the sandbox seam -------------------------------------------------------------------------------------


def mapped_certificate_fetcher(
    sources: Mapping[str, str], fallback: CertificateFetcher | None = None
) -> CertificateFetcher:
    """A fetcher reading the certificates of `sources` (cert URL -> local location) locally.

    Keys must satisfy the certificate-URL rule. Locations are `file:///abs/path.pem` or
    `http://<loopback IP>:<port>/...`; anything else is a `ConfigError`. URLs not in `sources` go to
    `fallback`, or fail with `CertificateUnavailableError` when there is none.
    """
    readers: dict[str, CertificateFetcher] = {}
    for cert_url, location in sources.items():
        try:
            check_certificate_url(cert_url)
        except SignatureError as exc:
            raise ConfigError(f"certificate source key is not an SNS certificate URL: {exc}") from exc
        readers[cert_url] = _local_reader(location)

    def fetch(url: str) -> bytes:
        reader = readers.get(url)
        if reader is not None:
            return reader(url)
        if fallback is not None:
            return fallback(url)
        raise CertificateUnavailableError(f"no certificate source is configured for {url!r}")

    return fetch


def _local_reader(location: str) -> CertificateFetcher:
    parts = urlsplit(location)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise ConfigError(f"certificate source {location!r}: file URLs must be file:///absolute/path")
        path = Path(urllib.request.url2pathname(parts.path))
        if not path.is_absolute():
            raise ConfigError(f"certificate source {location!r}: path must be absolute")
        return lambda _url: _read_file_limited(path)
    if parts.scheme == "http":
        if not _is_loopback(parts.hostname):
            raise ConfigError(f"certificate source {location!r}: plain http is only allowed to a loopback IP")
        # No ProxyHandler: an HTTP_PROXY from the environment must not carry a loopback read elsewhere.
        opener = build_opener(urllib.request.HTTPHandler())
        return lambda _url: read_limited(opener, location)
    raise ConfigError(f"certificate source {location!r}: must be a file:// URL or loopback http:// URL")


def _is_loopback(host: str | None) -> bool:
    # Literal IPs only: a name like "localhost" resolves through configuration we do not control.
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_file_limited(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            body = handle.read(MAX_CERTIFICATE_BYTES + 1)
    except OSError as exc:
        raise CertificateUnavailableError(f"cannot read certificate file {str(path)!r}: {exc}") from exc
    if len(body) > MAX_CERTIFICATE_BYTES:
        raise CertificateUnavailableError(
            f"certificate file {str(path)!r} is larger than {MAX_CERTIFICATE_BYTES} bytes"
        )
    return body
