"""`oncall-agent eval DIR`: run the agent on every scenario in a folder, one after the other, and score it.

Per scenario: a fresh sandbox world (moto reset, stand-ins new), seeded; an in-process daemon (webhooks,
grouping, investigation workers, outbox relay; no DescribeAlarms poller: the alarm arrives by signed SNS
delivery, so every AWS call in the investigation's window is the investigation's); the scenario's alarm fired;
then the state right after the investigation's `report` step is read: the ranked hypotheses and the proposed
actions (in the planner's order). Nothing is approved, so no action that needs approval runs.

Measurements, both from the agent's own records (not the wall time of the world set-up):

- `seconds`: from the incident's creation (`incidents.opened_at`) to the timeline entry written in the same
  transaction that stored the hypotheses.
- `api_calls`: requests that reached moto (metered by `sandbox.moto_latency`) and the GitHub, ServiceNow and
  CloudTrail stand-ins (their `FaultInjector` request logs) that started inside that same window. Calls before
  (seeding, firing the alarm) and after it (outbox deliveries of tickets and issues, auto actions) are left out.
- `extra.timing`: scope time (creation to "investigation started"), gather-to-report time, and for each backend
  (`aws:<service>`, `github`, `servicenow`, `cloudtrail`) when its last call of the investigation ended (moto)
  or started (stand-ins: their log has no end time), counted from "investigation started". The slowest backend
  approximates the slowest gather branch; `source_seconds` holds each gather branch's exact wall time as the
  graph recorded it (`slowest_source`, `slowest_source_seconds`).

The investigation runs with the heap as it was after seeding frozen (`gc.freeze`): full collections over the
sandbox's own objects are harness cost, not the agent's.

`llm` (`eval_modes`) picks the model of the `reason` step: none, the sandbox's scripted Bedrock stand-in
(scripts cycling over the scenarios, adversaries included) or Amazon Bedrock with the user's `llm` settings;
the model calls' tokens and latency go in `extra.llm`.

`latency_ms` adds that many milliseconds to every stand-in request (`FaultInjector.set_latency`) and to every
moto request (`moto_latency.set_latency`), from just before the alarm fires (seeding stays fast).
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oncall_agent.daemon import Daemon
from oncall_agent.domain.evidence import Hypothesis
from oncall_agent.eval.llm_modes import LlmChoice, LlmMode, check_mode, llm_section, llm_usage, stub_script
from oncall_agent.eval.report import ScenarioResult, score
from oncall_agent.investigation.views import incident_view
from oncall_agent.sandbox import moto_latency
from oncall_agent.sandbox.scenario import Scenario, load_scenarios
from oncall_agent.sandbox.world import SandboxWorld
from oncall_agent.settings import InvestigationSettings, Settings
from oncall_agent.store.tables import incidents

Progress = Callable[[str], None]
REPORTED = {"awaiting_approval", "escalated", "resolved"}
DEFAULT_TIMEOUT = 120.0


class EvalError(Exception):
    """A scenario could not be run to the point of scoring."""


@dataclass(frozen=True)
class ApiCall:
    backend: str  # aws:<signing name> | github | servicenow | cloudtrail
    operation: str
    started: float
    ended: float | None  # None: not recorded (stand-ins)


@dataclass(frozen=True)
class Observation:
    """What the agent had produced when its investigation reported."""

    incident_id: str
    status: str
    hypotheses: list[Hypothesis]
    actions: list[dict[str, Any]]  # kind, policy, status; in the planner's order
    opened_at: datetime
    started_at: datetime | None  # the "investigation started" status change
    reported_at: datetime | None  # when the hypotheses were stored
    calls: list[ApiCall]
    source_seconds: dict[str, float]  # each gather branch's wall time, as the graph recorded it
    llm_totals: dict[str, Any]  # the reason step's totals (calls, tokens, cost, seconds) if it recorded them


@dataclass(frozen=True)
class EvalRun:
    results: list[ScenarioResult]
    abstain_below: float
    latency_ms: int
    llm: LlmMode = "off"


def run_eval(
    directory: str | Path,
    *,
    latency_ms: int = 0,
    progress: Progress = lambda _line: None,
    timeout: float = DEFAULT_TIMEOUT,
    llm: str = "off",
    user_settings: Settings | None = None,
) -> EvalRun:
    """Load every scenario in `directory` (ScenarioError on any format problem, before anything runs), run and
    score each one in turn. A scenario that fails to run is reported as a failed row, not raised."""
    if latency_ms < 0:
        raise ValueError("latency_ms must be >= 0")
    mode = check_mode(llm, user_settings)
    scenarios = load_scenarios(directory)
    results: list[ScenarioResult] = []
    abstain_below = InvestigationSettings().abstain_below
    for index, scenario in enumerate(scenarios, 1):
        tag = f"[{index}/{len(scenarios)}] {scenario.id}"
        script = f" (llm script {stub_script(index - 1)})" if mode == "stub" else ""
        progress(f"{tag}: running{script}")
        began = time.monotonic()
        choice = LlmChoice(mode, index - 1, user_settings)
        result = run_scenario(scenario, latency_ms=latency_ms, timeout=timeout, llm=choice)
        abstain_below = result.extra.get("abstain_below", abstain_below)
        progress(f"{tag}: {_progress_line(result)} ({time.monotonic() - began:.0f} s with set-up)")
        results.append(result)
    return EvalRun(results, abstain_below, latency_ms, mode)


def _progress_line(result: ScenarioResult) -> str:
    if "error" in result.extra:
        return f"FAILED: {result.extra['error']}"
    marks = " ".join(f"{name}={'yes' if getattr(result, name) else 'no'}" for name in ("top1", "top3", "action"))
    wrong = " CONFIDENTLY WRONG" if result.confidently_wrong else ""
    seconds = "-" if result.seconds is None else f"{result.seconds:.2f}"
    return f"{marks}{wrong}; {seconds} s, {result.api_calls} API calls"


def run_scenario(
    scenario: Scenario, *, latency_ms: int = 0, timeout: float = DEFAULT_TIMEOUT, llm: LlmChoice | None = None
) -> ScenarioResult:
    """Run the agent on one scenario and score it; failures become a failed row."""
    settings: Settings | None = None
    choice = llm or LlmChoice()
    try:
        with tempfile.TemporaryDirectory(prefix="oncall-eval-") as tmp:
            world = SandboxWorld(scenario, latency_ms=latency_ms)
            moto_latency.install(0)
            try:
                world.start()
                world.seed()
                settings = eval_settings(world, Path(tmp), llm_section(choice.mode, world, choice.index, choice.user))
                observed = _observe_frozen(world, settings, latency_ms, timeout)
                usage = llm_usage(world, choice, observed.llm_totals)
            finally:
                moto_latency.set_latency(0)
                world.stop()
    except Exception as exc:  # noqa: BLE001 - one broken scenario must not end the whole run
        return _failed(scenario, f"{type(exc).__name__}: {exc}", settings, latency_ms)
    assert settings is not None
    result = score_observation(scenario, observed, settings.investigation.abstain_below, latency_ms)
    if usage is not None:
        result.extra["llm"] = usage
    return result


def _observe_frozen(world: SandboxWorld, settings: Settings, latency_ms: int, timeout: float) -> Observation:
    """`_observe` with the heap so far frozen: the sandbox's own objects (moto's seeded state, earlier worlds)
    are not the agent's, and full garbage collections scanning them (0.5-1.5 s each late in a run) would
    otherwise land inside the measured window at random."""
    gc.collect()
    gc.freeze()
    try:
        return _observe(world, settings, latency_ms, timeout)
    finally:
        gc.unfreeze()


def eval_settings(world: SandboxWorld, folder: Path, llm: dict[str, Any] | None = None) -> Settings:
    """The agent pointed at `world`: its own SQLite store, an ephemeral port, no poller, short verification,
    and the `llm` section of the chosen mode (none: the LLM stays off)."""
    config = world.agent_config(store_url=f"sqlite:///{folder / 'oncall-agent.db'}", http_port=0)
    config["aws"]["poll_enabled"] = False
    config["investigation"] = {"verify_timeout_seconds": 2, "verify_poll_seconds": 0.5}
    if llm is not None:
        config["llm"] = llm
    return Settings(**config)


def _observe(world: SandboxWorld, settings: Settings, latency_ms: int, timeout: float) -> Observation:
    daemon = Daemon(settings)
    world.seed_history(daemon.components.store)
    url = daemon.start_in_thread()
    try:
        moto_latency.set_latency(latency_ms)
        moto_latency.clear_calls()
        for injector in world.faults.values():
            injector.clear_requests()
        fired = world.fire(deliver_to=f"{url}/webhooks/sns")
        if fired.delivered_status is None or not 200 <= fired.delivered_status < 300:
            raise EvalError(f"SNS delivery of {fired.alarm.name} answered HTTP {fired.delivered_status}")
        return _wait_for_report(world, daemon, timeout)
    finally:
        daemon.stop_thread()  # the app's lifespan stops the workers, relay and grouper


def _wait_for_report(world: SandboxWorld, daemon: Daemon, timeout: float) -> Observation:
    investigation = daemon.components.investigation
    assert investigation is not None, "investigation is enabled in eval settings"
    store = daemon.components.store
    alarm = world.scenario.incident_alarm.name
    deadline = time.monotonic() + timeout
    incident_id: str | None = None
    view: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        if incident_id is None:
            found = [i.id for i in store.list_incidents() if alarm in {a.alarm_name for a in i.alarms}]
            incident_id = found[0] if found else None
        if incident_id is not None:
            view = incident_view(store, investigation.results, investigation.actions, incident_id)
            if view is not None and (_entry(view, "hypotheses") is not None or view["status"] in REPORTED):
                break
        time.sleep(0.1)
    else:
        what = "the alarm to become an incident" if incident_id is None else f"{incident_id} to report"
        status = f" (status {view['status']})" if view else ""
        raise EvalError(f"timed out after {timeout:.0f} s waiting for {what}{status}")
    assert incident_id is not None and view is not None
    opened_at = _opened_at(store.engine, incident_id)
    reported = _entry(view, "hypotheses")
    reported_at = _at(reported) if reported else None
    started = _entry(view, "status", to="investigating")
    until = (reported_at or datetime.now(opened_at.tzinfo)).timestamp()
    return Observation(
        incident_id=incident_id,
        status=view["status"],
        hypotheses=[Hypothesis.model_validate(h) for h in view["hypotheses"]],
        actions=_planned_actions(investigation.graph, incident_id, view["actions"]),
        opened_at=opened_at,
        started_at=_at(started) if started else None,
        reported_at=reported_at,
        calls=_calls(world, opened_at.timestamp(), until),
        source_seconds=dict((reported or {}).get("data", {}).get("source_seconds", {})),
        llm_totals=_llm_totals(investigation.graph, incident_id),
    )


def _llm_totals(graph: Any, incident_id: str) -> dict[str, Any]:
    """The reason step's totals (calls, tokens, cost, failure, narrative) from the checkpointed graph state."""
    try:
        totals = graph.get_state({"configurable": {"thread_id": incident_id}}).values.get("llm") or {}
    except Exception:  # noqa: BLE001 - no readable checkpoint: no totals
        totals = {}
    return dict(totals)


