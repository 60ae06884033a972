"""Composition of the optional LLM (Bedrock, or an OpenAI-compatible endpoint): the Bedrock clients (region,
endpoint, timeouts and retries from the `llm` settings), the Reasoner over them, and the reason step's budgets
and price."""

from __future__ import annotations

from typing import Any

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.bedrock import BedrockReasoner
from oncall_agent.adapters.openai_compatible import OpenAiCompatibleReasoner
from oncall_agent.investigation.deps import LlmLimits
from oncall_agent.ports import Reasoner
from oncall_agent.settings import Settings


def _bedrock_client(settings: Settings, service: str) -> Any:
    """A Bedrock client with the `llm` section's region, endpoint, timeouts and retries. The runtime (Converse) and
    the control plane (GetInferenceProfile) are two endpoints: each takes its own setting, never the other's."""
    llm = settings.llm
    creds = settings.aws.credentials if llm.credentials == "aws" else None
    own = llm.endpoint_url if service == "bedrock-runtime" else llm.control_endpoint_url
    endpoint = own or settings.aws.service_endpoints.get(service, settings.aws.endpoint_url)
    return make_client(
        service,
        llm.region or settings.aws.regions[0],
        endpoint,
        llm.max_attempts,
        access_key_id=creds.access_key_id.get_secret_value() if creds else None,
        secret_access_key=creds.secret_access_key.get_secret_value() if creds else None,
        connect_timeout=llm.connect_timeout_seconds,
        read_timeout=llm.read_timeout_seconds,
        app_id="oncall-agent-reason",
    )


def build_reasoner(settings: Settings) -> Reasoner | None:
    """The LLM behind the reason step, or None when `llm.provider` is off."""
    llm = settings.llm
    if llm.provider == "off":
        return None
    if llm.provider == "openai_compatible":
        return OpenAiCompatibleReasoner(
            str(llm.base_url),
            llm.model_id,
            api_key=llm.api_key.get_secret_value() if llm.api_key else None,
            max_tokens=llm.max_output_tokens,
            temperature=llm.temperature,
            timeout=(llm.connect_timeout_seconds, llm.read_timeout_seconds),
        )
    runtime = _bedrock_client(settings, "bedrock-runtime")
    return BedrockReasoner(
        runtime,
        _bedrock_client(settings, "bedrock"),  # control plane: only an application inference profile asks it
        llm.model_id,
        base_model_id=llm.base_model_id,
        max_tokens=llm.max_output_tokens,
        temperature=llm.temperature,
    )


def llm_limits(settings: Settings) -> LlmLimits:
    llm = settings.llm
    price = llm.price_of(llm.model_id)
    return LlmLimits(
        model_id=llm.model_id,
        provider="openai" if llm.provider == "openai_compatible" else "aws.bedrock",
        deadline_seconds=llm.deadline_seconds,
        max_input_tokens=llm.max_input_tokens,
        max_new_hypotheses=llm.max_new_hypotheses,
        max_rounds=llm.max_rounds,
        max_tool_calls=llm.max_tool_calls,
        evidence_items=llm.evidence_items,
        evidence_chars=llm.evidence_chars,
        price_per_million=(price.input_per_million, price.output_per_million) if price else None,
    )
