"""The deterministic correlator (DESIGN.md §5): pure functions, no I/O.

`evidence` turns what the sources return into Evidence (with `changepoint` for metric shifts, `signatures`
for drain3 log templates and `signals` for the routine log rate); `candidates` reads the candidate changes and
dependencies out of the evidence, `causes` the causes without a change of ours (traffic surge, resource
exhaustion, credential expiry, infrastructure) using the pattern tables in `symptoms`; `features` and
`cause_features` compute explainable features per candidate; `rank` combines them into ordered Hypotheses,
abstaining (`unknown` first) when nothing is decisive.
"""

from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.rank import rank

__all__ = ["CorrelationContext", "rank"]
