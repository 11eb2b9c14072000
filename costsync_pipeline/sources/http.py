"""Fetching a feed's bytes: over HTTP(S) with retries, or from a local file for offline use.

``fetch`` retries what is likely to pass on a second try (connection failures, timeouts,
HTTP 5xx and 429) with exponential backoff, and fails at once on what will not (other 4xx,
a response over the size limit, a bad URL). A plain path or a ``file://`` URL is read from
disk, so the bundled snapshots can stand in for the network. No Dagster import.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

RETRY_AFTER_CAP = 30.0  # seconds: a server asking for longer is not waited for that long
USER_AGENT = "costsync-pipeline"
_TIMEOUT_KINDS = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "connection pool",
}


class FetchError(RuntimeError):
    """A URL or file could not be fetched; the message names it and says why."""

    def __init__(self, message: str, *, url: str, reason: str, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.reason = reason
        self.status = status  # the last HTTP status, None when no response came


def _fail(url: str, reason: str, *, status: int | None = None, verb: str = "GET") -> FetchError:
    return FetchError(f"{verb} {url} failed: {reason}", url=url, reason=reason, status=status)


def fetch(
    url: str | os.PathLike,
    *,
    timeout: float = 10.0,
    attempts: int = 3,
    backoff: float = 0.5,
    max_bytes: int = 64 * 2**20,
    sleep: Callable[[float], object] = time.sleep,
) -> bytes:
    """The body at ``url``: an ``http(s)://`` URL, a ``file://`` URL or a plain path.

    HTTP: ``timeout`` seconds to connect and between received bytes, redirects followed, up
    to ``attempts`` tries with ``backoff``, ``2*backoff``, ... seconds between them (a numeric
    ``Retry-After`` replaces the backoff, capped at 30 s). Raises FetchError naming the URL
    and the last reason; a body over ``max_bytes`` is refused, not truncated.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    text = os.fspath(url)
    scheme = urlsplit(text).scheme.lower()
    if scheme in ("http", "https"):
        return _fetch_http(text, timeout, attempts, backoff, max_bytes, sleep)
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise _fail(text, f"file URL on another host {parts.netloc!r}", verb="read")
        return _read_file(text, Path(url2pathname(parts.path)), max_bytes)
    if scheme and len(scheme) > 1:  # "c:" is a Windows drive, not a scheme
        raise _fail(text, f"unsupported URL scheme {scheme!r} (http, https, file or a path)")
    return _read_file(text, Path(text), max_bytes)


def _read_file(url: str, path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _fail(url, f"{size:,} bytes is over the limit of {max_bytes:,}", verb="read")
        return path.read_bytes()
    except FileNotFoundError:
        raise _fail(url, f"no such file {str(path)!r}", verb="read") from None
    except IsADirectoryError:
        raise _fail(url, f"{str(path)!r} is a directory, not a file", verb="read") from None
    except OSError as exc:
        raise _fail(url, f"{exc.strerror or exc} ({str(path)!r})", verb="read") from exc


def _retry_after(response: httpx.Response) -> float | None:
    """The numeric Retry-After in seconds, capped; None for an HTTP date or garbage."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, RETRY_AFTER_CAP)


def _read_body(url: str, response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise _fail(url, f"response of {int(declared):,} bytes is over the limit of {max_bytes:,}")
    chunks, size = [], 0
    for chunk in response.iter_bytes():  # decoded bytes: a gzip bomb is caught here too
        size += len(chunk)
        if size > max_bytes:
            raise _fail(url, f"response is over the limit of {max_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _fetch_http(url, timeout, attempts, backoff, max_bytes, sleep) -> bytes:
    limits = httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout)
    reason, status = "not attempted", None
    with httpx.Client(
        timeout=limits, follow_redirects=True, headers={"User-Agent": USER_AGENT}
    ) as client:
        for attempt in range(1, attempts + 1):
            delay = backoff * 2 ** (attempt - 1)
            try:
                with client.stream("GET", url) as response:
                    status = response.status_code
                    if response.is_success:
                        return _read_body(url, response, max_bytes)
                    reason = f"HTTP {status} {response.reason_phrase}".rstrip()
                    if status != 429 and status < 500:
                        raise _fail(url, f"{reason} (not retried)", status=status)
                    asked = _retry_after(response)
                    delay = delay if asked is None else asked
            except httpx.TimeoutException as exc:
                kind = _TIMEOUT_KINDS.get(type(exc), "request")
                reason, status = f"{kind} timeout after {timeout:g} s", None
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                reason, status = f"{type(exc).__name__}: {exc}", None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # not transient: fail at once
                raise _fail(url, f"{type(exc).__name__}: {exc}") from exc
            if attempt < attempts:
                sleep(delay)
    raise FetchError(
        f"GET {url} failed after {attempts} attempts: {reason}",
        url=url,
        reason=reason,
        status=status,
    )
