"""The deterministic correlator (DESIGN.md §5): pure functions, no I/O.

`evidence` turns what the sources return into Evidence (with `changepoint` for metric shifts and `signatures`
for drain3 log templates); `candidates` reads the candidate causes out of the evidence; `features` computes
explainable features per candidate; `rank` combines them into ordered Hypotheses, abstaining (`unknown`
first) when nothing is decisive.
"""

from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.rank import rank

__all__ = ["CorrelationContext", "rank"]
