"""Settings: the optional LLM that reasons over the evidence (off unless configured): provider, model or
inference profile, endpoint, timeouts, budgets per investigation and the price table for its cost."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from oncall_agent.settings.base import REGION, Section


class ModelPrice(Section):
    """USD per million tokens (Bedrock's on-demand price list for the model, in the region used)."""

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)


def _default_prices() -> dict[str, ModelPrice]:
    # Bedrock on-demand list prices (us-east-1) at the time of writing; override in the config file.
    return {
        "amazon.nova-2-lite-v1:0": ModelPrice(input_per_million=0.30, output_per_million=2.50),
        "anthropic.claude-sonnet-4-5-20250929-v1:0": ModelPrice(input_per_million=3.0, output_per_million=15.0),
        "anthropic.claude-haiku-4-5-20251001-v1:0": ModelPrice(input_per_million=1.0, output_per_million=5.0),
    }


class LlmSettings(Section):
    provider: Literal["off", "bedrock", "openai_compatible"] = "off"
    # openai_compatible: the endpoint's base URL (e.g. http://vllm:8000/v1, http://ollama:11434/v1) and its key.
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    api_key: SecretStr | None = None
    # A model id, a cross-region inference profile id (`us.`/`eu.`/`global.` prefix) or a profile ARN.
    model_id: str = Field(default="us.amazon.nova-2-lite-v1:0", min_length=1, max_length=2048)
    # The foundation model behind an application inference profile ARN (tool-use support and the price).
    base_model_id: str | None = None
    region: str | None = None  # default: the first of aws.regions
    endpoint_url: str | None = None  # default: aws.service_endpoints["bedrock-runtime"], then aws.endpoint_url
    # The control plane (GetInferenceProfile, asked only for an application inference profile ARN); default:
    # aws.service_endpoints["bedrock"], then aws.endpoint_url, then the region's public endpoint.
    control_endpoint_url: str | None = None
    # What signs the Bedrock calls: `aws` (aws.credentials when set, else the default chain) or always the
    # default chain (env, profile, task role): e.g. `eval --llm bedrock`, whose aws section is the sandbox's.
    credentials: Literal["aws", "default_chain"] = "aws"
    connect_timeout_seconds: float = Field(default=3, gt=0, le=60)
    read_timeout_seconds: float = Field(default=30, gt=0, le=600)
    max_attempts: int = Field(default=2, ge=1, le=10)
    # The wall time the reason step may take in all: past it the deterministic result stands (a gap).
    deadline_seconds: float = Field(default=45, gt=0, le=900)
    max_rounds: int = Field(default=2, ge=1, le=20)  # 1: no lookups; each further round may run lookups
    max_tool_calls: int = Field(default=6, ge=0, le=100)
    max_input_tokens: int = Field(default=24000, ge=500, le=1_000_000)
    max_output_tokens: int = Field(default=2000, ge=100, le=64000)
    max_new_hypotheses: int = Field(default=3, ge=0, le=3)
    evidence_items: int = Field(default=60, ge=1, le=500)
    evidence_chars: int = Field(default=400, ge=40, le=4000)  # each untrusted text is cut to this length
    temperature: float = Field(default=0.0, ge=0, le=1)
    prices: dict[str, ModelPrice] = Field(default_factory=_default_prices)

    @field_validator("region")
    @classmethod
    def _region(cls, region: str | None) -> str | None:
        if region is not None and not REGION.match(region):
            raise ValueError(f"not an AWS region name: {region}")
        return region

    @model_validator(mode="after")
    def _base_url_for_openai_compatible(self) -> LlmSettings:
        if self.provider == "openai_compatible" and not self.base_url:
            raise ValueError("provider openai_compatible needs base_url (e.g. http://localhost:11434/v1)")
        return self

    @model_validator(mode="after")
    def _deadline_covers_a_call(self) -> LlmSettings:
        if self.provider != "off" and self.deadline_seconds < self.connect_timeout_seconds:
            raise ValueError(
                f"deadline_seconds ({self.deadline_seconds}) is shorter than connect_timeout_seconds "
                f"({self.connect_timeout_seconds}): no call could finish"
            )
        return self

    def price_of(self, model_id: str) -> ModelPrice | None:
        """The price of a model id or of the model behind a cross-region profile (`us.` + model id)."""
        for key in (self.base_model_id, model_id, model_id.split(".", 1)[-1], model_id.rsplit("/", 1)[-1]):
            if key and key in self.prices:
                return self.prices[key]
        return None
