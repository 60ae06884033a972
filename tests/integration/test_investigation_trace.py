"""One OpenTelemetry trace per incident (investigation.tracing), read back from the SDK's in-memory exporter: the
agent investigates the ecs-bad-deploy scenario in process against the sandbox; the trace has a root span per run,
a span per graph node and per evidence source, all carrying the incident's trace id, which the incident's view
shows too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from oncall_agent.daemon import Daemon
from oncall_agent.eval.runner import _wait_for_report, eval_settings
from oncall_agent.investigation.sources import SOURCES
from oncall_agent.investigation.tracing import INCIDENT_ATTRIBUTE, trace_id_of
from oncall_agent.investigation.views import incident_view
from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.world import SandboxWorld
from tests.conftest import SCENARIOS

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture()
def world() -> Iterator[SandboxWorld]:
    world = SandboxWorld(load_scenario(SCENARIOS / "ecs-bad-deploy.yaml"))
    world.start()
    world.seed()
    yield world
    world.stop()


def test_an_investigation_is_one_trace_with_a_span_per_node_and_source(world: SandboxWorld, tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    daemon = Daemon(eval_settings(world, tmp_path))
    daemon.components.tracing.add_span_processor(SimpleSpanProcessor(exporter))
    url = daemon.start_in_thread()
    try:
        world.fire(deliver_to=f"{url}/webhooks/sns")
        observed = _wait_for_report(world, daemon, timeout=60)
        investigation = daemon.components.investigation
        assert investigation is not None
        view = incident_view(
            daemon.components.store, investigation.results, investigation.actions, observed.incident_id
        )
    finally:
        daemon.stop_thread()
    incident_id = observed.incident_id
    assert view is not None and view["trace_id"] == trace_id_of(incident_id)
    spans = exporter.get_finished_spans()
    assert spans and {format(s.context.trace_id, "032x") for s in spans} == {trace_id_of(incident_id)}
    names = [s.name for s in spans]
    roots = [s for s in spans if s.name == "investigation"]
    assert roots and all(s.attributes[INCIDENT_ATTRIBUTE] == incident_id for s in roots)
    for node in ("scope", "correlate", "plan", "report"):
        assert f"node {node}" in names
    assert names.count("node gather") == len(SOURCES)
    assert {f"source {name}" for name in SOURCES} <= set(names)
    by_id = {s.context.span_id: s for s in spans}
    source = next(s for s in spans if s.name == "source deploys")
    assert source.parent is not None and by_id[source.parent.span_id].name == "node gather"
    assert source.attributes["oncall.evidence.count"] >= 1
