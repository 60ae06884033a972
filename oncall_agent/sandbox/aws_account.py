"""Which AWS account the sandbox's moto answers in: the scenario's (`account`, default 123456789012).

moto picks the account of a request from, in order, `MOTO_ACCOUNT_ID`, an `x-moto-account-id` header, and the
access key (a key IAM created in an account belongs to it; any other key to 123456789012). The sandbox's own
seeding clients send the header; the agent gets an access key IAM created in the scenario's account, so it
reads that account the way it would read a real one, through credentials alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from oncall_agent.sandbox.scenario_targets import MOTO_ACCOUNT

ACCOUNT_HEADER = "x-moto-account-id"
AGENT_USER = "oncall-agent-sandbox"
DUMMY_KEY = "testing"  # moto's conventional dummy key: it belongs to the default account


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


DEFAULT_CREDENTIALS = Credentials(DUMMY_KEY, DUMMY_KEY)


def session(region: str) -> Any:
    """A boto3 session with the dummy keys: only ever used against local moto and stand-ins."""
    import boto3

    return boto3.session.Session(aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=region)


def pin_account(client: Any, account: str) -> Any:
    """Make every request of `client` act in `account` (moto's account header); returns the client."""
    if account == MOTO_ACCOUNT:
        return client

    def add_header(request: Any, **_: Any) -> None:
        request.headers[ACCOUNT_HEADER] = account

    client.meta.events.register("before-sign.*.*", add_header)
    return client


def account_client(endpoint_url: str, service: str, region: str, account: str, **kwargs: Any) -> Any:
    """A boto3 client for `service` at the moto endpoint, acting in `account`."""
    return pin_account(session(region).client(service, endpoint_url=endpoint_url, **kwargs), account)


def agent_credentials(endpoint_url: str, region: str, account: str) -> Credentials:
    """Credentials that moto maps to `account`: the dummy keys for the default account, otherwise an access
    key of an IAM user created in `account` (call after moto's reset, once per seeded world)."""
    if account == MOTO_ACCOUNT:
        return DEFAULT_CREDENTIALS
    iam = account_client(endpoint_url, "iam", region, account)
    user = f"{AGENT_USER}-{uuid.uuid4().hex[:8]}"  # a world started without resetting moto makes its own
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])