def _entry(view: dict[str, Any], kind: str, to: str | None = None) -> dict[str, Any] | None:
    for entry in view["timeline"]:
        if entry["kind"] == kind and (to is None or entry.get("data", {}).get("to") == to):
            return dict(entry)
    return None


def _at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(entry["at"]))


def _opened_at(engine: sa.Engine, incident_id: str) -> datetime:
    with engine.connect() as connection:
        value = connection.execute(sa.select(incidents.c.opened_at).where(incidents.c.id == incident_id)).scalar_one()
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _planned_actions(graph: Any, incident_id: str, stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The proposed actions in the planner's order (the checkpointed graph state); the store's order (creation
    time, escalate last, then id) is the fallback."""
    status = {a["id"]: a["status"] for a in stored}
    try:
        planned = graph.get_state({"configurable": {"thread_id": incident_id}}).values.get("actions") or []
    except Exception:  # noqa: BLE001 - no readable checkpoint: the store's order will do
        planned = []
    chosen = [a for a in planned if a.get("id") in status] or stored
    return [{"kind": a["kind"], "policy": a["policy"], "status": status.get(a["id"], a["status"])} for a in chosen]


def _calls(world: SandboxWorld, since: float, until: float) -> list[ApiCall]:
    found = [ApiCall(f"aws:{c.service}", c.operation, c.started, c.ended) for c in moto_latency.calls(since, until)]
    for name, injector in world.faults.items():
        found += [
            ApiCall(name, f"{r.method} {r.path}", r.at, None) for r in injector.requests() if since <= r.at <= until
        ]
    return sorted(found, key=lambda c: c.started)


def score_observation(scenario: Scenario, seen: Observation, abstain_below: float, latency_ms: int) -> ScenarioResult:
    truth = scenario.truth
    kinds = [a["kind"] for a in seen.actions]
    verdict = score(seen.hypotheses, kinds, truth, abstain_below)
    seconds = (seen.reported_at - seen.opened_at).total_seconds() if seen.reported_at else None
    top = seen.hypotheses[0] if seen.hypotheses else None
    extra: dict[str, Any] = {
        "incident_id": seen.incident_id,
        "status": seen.status,
        "abstain_below": abstain_below,
        "latency_ms": latency_ms,
        "top_hypothesis": _hypothesis(top) if top else None,
        "hypotheses": [_hypothesis(h) for h in seen.hypotheses[:3]],
        "first_action": kinds[0] if kinds else None,
        "actions": seen.actions,
        "truth": {"culprit": truth.culprit, "accept": truth.accept, "actions": truth.actions, "forbid": truth.forbid},
        "api_calls_by_backend": dict(sorted(Counter(c.backend for c in seen.calls).items())),
        "api_calls_by_operation": dict(sorted(Counter(f"{c.backend} {c.operation}" for c in seen.calls).items())),
        "timing": _timing(seen, latency_ms),
    }
    return ScenarioResult(
        id=scenario.id,
        category=truth.category,
        top1=verdict.top1,
        top3=verdict.top3,
        action=verdict.action,
        confidently_wrong=verdict.confidently_wrong,
        seconds=None if seconds is None else round(seconds, 3),
        api_calls=len(seen.calls),
        abstained=verdict.abstained,
        brier=verdict.brier,
        extra=extra,
    )


def _hypothesis(h: Hypothesis) -> dict[str, Any]:
    return {"category": h.category.value, "culprit": h.culprit, "confidence": round(h.confidence, 4)}


def _timing(seen: Observation, latency_ms: int) -> dict[str, Any]:
    if seen.started_at is None or seen.reported_at is None:
        return {}
    start, end = seen.started_at.timestamp(), seen.reported_at.timestamp()
    finish: dict[str, float] = {}
    for call in seen.calls:
        if call.started < start:
            continue  # scope's own lookups, before the fan-out
        done = call.ended if call.ended is not None else call.started + latency_ms / 1000
        finish[call.backend] = max(finish.get(call.backend, 0.0), done - start)
    slowest = max(finish, key=lambda k: finish[k]) if finish else None
    sources = seen.source_seconds
    slowest_source = max(sources, key=lambda k: sources[k]) if sources else None
    return {
        "source_seconds": sources,
        "slowest_source": slowest_source,
        "slowest_source_seconds": sources[slowest_source] if slowest_source else None,
        "scope_seconds": round(start - seen.opened_at.timestamp(), 3),
        "gather_to_report_seconds": round(end - start, 3),
        "backend_finish_seconds": {k: round(v, 3) for k, v in sorted(finish.items())},
        "slowest_backend": slowest,
    }


def _failed(scenario: Scenario, error: str, settings: Settings | None, latency_ms: int) -> ScenarioResult:
    abstain_below = (settings.investigation if settings else InvestigationSettings()).abstain_below
    return ScenarioResult(
        id=scenario.id,
        category=scenario.truth.category,
        top1=False,
        top3=False,
        action=False,
        confidently_wrong=False,
        seconds=None,
        api_calls=0,
        extra={"error": error[:500], "abstain_below": abstain_below, "latency_ms": latency_ms},
    )
