"""SnsSubscriptionConfirmer against moto: ConfirmSubscription goes to the topic's region with the token."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.sns import SnsSubscriptionConfirmer


@pytest.mark.usefixtures("aws_env")
def test_confirms_through_the_sns_api_in_the_topics_region(moto_endpoint: str) -> None:
    sns = boto3.client(
        "sns", region_name="eu-west-1", endpoint_url=moto_endpoint, config=Config(retries={"total_max_attempts": 1})
    )
    topic = sns.create_topic(Name="confirm-me")["TopicArn"]
    regions: list[str] = []

    def client_for(region: str) -> object:
        regions.append(region)
        return make_client("sns", region, endpoint_url=moto_endpoint, max_attempts=1)

    SnsSubscriptionConfirmer(client_for).confirm_subscription(topic, "a" * 64)
    assert regions == ["eu-west-1"]


@pytest.mark.usefixtures("aws_env")
def test_an_unknown_topic_surfaces_the_service_error(moto_endpoint: str) -> None:
    confirmer = SnsSubscriptionConfirmer(
        lambda region: make_client("sns", region, endpoint_url=moto_endpoint, max_attempts=1)
    )
    with pytest.raises(ClientError):
        confirmer.confirm_subscription("arn:aws:sns:us-east-1:123456789012:does-not-exist", "a" * 64)
