"""Intake benchmark: 5,000 signed SNS alarm notifications, 8 concurrent senders, against `oncall-agent serve`.

Run: `python -m oncall_agent.bench.intake [--messages N] [--senders N] [--duplicates FRACTION] [--json]`.
The daemon runs as its own process (SQLite store in a temporary folder, poller off); the senders sign with the
sandbox's SNS signer, whose certificate the daemon trusts through explicit configuration. Afterwards the store
is read directly to check that nothing was lost or stored twice and how many incidents grouping made.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

from oncall_agent.sandbox.sns_signer import SnsSigner
from oncall_agent.store.engine import make_engine
from oncall_agent.store.incident_store import SqlIncidentStore

TOPIC = "arn:aws:sns:us-east-1:123456789012:oncall-bench"
SERVICES = [f"svc{i}" for i in range(5)]
ALARMS_PER_SERVICE = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path, signer: SnsSigner, port: int) -> Path:
    pem = folder / "sandbox-sns.pem"
    pem.write_bytes(signer.certificate_pem)
    config = {
        "aws": {"poll_enabled": False},
        "http": {"host": "127.0.0.1", "port": port},
        "store": {"url": f"sqlite:///{folder / 'bench.db'}"},
        "intake": {
            "sns": {
                "allowed_topic_arns": [TOPIC],
                "certificate_sources": {signer.certificate_url("us-east-1"): pem.as_uri()},
            }
        },
        "services": [{"name": name} for name in SERVICES],
        "logging": {"level": "WARNING"},
    }
    path = folder / "oncall-agent.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def alarm_body(index: int, start: datetime, services: list[str] = SERVICES) -> str:
    service = services[index % len(services)]
    alarm = f"{service}-alarm-{(index // len(services)) % ALARMS_PER_SERVICE}"
    state = "ALARM" if index % 3 else "OK"
    when = start + timedelta(milliseconds=index)
    return json.dumps(
        {
            "AlarmName": alarm,
            "AWSAccountId": "123456789012",
            "NewStateValue": state,
            "NewStateReason": "bench",
            "StateChangeTime": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000",
            "Region": "US East (N. Virginia)",
            "OldStateValue": "OK",
            "AlarmArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}",
            "Trigger": {
                "MetricName": "Errors",
                "Namespace": "Bench",
                "Statistic": "SUM",
                "Dimensions": [],
                "Period": 60,
                "EvaluationPeriods": 1,
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 1.0,
            },
        }
    )


def sign_all(signer: SnsSigner, count: int, duplicates: float, services: list[str] = SERVICES) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(minutes=5)
    messages = [signer.notification(TOPIC, alarm_body(i, start, services), subject="bench") for i in range(count)]
    # Redeliveries (same MessageId), as SNS does on a retry: they must be acknowledged and stored once.
    return messages + messages[: int(count * duplicates)]


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"oncall-agent serve exited with {process.returncode}")
        try:
            if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise SystemExit("oncall-agent serve did not become ready")


def send(port: int | list[int], messages: list[dict[str, Any]], senders: int) -> tuple[list[float], list[int], float]:
    """Closed loop: each sender posts its next message when the previous one is acknowledged.

    Plain http.client with one keep-alive connection per sender: the senders share the machine with the
    daemon, so a heavy client would inflate the latencies it measures. With several ports (replicas behind a
    load balancer) each sender keeps to one of them, spread round-robin.
    """
    ports = port if isinstance(port, list) else [port]
    assigned = iter(range(senders * 1000))
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    local = threading.local()
    bodies = [json.dumps(message).encode() for message in messages]
    headers = {"content-type": "text/plain; charset=UTF-8"}

    def post(body: bytes) -> None:
        connection = getattr(local, "connection", None)
        if connection is None:
            with lock:
                chosen = ports[next(assigned) % len(ports)]
            connection = local.connection = http.client.HTTPConnection("127.0.0.1", chosen, timeout=15)
        started = time.perf_counter()
        connection.request("POST", "/webhooks/sns", body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            statuses.append(answer.status)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=senders) as pool:
        list(pool.map(post, bodies))
    return latencies, statuses, time.perf_counter() - started


def server_ack_quantiles(url: str) -> tuple[float, float]:
    """p50/p99 of the daemon's own ack histogram (upper bucket bounds, so an over-estimate)."""
    buckets: list[tuple[float, float]] = []
    for line in requests.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith('oncall_intake_ack_seconds_bucket{channel="sns"'):
            bound = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0.0

    def quantile(q: float) -> float:
        return next((bound * 1000 for bound, seen in buckets if seen >= q * total), float("nan"))

    return quantile(0.5), quantile(0.99)


def settle(db_url: str, expected_events: int, timeout: float = 60) -> dict[str, int]:
    store = SqlIncidentStore(make_engine(db_url))
    deadline = time.monotonic() + timeout
    counts = store.event_counts()
    while counts["ungrouped"] and time.monotonic() < deadline:
        time.sleep(0.2)
        counts = store.event_counts()
    return {**counts, "incidents": len(store.list_incidents()), "expected_events": expected_events}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def run(count: int, senders: int, duplicates: float) -> dict[str, Any]:
    signer = SnsSigner()
    with tempfile.TemporaryDirectory(prefix="oncall-bench-") as tmp:
        folder = Path(tmp)
        port = free_port()
        config = write_config(folder, signer, port)
        print(f"signing {count} notifications (+{int(count * duplicates)} redeliveries)...", file=sys.stderr)
        messages = sign_all(signer, count, duplicates)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "oncall_agent", "serve", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process)
            print(f"posting with {senders} senders...", file=sys.stderr)
            latencies, statuses, wall = send(port, messages, senders)
            server_side = server_ack_quantiles(url)
            print("waiting for grouping to finish...", file=sys.stderr)
            grouping_started = time.perf_counter()
            counts = settle(f"sqlite:///{folder / 'bench.db'}", count)
            grouping_tail = time.perf_counter() - grouping_started
        finally:
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(timeout=60)
    return {
        "messages": len(messages),
        "unique": count,
        "senders": senders,
        "accepted": sum(1 for s in statuses if s == 200),
        "refused_or_failed": sum(1 for s in statuses if s != 200),
        "accepted_per_s": round(len(messages) / wall, 1),
        "ack_p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "ack_p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "ack_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "ack_max_ms": round(max(latencies) * 1000, 2),
        "server_ack_p50_ms": server_side[0],
        "server_ack_p99_ms": server_side[1],
        "grouping_done_after_s": round(grouping_tail, 2),
        "events_stored": counts["events"],
        "duplicates_recorded": counts["duplicates"],
        "lost": count - counts["events"],
        "incidents_created": counts["incidents"],
        "serve_exit_code": exit_code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--duplicates", type=float, default=0.1, help="fraction redelivered (default 0.1)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    result = run(args.messages, args.senders, args.duplicates)
    print_result(result, args.json)


def print_result(result: dict[str, Any], as_json: bool) -> None:
    """One JSON document for scripts, else an aligned `name  value` table."""
    if as_json:
        print(json.dumps(result))
        return
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
