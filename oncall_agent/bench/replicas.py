"""Scale benchmark: 10,000 signed SNS alarms posted to three `oncall-agent serve` replicas on one PostgreSQL.

Run: `python -m oncall_agent.bench.replicas [--messages N] [--replicas N] [--senders N] [--services N] [--json]`
(PostgreSQL from `--pg-url`, default `ONCALL_BENCH_PG_URL` or the local server; a fresh database is created and
dropped). Each replica is its own process (poller and investigations off: this measures intake and grouping);
senders keep one connection each to one replica, spread round-robin as a load balancer would. Afterwards the
store is read directly: nothing lost, nothing stored twice, one incident per service (replicas grouping at the
same time never open two), and the time from the last acknowledged alarm to its incident.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from oncall_agent.bench.intake import (
    TOPIC,
    free_port,
    percentile,
    print_result,
    send,
    server_ack_quantiles,
    sign_all,
    wait_ready,
)
from oncall_agent.sandbox.sns_signer import SnsSigner
from oncall_agent.store.migrate import upgrade

DEFAULT_PG = os.environ.get("ONCALL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"oncall_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def write_config(folder: Path, signer: SnsSigner, port: int, db_url: str, services: list[str]) -> Path:
    pem = folder / "sandbox-sns.pem"
    pem.write_bytes(signer.certificate_pem)
    config = {
        "aws": {"poll_enabled": False},
        "http": {"host": "127.0.0.1", "port": port},
        "store": {"url": db_url},
        "investigation": {"enabled": False},
        "intake": {
            "sns": {
                "allowed_topic_arns": [TOPIC],
                "certificate_sources": {signer.certificate_url("us-east-1"): pem.as_uri()},
            }
        },
        "services": [{"name": name} for name in services],
        "logging": {"level": "WARNING"},
    }
    path = folder / f"replica-{port}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def settle(db_url: str, last_message_id: str, timeout: float = 120) -> tuple[float, dict[str, int]]:
    """Seconds until the last alarm belongs to an incident and nothing is left ungrouped; the store's counts."""
    engine = sa.create_engine(db_url)
    started = time.perf_counter()
    query = sa.text(
        "SELECT count(*), coalesce(sum(deliveries - 1), 0),"
        " coalesce(sum(CASE WHEN grouped THEN 0 ELSE 1 END), 0),"
        " count(*) FILTER (WHERE channel_message_id = :last AND incident_id IS NOT NULL),"
        " count(DISTINCT channel_message_id) FROM alarm_events"
    )
    try:
        while True:
            with engine.connect() as connection:
                events, duplicates, ungrouped, last_done, distinct = connection.execute(
                    query, {"last": last_message_id}
                ).one()
                incidents = connection.execute(sa.text("SELECT count(*), count(DISTINCT fingerprint) FROM incidents"))
                opened, fingerprints = incidents.one()
            done = last_done and not ungrouped
            if done or time.perf_counter() - started > timeout:
                return time.perf_counter() - started, {
                    "events": events,
                    "duplicates": duplicates,
                    "ungrouped": ungrouped,
                    "distinct_messages": distinct,
                    "incidents": opened,
                    "incident_fingerprints": fingerprints,
                }
            time.sleep(0.1)
    finally:
        engine.dispose()


def start_replicas(configs: list[Path], folder: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return [
        subprocess.Popen(
            [sys.executable, "-m", "oncall_agent", "serve", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(folder / f"{config.stem}.log").open("wb"),
        )
        for config in configs
    ]


def run(count: int, replicas: int, senders: int, services: int, duplicates: float, pg: str) -> dict[str, Any]:
    names = [f"svc{i:02d}" for i in range(services)]
    signer = SnsSigner()
    print(f"signing {count} notifications (+{int(count * duplicates)} redeliveries)...", file=sys.stderr)
    messages = sign_all(signer, count, duplicates, names)
    with tempfile.TemporaryDirectory(prefix="oncall-bench-") as tmp, fresh_database(pg) as db_url:
        folder = Path(tmp)
        upgrade(db_url)  # once, before the replicas race to do it
        ports = [free_port() for _ in range(replicas)]
        processes = start_replicas([write_config(folder, signer, p, db_url, names) for p in ports], folder)
        try:
            for port, process in zip(ports, processes, strict=True):
                wait_ready(f"http://127.0.0.1:{port}", process)
            print(f"posting to {replicas} replicas with {senders} senders...", file=sys.stderr)
            latencies, statuses, wall = send(ports, messages, senders)
            server_p99 = max(server_ack_quantiles(f"http://127.0.0.1:{port}")[1] for port in ports)
            print("waiting for the last alarm's incident...", file=sys.stderr)
            last_to_incident, counts = settle(db_url, messages[count - 1]["MessageId"])
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            exit_codes = [process.wait(timeout=60) for process in processes]
    return {
        "replicas": replicas,
        "messages": len(messages),
        "unique": count,
        "senders": senders,
        "services": services,
        "accepted": sum(1 for s in statuses if s == 200),
        "refused_or_failed": sum(1 for s in statuses if s != 200),
        "accepted_per_s": round(len(messages) / wall, 1),
        "ack_p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "ack_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "server_ack_p99_ms_worst_replica": server_p99,
        "last_alarm_to_incident_s": round(last_to_incident, 2),
        "events_stored": counts["events"],
        "lost": count - counts["distinct_messages"],
        "stored_twice": counts["events"] - counts["distinct_messages"],
        "duplicates_recorded": counts["duplicates"],
        "ungrouped_left": counts["ungrouped"],
        "incidents_created": counts["incidents"],
        "duplicate_incidents": counts["incidents"] - counts["incident_fingerprints"],
        "exit_codes": exit_codes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--senders", type=int, default=12)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--duplicates", type=float, default=0.1, help="fraction redelivered (default 0.1)")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="an admin URL: a fresh database is made beside it")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    result = run(args.messages, args.replicas, args.senders, args.services, args.duplicates, args.pg_url)
    print_result(result, args.json)


if __name__ == "__main__":
    main()
