"""ServiceNow change requests that stand for one proposed action's approval (ports.ChangeTracker): opened once
per correlation id (find-or-create, looked up again before any retried create) as a normal change whose
`parent` is the incident, and read back through the Table API to see what its approvers decided."""

from __future__ import annotations

import logging
from typing import Any

from oncall_agent.adapters.servicenow_http import TableApi, TicketRetry
from oncall_agent.ports import ChangeStatus, TicketRef

log = logging.getLogger(__name__)

_FIELDS = "sys_id,number,state,approval,correlation_id,sys_updated_by,sys_updated_on"
_SHORT_DESCRIPTION_MAX = 160


def ensure_change(
    api: TableApi,
    retry: TicketRetry,
    correlation_id: str,
    short_description: str,
    description: str,
    parent: str | None,
) -> TicketRef:
    if not correlation_id or "^" in correlation_id:
        raise ValueError(f"not usable in a ServiceNow query: {correlation_id!r}")
    fields = {
        "type": "normal",
        "correlation_id": correlation_id,
        "correlation_display": "oncall-agent",
        "short_description": short_description[:_SHORT_DESCRIPTION_MAX],
        "description": description,
    }
    if parent:
        fields["parent"] = parent

    def find_or_create() -> TicketRef:
        params = {"sysparm_query": f"correlation_id={correlation_id}", "sysparm_fields": _FIELDS, "sysparm_limit": "5"}
        exact = [r for r in api.list("change_request", params) if r.get("correlation_id") == correlation_id]
        if exact:
            return _ref(api, exact[0])
        created = api.call("POST", "change_request", params={"sysparm_fields": _FIELDS}, body=fields)
        log.info("servicenow: opened change %s for %s", created.get("number"), correlation_id)
        return _ref(api, created)

    return retry.call(find_or_create)


def change_status(api: TableApi, retry: TicketRetry, system_id: str) -> ChangeStatus:
    if not system_id.isalnum():
        raise ValueError(f"not a ServiceNow sys_id: {system_id!r}")
    row = retry.call(lambda: api.call("GET", f"change_request/{system_id}", params={"sysparm_fields": _FIELDS}))
    return ChangeStatus(
        system_id=system_id,
        number=str(row.get("number", "")),
        approval=str(row.get("approval", "")),
        state=str(row.get("state", "")),
        updated_by=str(row.get("sys_updated_by", "")),
        updated_on=str(row.get("sys_updated_on", "")),
    )


def _ref(api: TableApi, record: dict[str, Any]) -> TicketRef:
    sys_id = str(record.get("sys_id", ""))
    link = f"{api.base_url}/change_request.do?sys_id={sys_id}"
    return TicketRef(system_id=sys_id, number=str(record.get("number", "")), state=str(record.get("state")), link=link)
