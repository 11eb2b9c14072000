"""fetch and the LiteLLM price feed against a real HTTP server on 127.0.0.1 (no mocked httpx):
retries and backoff, Retry-After, timeouts, size limit, local files, and the shrink guard."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from costsync_pipeline.paths import DATA_DIR
from costsync_pipeline.sources.http import FetchError, fetch
from costsync_pipeline.sources.prices.feed import FeedRefused, fetch_feed, read_feed
from costsync_pipeline.sources.prices.litellm_map import parse_price_map

SNAPSHOT = DATA_DIR / "prices" / "litellm_model_prices.json"
OPENAI = {"litellm_provider": "openai", "input_cost_per_token": 1e-06}


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_length: bool = True


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        with server.lock:
            server.hits[self.path] += 1
            replies = server.routes.get(self.path) or [Reply(404, b"no route")]
            reply = replies[min(server.hits[self.path], len(replies)) - 1]  # last one repeats
        if reply.delay:
            time.sleep(reply.delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.content_length:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still sleeping past the client's timeout is left behind

    def handle_error(self, request, client_address):
        pass  # the client gave up on a slow reply: a broken pipe is expected


class FakeFeed:
    """A real HTTP server whose replies per path the test sets; the last reply repeats."""

    def __init__(self, server: _Server):
        self.server = server

    def serve(self, path: str, *replies: Reply) -> str:
        self.server.routes[path] = list(replies)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def hits(self, path: str) -> int:
        return self.server.hits[path]


@pytest.fixture
def feed_server():
    server = _Server(("127.0.0.1", 0), _Handler)
    server.routes, server.hits, server.lock = {}, Counter(), threading.Lock()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield FakeFeed(server)
    server.shutdown()
    server.server_close()


class _Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def nap():
    """An injected sleep that records the backoff instead of waiting for it."""
    return _Sleeps()


@pytest.fixture(scope="module")
def snapshot_bytes() -> bytes:
    return SNAPSHOT.read_bytes()


@pytest.fixture(scope="module")
def snapshot(snapshot_bytes) -> dict:
    return json.loads(snapshot_bytes)


def models(n: int) -> dict:
    return {f"model-{i}": {**OPENAI, "output_cost_per_token": 2e-06} for i in range(n)}


# --- fetch over HTTP ------------------------------------------------------------------------


def test_two_server_errors_then_success_backs_off_exponentially(feed_server, nap):
    url = feed_server.serve("/map.json", Reply(500), Reply(500), Reply(200, b"{}"))
    assert fetch(url, sleep=nap) == b"{}"
    assert feed_server.hits("/map.json") == 3
    assert nap == [0.5, 1.0]


def test_a_server_that_stays_unavailable_fails_naming_url_status_and_attempts(feed_server, nap):
    url = feed_server.serve("/down", Reply(503, b"maintenance"))
    with pytest.raises(FetchError) as caught:
        fetch(url, attempts=4, backoff=0.25, sleep=nap)
    assert str(caught.value) == (f"GET {url} failed after 4 attempts: HTTP 503 Service Unavailable")
    assert (caught.value.url, caught.value.status) == (url, 503)
    assert feed_server.hits("/down") == 4
    assert nap == [0.25, 0.5, 1.0]  # no sleep after the last attempt


def test_a_client_error_is_not_retried(feed_server, nap):
    url = feed_server.url("/missing.json")  # no route: 404
    with pytest.raises(FetchError, match=r"HTTP 404 Not Found \(not retried\)") as caught:
        fetch(url, sleep=nap)
    assert url in str(caught.value) and caught.value.status == 404
    assert feed_server.hits("/missing.json") == 1 and nap == []


def test_a_reply_slower_than_the_timeout_fails_as_a_timeout(feed_server, nap):
    url = feed_server.serve("/slow", Reply(200, b"{}", delay=1.5))
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"after 2 attempts: read timeout after 0\.3 s") as caught:
        fetch(url, timeout=0.3, attempts=2, sleep=nap)
    assert url in str(caught.value)
    assert time.monotonic() - started < 1.4  # gave up on each try, did not wait for the reply
    assert feed_server.hits("/slow") == 2 and nap == [0.5]


def test_retry_after_is_honoured_and_capped(feed_server, nap):
    url = feed_server.serve("/busy", Reply(429, headers={"Retry-After": "7"}), Reply(200, b"ok"))
    assert fetch(url, sleep=nap) == b"ok" and nap == [7.0]

    nap.clear()
    url = feed_server.serve("/busier", Reply(503, headers={"Retry-After": "3600"}), Reply(200))
    assert fetch(url, sleep=nap) == b"" and nap == [30.0]

    nap.clear()  # the HTTP-date form is not numeric: the backoff applies
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    url = feed_server.serve("/dated", Reply(503, headers={"Retry-After": date}), Reply(200))
    fetch(url, sleep=nap)
    assert nap == [0.5]


def test_a_response_over_the_size_limit_is_refused(feed_server, nap):
    declared = feed_server.serve("/big", Reply(200, b"x" * 2000))
    with pytest.raises(FetchError, match="2,000 bytes is over the limit of 1,000"):
        fetch(declared, max_bytes=1000, sleep=nap)
    undeclared = feed_server.serve("/big-stream", Reply(200, b"x" * 2000, content_length=False))
    with pytest.raises(FetchError, match="over the limit of 1,000 bytes") as caught:
        fetch(undeclared, max_bytes=1000, sleep=nap)
    assert undeclared in str(caught.value)
    assert fetch(undeclared, max_bytes=2000, sleep=nap) == b"x" * 2000
    assert nap == []  # not retried


def test_redirects_are_followed(feed_server):
    target = feed_server.serve("/v2/map.json", Reply(200, b"{}"))
    moved = feed_server.serve("/map.json", Reply(301, headers={"Location": target}))
    assert fetch(moved) == b"{}"


def test_nothing_listening_is_a_connection_error_after_retries(nap):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/map.json"
    with pytest.raises(FetchError, match=r"failed after 2 attempts: ConnectError") as caught:
        fetch(url, attempts=2, sleep=nap)
    assert url in str(caught.value) and nap == [0.5]


# --- fetch from disk ------------------------------------------------------------------------


def test_a_plain_path_and_a_file_url_are_read_from_disk(snapshot_bytes):
    assert fetch(str(SNAPSHOT)) == snapshot_bytes
    assert fetch(SNAPSHOT) == snapshot_bytes
    assert fetch(SNAPSHOT.as_uri()) == snapshot_bytes


def test_a_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "prices" / "nope.json"
    with pytest.raises(FetchError, match="no such file") as caught:
        fetch(str(missing))
    assert str(missing) in str(caught.value)
    with pytest.raises(FetchError, match="no such file") as caught:
        fetch(missing.as_uri())
    assert str(missing) in str(caught.value)


def test_a_local_file_over_the_limit_and_odd_schemes_are_refused(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * 100)
    with pytest.raises(FetchError, match="100 bytes is over the limit of 10"):
        fetch(big, max_bytes=10)
    with pytest.raises(FetchError, match="unsupported URL scheme 'ftp'"):
        fetch("ftp://example.org/map.json")
    with pytest.raises(FetchError, match="is a directory"):
        fetch(tmp_path)


# --- the price feed -------------------------------------------------------------------------


def test_the_full_snapshot_served_over_http_is_read(feed_server, snapshot_bytes, snapshot):
    url = feed_server.serve("/model_prices_and_context_window.json", Reply(200, snapshot_bytes))
    feed = fetch_feed(url, current_model_count=4_551)
    # 4,553 top-level keys: 4,551 models, the map's documentation "sample_spec", and
    # "fallback_generalizations" (id rewriting rules), which LiteLLM does not count either.
    assert len(snapshot) == 4_553 and {"sample_spec", "fallback_generalizations"} <= set(snapshot)
    assert feed.model_count == 4_551
    assert feed.url == url
    assert feed.checksum == hashlib.sha256(snapshot_bytes).hexdigest()
    assert feed.rows == parse_price_map(snapshot) and len(feed.rows) > 2_000


def test_a_truncated_feed_is_refused_against_the_current_count(feed_server, snapshot):
    third = dict(list(snapshot.items())[: len(snapshot) // 3])
    body = json.dumps(third).encode()
    url = feed_server.serve("/map.json", Reply(200, body))
    kept = len(third) - 1  # sample_spec is the first key
    with pytest.raises(FeedRefused) as caught:
        fetch_feed(url, current_model_count=4_551)
    assert str(caught.value) == (
        f"price feed {url} refused: the map shrank from 4,551 to {kept:,} models "
        "(less than half: probably truncated upstream)"
    )
    accepted = fetch_feed(url, current_model_count=None)  # nothing in use yet to compare with
    assert accepted.model_count == kept and accepted.rows


def test_half_of_the_current_count_is_still_accepted():
    body = json.dumps(models(3)).encode()
    assert read_feed(body, "mem://map", current_model_count=6).model_count == 3
    with pytest.raises(FeedRefused, match="shrank from 7 to 3 models"):
        read_feed(body, "mem://map", current_model_count=7)


def test_empty_and_model_less_maps_are_refused(feed_server):
    url = feed_server.serve("/empty.json", Reply(200, b"{}"))
    with pytest.raises(FeedRefused, match="no model entries") as caught:
        fetch_feed(url, current_model_count=None)
    assert url in str(caught.value)
    only_docs = json.dumps({"sample_spec": {"mode": "chat"}}).encode()
    with pytest.raises(FeedRefused, match="no model entries"):
        read_feed(only_docs, "mem://map", current_model_count=None)
    images = json.dumps({"dall-e-3": {"litellm_provider": "openai", "mode": "image_generation"}})
    with pytest.raises(FeedRefused, match="no token-priced model"):
        read_feed(images.encode(), "mem://map", current_model_count=None)


def test_malformed_json_is_refused_with_the_position(feed_server, snapshot_bytes):
    cut = snapshot_bytes[: len(snapshot_bytes) // 2]
    url = feed_server.serve("/cut.json", Reply(200, cut))
    with pytest.raises(FeedRefused, match=r"not JSON: .* at line \d+ column \d+") as caught:
        fetch_feed(url, current_model_count=4_551)
    assert url in str(caught.value)


def test_not_an_object_or_not_utf8_is_refused():
    with pytest.raises(FeedRefused, match="a JSON object, not list"):
        read_feed(b"[1, 2]", "mem://map", current_model_count=None)
    with pytest.raises(FeedRefused, match="not UTF-8 text"):
        read_feed(b'{"m": "\xff"}', "mem://map", current_model_count=None)


def test_a_byte_order_mark_is_fine():
    body = b"\xef\xbb\xbf" + json.dumps(models(2)).encode()
    feed = read_feed(body, "mem://map", current_model_count=None)
    assert feed.model_count == 2 and feed.rows == parse_price_map(models(2))
    assert feed.checksum == hashlib.sha256(body).hexdigest()  # of the bytes as received


def test_fetch_feed_reads_the_bundled_snapshot_offline(snapshot):
    feed = fetch_feed(str(SNAPSHOT), current_model_count=None)
    assert feed.model_count == len(snapshot) - 2


def test_fetch_errors_pass_through_fetch_feed(feed_server, nap):
    url = feed_server.serve("/map.json", Reply(502))
    with pytest.raises(FetchError, match="after 2 attempts: HTTP 502 Bad Gateway"):
        fetch_feed(url, current_model_count=None, attempts=2, sleep=nap)
