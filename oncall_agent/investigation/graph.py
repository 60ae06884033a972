"""build_graph: scope -> gather (parallel, one branch per source) -> correlate -> reason (the optional LLM) ->
plan -> report -> [await_approval] -> execute -> verify -> close; verify goes back to await_approval when the
incident is not resolved and other actions still wait for a decision (each approved action runs when it is
approved).
One thread per incident (thread_id = incident id)."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from oncall_agent.investigation import routing
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.nodes import (
    await_approval,
    close,
    correlate,
    execute,
    gather,
    plan,
    reason,
    report,
    scope,
    verify,
)
from oncall_agent.investigation.state import InvestigationState
from oncall_agent.investigation.tracing import traced_node


def build_graph(deps: Deps, checkpointer: Any) -> Any:
    graph = StateGraph(InvestigationState)
    graph.add_node("scope", traced_node(deps.tracer, "scope", scope.make(deps)))
    graph.add_node("gather", traced_node(deps.tracer, "gather", gather.make(deps)))
    graph.add_node("correlate", traced_node(deps.tracer, "correlate", correlate.make(deps)))
    graph.add_node("reason", traced_node(deps.tracer, "reason", reason.make(deps)))
    graph.add_node("plan", traced_node(deps.tracer, "plan", plan.make(deps)))
    graph.add_node("report", traced_node(deps.tracer, "report", report.make(deps)))
    graph.add_node("await_approval", traced_node(deps.tracer, "await_approval", await_approval.make(deps)))
    graph.add_node("execute", traced_node(deps.tracer, "execute", execute.make(deps)))
    graph.add_node("verify", traced_node(deps.tracer, "verify", verify.make(deps)))
    graph.add_node("close", traced_node(deps.tracer, "close", close.make(deps)))
    graph.add_edge(START, "scope")
    graph.add_conditional_edges("scope", gather.fan_out, ["gather"])
    graph.add_edge("gather", "correlate")
    graph.add_edge("correlate", "reason")
    graph.add_edge("reason", "plan")
    graph.add_edge("plan", "report")
    graph.add_conditional_edges("report", routing.after_report, ["await_approval", "execute", "close"])
    graph.add_conditional_edges("await_approval", routing.after_approval, ["execute", "close"])
    graph.add_edge("execute", "verify")
    graph.add_conditional_edges("verify", routing.after_verify, ["await_approval", "close"])
    graph.add_edge("close", END)
    return graph.compile(checkpointer=checkpointer)
