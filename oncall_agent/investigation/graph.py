"""build_graph: scope -> gather (parallel, one branch per source) -> correlate -> plan -> report ->
[await_approval] -> execute -> verify -> close. One thread per incident (thread_id = incident id)."""

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
    report,
    scope,
    verify,
)
from oncall_agent.investigation.state import InvestigationState


def build_graph(deps: Deps, checkpointer: Any) -> Any:
    graph = StateGraph(InvestigationState)
    graph.add_node("scope", scope.make(deps))
    graph.add_node("gather", gather.make(deps))
    graph.add_node("correlate", correlate.make(deps))
    graph.add_node("plan", plan.make(deps))
    graph.add_node("report", report.make(deps))
    graph.add_node("await_approval", await_approval.make(deps))
    graph.add_node("execute", execute.make(deps))
    graph.add_node("verify", verify.make(deps))
    graph.add_node("close", close.make(deps))
    graph.add_edge(START, "scope")
    graph.add_conditional_edges("scope", gather.fan_out, ["gather"])
    graph.add_edge("gather", "correlate")
    graph.add_edge("correlate", "plan")
    graph.add_edge("plan", "report")
    graph.add_conditional_edges("report", routing.after_report, ["await_approval", "execute", "close"])
    graph.add_conditional_edges("await_approval", routing.after_approval, ["execute", "close"])
    graph.add_edge("execute", "verify")
    graph.add_edge("verify", "close")
    graph.add_edge("close", END)
    return graph.compile(checkpointer=checkpointer)
