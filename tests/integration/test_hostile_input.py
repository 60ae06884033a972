"""Hostile input over real HTTP, served by uvicorn configured the way `serve` configures it (daemon.server_config):
input that once answered 500 with a traceback answers 400 with a JSON reason, stores nothing and bumps a counter;
a client that hangs up costs one log line; a body trickled byte by byte is cut off; the connection limits hold."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import structlog
import uvicorn

from oncall_agent.daemon import server_config
from oncall_agent.settings import HttpSettings
from oncall_agent.web.api import api_router
from tests.integration.test_webhooks import Harness, alarm_message, make_harness

LIMITS = HttpSettings(
    host="127.0.0.1", port=0, limit_concurrency=3, timeout_keep_alive=1, max_header_bytes=4096, body_timeout_seconds=1
)


def serve_with(http: HttpSettings) -> Callable[[Any], tuple[str, Callable[[], None]]]:
    def serve(app: Any) -> tuple[str, Callable[[], None]]:
        server = uvicorn.Server(server_config(app, http))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]

        def stop() -> None:
            server.should_exit = True
            thread.join(10)

        return f"http://127.0.0.1:{port}", stop

    return serve


@pytest.fixture()
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(tmp_path, serve=serve_with(LIMITS), body_timeout_seconds=LIMITS.body_timeout_seconds)


def connect(harness: Harness) -> socket.socket:
    host, port = harness.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def head_of(body_length: int, path: str = "/webhooks/sns") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: agent\r\nContent-Type: text/plain\r\nContent-Length: {body_length}\r\n\r\n"
    ).encode()


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 10 s pass)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def refused(harness: Harness, answer: requests.Response, reason: str) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == reason and answer.json()["detail"]
    assert harness.stored() == 0
    assert harness.counter("oncall_intake_rejected_total", channel="sns", reason=reason) == 1


def test_json_nested_past_the_recursion_limit_is_a_400(harness: Harness) -> None:
    answer = harness.sns("[" * 30_000 + "]" * 30_000)
    refused(harness, answer, "malformed_json")
    assert "nested" in answer.json()["detail"]


def test_json_nested_deeper_than_any_alarm_payload_is_a_400(harness: Harness) -> None:
    message = harness.signed(alarm_message())
    message["Extra"] = json.loads('{"a": ' * 100 + "1" + "}" * 100)
    answer = harness.sns(message)
    refused(harness, answer, "bad_payload")
    assert "nested more than 64 levels" in answer.json()["detail"]


def test_lone_surrogate_in_a_signed_field_is_a_400(harness: Harness) -> None:
    message = harness.signed(alarm_message())
    body = json.dumps(message).replace('"ALARM: checkout"', '"ALARM: \\ud800checkout"')
    assert "\\ud800" in body
    answer = harness.sns(body)
    refused(harness, answer, "bad_payload")
    assert "surrogate" in answer.json()["detail"]


def test_lone_surrogate_inside_a_validly_signed_alarm_message_is_a_400(harness: Harness) -> None:
    text = alarm_message().replace("Threshold Crossed", "Threshold \\udfff Crossed")
    answer = harness.sns(harness.signed(text))
    refused(harness, answer, "bad_payload")
    assert "surrogate" in answer.json()["detail"]


@pytest.mark.parametrize("kind", [[], {}, 7, None])
def test_a_type_that_is_not_a_string_is_a_400(harness: Harness, kind: Any) -> None:
    message = harness.signed(alarm_message())
    message["Type"] = kind
    refused(harness, harness.sns(message), "bad_payload")


def test_client_disconnect_mid_body_is_one_log_line_and_no_traceback(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        sock = connect(harness)
        sock.sendall(head_of(1000) + b'{"Type": "Notifi')
        time.sleep(0.2)
        sock.close()
        deadline = time.monotonic() + 5
        while not logs and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # anything else it would log comes now
    assert [entry["reason"] for entry in logs] == ["client_disconnected"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert harness.counter("oncall_intake_rejected_total", channel="sns", reason="client_disconnected") == 1
    assert harness.stored() == 0


def test_a_body_trickled_slower_than_the_timeout_is_cut_off_with_408(harness: Harness) -> None:
    body = json.dumps(harness.signed(alarm_message())).encode()
    sock = connect(harness)
    sock.sendall(head_of(len(body)))
    started, sent = time.monotonic(), 0
    try:
        while sent < len(body) and time.monotonic() - started < 5:
            sock.sendall(body[sent : sent + 1])
            sent += 1
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed on us: also a cut-off
    answer = read_all(sock)
    elapsed = time.monotonic() - started
    sock.close()
    assert sent < len(body) and elapsed < 5  # it never got the whole body, and it stopped waiting
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"error":"body_timeout"' in answer
    assert harness.stored() == 0


def test_a_request_head_past_the_header_limit_is_refused_and_closed(harness: Harness) -> None:
    sock = connect(harness)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: agent\r\n")
    try:
        for _ in range(2 * LIMITS.max_header_bytes // 512):  # a header that never ends, sent in pieces
            sock.sendall(b"X-Pad-" + b"x" * 500 + b": y\r\n")
            time.sleep(0.01)
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = read_all(sock)
    sock.close()
    assert answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 431 ")), answer[:200]
    small = requests.get(f"{harness.url}/healthz", headers={"X-Small": "x" * 1024}, timeout=10)
    assert small.status_code == 200


def test_an_idle_keep_alive_connection_is_closed_after_the_timeout(harness: Harness) -> None:
    sock = connect(harness)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    started = time.monotonic()
    assert sock.recv(65536) == b""  # closed by the server, not by our 10 s socket timeout
    assert LIMITS.timeout_keep_alive - 0.5 < time.monotonic() - started < LIMITS.timeout_keep_alive + 3
    sock.close()


def test_connections_past_the_concurrency_limit_get_503(harness: Harness) -> None:
    assert requests.get(f"{harness.url}/healthz", timeout=10).status_code == 200
    # uvicorn counts the asking connection too: limit - 1 others waiting on a body fill it. Each head goes out
    # before the next connection opens, else the held ones may themselves be counted over the limit and refused.
    held = []
    try:
        for _ in range(LIMITS.limit_concurrency - 1):
            held.append(connect(harness))
            held[-1].sendall(head_of(100))  # a body that never comes: it holds a slot
            time.sleep(0.1)
        assert requests.get(f"{harness.url}/healthz", timeout=10).status_code == 503
    finally:
        for sock in held:
            sock.close()
    time.sleep(LIMITS.body_timeout_seconds + 0.5)
    assert requests.get(f"{harness.url}/healthz", timeout=10).status_code == 200
    assert harness.stored() == 0


def test_an_api_body_with_a_lone_surrogate_is_a_422_naming_the_field(tmp_path: Path) -> None:
    """FastAPI's own validation answer echoes the input; with a lone surrogate that was a 500 with a traceback."""

    def serve(app: Any) -> tuple[str, Callable[[], None]]:
        app.include_router(api_router(None, {"alice": "token"}, lambda _id: None, list))  # type: ignore[arg-type]
        return serve_with(LIMITS)(app)

    for harness in make_harness(tmp_path, serve=serve):
        answer = requests.post(
            f"{harness.url}/api/actions/act-1/approve",
            data='{"digest": "abcdef012345", "comment": "ok \\ud800"}',
            headers={"content-type": "application/json", "authorization": "Bearer token"},
            timeout=10,
        )
        assert answer.status_code == 422
        assert answer.json()["error"] == "bad_request"
        assert [e["loc"] for e in answer.json()["detail"]] == [["body", "comment"]]
