"""The project's one error tree. Every error the agent raises on purpose derives from OncallAgentError.

OncallAgentError
├── ConfigError            settings or catalog are invalid
├── PayloadError           an inbound payload is malformed or of an unknown kind (caller's fault: 4xx)
│   └── IgnoredEvent       a recognised payload that carries no alarm state change (e.g. configuration change)
├── SignatureError         an SNS message failed verification (caller's fault: 4xx)
├── StoreError             the store failed
│   └── TransientStoreError  the store failed in a way worth retrying (caller should retry: 5xx)
├── SourceError            an external system (AWS, ServiceNow, GitHub) failed or refused a call
├── InvalidTransition      an incident or action status change the lifecycle forbids
└── ScenarioError          a scenario file is not in the SCENARIOS.md format
"""

from __future__ import annotations


class OncallAgentError(Exception):
    """Base of every error the agent raises deliberately."""


class ConfigError(OncallAgentError):
    """Settings, the service catalog or a runbook are invalid."""


class PayloadError(OncallAgentError):
    """An inbound payload is malformed, of the wrong shape or of an unknown kind."""


class IgnoredEvent(PayloadError):
    """A recognised payload that is deliberately not an alarm state change (not an error for the sender)."""


class SignatureError(OncallAgentError):
    """An SNS message did not verify; the message says why."""


class StoreError(OncallAgentError):
    """The store could not complete an operation."""


class TransientStoreError(StoreError):
    """A store failure that a retry may fix (lock timeout, lost connection)."""


class SourceError(OncallAgentError):
    """An external system failed or refused a call; adapters raise it (or a subclass) with the reason."""


class InvalidTransition(OncallAgentError):
    """A lifecycle transition that the rules do not allow."""


class ScenarioError(OncallAgentError):
    """A scenario file does not follow SCENARIOS.md; the message names file, field and problem."""
