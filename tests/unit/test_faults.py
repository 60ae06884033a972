"""Fault rules, the injector, the ASGI middleware and the background server the stand-ins run on."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from oncall_agent.sandbox.standins import BackgroundServer, FaultInjector, FaultMiddleware, FaultRule


def _hello(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def make_app(injector: FaultInjector, **middleware: Any) -> Starlette:
    app = Starlette(routes=[Route("/things", _hello, methods=["GET", "POST"]), Route("/other", _hello)])
    app.add_middleware(FaultMiddleware, injector=injector, **middleware)
    return app


# --- rules and the injector --------------------------------------------------------------------------------
def test_rule_validation() -> None:
    with pytest.raises(re.error):
        FaultRule("GET", "(")
    with pytest.raises(ValueError, match="status"):
        FaultRule("GET", "/x", status=200)
    with pytest.raises(ValueError, match="times"):
        FaultRule("GET", "/x", status=500, times=0)
    with pytest.raises(ValueError, match="latency"):
        FaultRule("GET", "/x", latency_ms=-1)


def test_rule_from_json() -> None:
    rule = FaultRule.from_json({"method": "GET", "path_regex": "/x", "status": 429, "retry_after": 3, "times": 1})
    assert rule == FaultRule("GET", "/x", status=429, retry_after=3, times=1)
    for bad in ({"method": "GET"}, ["/x"], {"path_regex": "/x", "colour": "red"}, {"path_regex": "["}):
        with pytest.raises(ValueError):
            FaultRule.from_json(bad)


def test_rule_matching_is_a_search_and_method_is_optional() -> None:
    assert FaultRule(None, "/issues$").matches("PATCH", "/repos/a/b/issues")
    assert FaultRule("get", "/issues").matches("GET", "/repos/a/b/issues/3")
    assert not FaultRule("POST", "/issues").matches("GET", "/repos/a/b/issues")
    assert not FaultRule(None, "^/issues").matches("GET", "/repos/a/b/issues")


def test_times_limits_how_often_a_rule_applies_and_first_match_wins() -> None:
    injector = FaultInjector()
    first, second = FaultRule("GET", "/x", status=502, times=2), FaultRule(None, "/x", status=503)
    injector.add(first)
    injector.add(second)

    taken = [injector.take("GET", "/x") for _ in range(4)]

    assert taken == [first, first, second, second]
    assert injector.rules() == [second]
    injector.clear()
    assert injector.take("GET", "/x") is None


def test_latency_must_not_be_negative() -> None:
    injector = FaultInjector()
    injector.set_latency(25)
    assert injector.latency_ms == 25
    with pytest.raises(ValueError):
        injector.set_latency(-1)


# --- the middleware ------------------------------------------------------------------------------------
def test_status_rule_answers_the_configured_error_shape_with_retry_after() -> None:
    injector = FaultInjector()
    injector.add(FaultRule("GET", "/things", status=429, retry_after=7, times=1))
    client = TestClient(make_app(injector, error_body=lambda status: {"oops": status}, media_type="x/json"))

    first, second = client.get("/things"), client.get("/things")

    assert (first.status_code, first.json(), first.headers["Retry-After"]) == (429, {"oops": 429}, "7")
    assert first.headers["content-type"].startswith("x/json")
    assert (second.status_code, second.text) == (200, "hello")
    assert [(r.method, r.path, r.status) for r in injector.requests()] == [
        ("GET", "/things", 429),
        ("GET", "/things", 200),
    ]


def test_global_and_rule_latency_add_up() -> None:
    injector = FaultInjector()
    injector.set_latency(100)
    injector.add(FaultRule(None, "/things", latency_ms=150))
    client = TestClient(make_app(injector))

    started = time.monotonic()
    assert client.get("/things").status_code == 200
    slow = time.monotonic() - started
    started = time.monotonic()
    assert client.get("/other").status_code == 200
    fast = time.monotonic() - started

    assert slow >= 0.25
    assert fast >= 0.1


def test_timeout_holds_then_answers_504() -> None:
    injector = FaultInjector(timeout_hold_s=0.3)
    injector.add(FaultRule(None, "/things", timeout=True, times=1))
    client = TestClient(make_app(injector))

    started = time.monotonic()
    held = client.get("/things")

    assert time.monotonic() - started >= 0.3
    assert held.status_code == 504
    assert client.get("/things").status_code == 200


def test_release_held_lets_a_held_request_go_early() -> None:
    injector = FaultInjector(timeout_hold_s=30)
    injector.add(FaultRule(None, "/things", timeout=True))
    client = TestClient(make_app(injector))
    threading.Timer(0.3, injector.release_held).start()

    started = time.monotonic()
    response = client.get("/things")

    assert response.status_code == 504
    assert time.monotonic() - started < 5


def test_admin_endpoints_manage_rules_latency_and_the_log() -> None:
    injector = FaultInjector()
    client = TestClient(make_app(injector))

    created = client.post("/_sandbox/faults", json={"method": "POST", "path_regex": "/things", "status": 500})
    posted = client.post("/things")
    rules = client.get("/_sandbox/faults").json()
    latency = client.put("/_sandbox/latency", json={"latency_ms": 5})
    log = client.get("/_sandbox/requests").json()

    assert created.status_code == 201 and posted.status_code == 500
    assert rules == [{**created.json()}]
    assert latency.json() == {"latency_ms": 5} and injector.latency_ms == 5
    assert [(entry["method"], entry["path"], entry["status"]) for entry in log] == [("POST", "/things", 500)]
    assert client.delete("/_sandbox/faults").status_code == 204 and injector.rules() == []
    assert client.delete("/_sandbox/requests").status_code == 204 and injector.requests() == []
    assert client.post("/_sandbox/faults", content=b"{nope").status_code == 400
    assert client.put("/_sandbox/latency", json={"latency_ms": -3}).status_code == 400
    assert client.get("/_sandbox/unknown").status_code == 404


def test_count_filters_the_log() -> None:
    injector = FaultInjector()
    client = TestClient(make_app(injector))
    client.get("/things?x=1")
    client.post("/things")
    client.get("/other")

    assert injector.count() == 3
    assert injector.count("GET") == 2
    assert injector.count("GET", "^/things$") == 1
    assert injector.requests()[0].query == "x=1"


# --- the background server -----------------------------------------------------------------------------
def test_background_server_serves_and_stops_even_with_a_held_request() -> None:
    injector = FaultInjector()
    injector.add(FaultRule(None, "/things", timeout=True))
    server = BackgroundServer(make_app(injector), faults=injector)
    with pytest.raises(RuntimeError):
        _ = server.base_url

    base_url = server.start()
    assert server.start() == base_url and server.running
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
    assert requests.get(f"{base_url}/other", timeout=5).text == "hello"
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{base_url}/things", timeout=0.3)

    started = time.monotonic()
    server.stop()
    server.stop()

    assert time.monotonic() - started < 5
    assert not server.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{base_url}/other", timeout=1)


def test_background_server_as_a_context_manager() -> None:
    with BackgroundServer(make_app(FaultInjector())) as server:
        assert requests.get(f"{server.base_url}/other", timeout=5).status_code == 200
    assert not server.running
