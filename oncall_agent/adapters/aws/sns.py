"""Confirms SNS subscriptions through the SNS API (`ConfirmSubscription`), never by fetching `SubscribeURL`.

Using the API with the verified message's TopicArn and Token means the agent never issues a request to a URL an
attacker could have placed in a message, and the call goes to the region of the topic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class SnsSubscriptionConfirmer:
    def __init__(self, client_for_region: Callable[[str], Any]) -> None:
        self._client_for_region = client_for_region

    def confirm_subscription(self, topic_arn: str, token: str) -> None:
        region = topic_arn.split(":")[3]
        self._client_for_region(region).confirm_subscription(
            TopicArn=topic_arn, Token=token, AuthenticateOnUnsubscribe="true"
        )
