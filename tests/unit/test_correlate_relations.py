"""Relations: which service a deploy belongs to, identifier tokens of a change, boundary-aware mentions."""

from __future__ import annotations

from oncall_agent.domain.catalog import Service
from oncall_agent.investigation.correlate.relations import deploy_is_of, flatten, identifier_tokens, mentions

CHECKOUT = Service(name="checkout", ecs={"cluster": "prod-web", "service": "checkout-svc"})
FRAUD = Service(name="fraud", lambda_={"function": "fraud-score"})


def test_a_deploy_belongs_to_a_service_by_name_ecs_arn_with_cluster_or_function() -> None:
    assert deploy_is_of({"service": "checkout"}, CHECKOUT)
    assert not deploy_is_of({"service": "payments", "target": "checkout-svc"}, CHECKOUT)
    assert deploy_is_of({"target": "arn:aws:ecs:us-east-1:1:service/prod-web/checkout-svc"}, CHECKOUT)
    assert not deploy_is_of({"target": "arn:aws:ecs:us-east-1:1:service/staging/checkout-svc"}, CHECKOUT)
    assert deploy_is_of({"target": "arn:aws:lambda:us-east-1:1:function:fraud-score"}, FRAUD)
    assert not deploy_is_of({"target": "fraud-scorer"}, FRAUD)


def test_identifier_tokens_keep_ids_tags_and_ports_not_plain_words() -> None:
    values = list(
        flatten(
            {
                "groupId": "sg-0d4e6f8a1b2c3d4e5",
                "ipPermissions": {
                    "items": [{"ipProtocol": "tcp", "fromPort": 5432, "description": "orders-api tasks"}]
                },
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout:4c9e2b7",
                "overwrite": True,
            }
        )
    )
    tokens = identifier_tokens(values)
    assert {"sg-0d4e6f8a1b2c3d4e5", "5432", "orders-api", "4c9e2b7"} <= tokens
    assert not {"tcp", "tasks", "True", "true"} & tokens


def test_mentions_respect_identifier_boundaries_and_a_version_prefix() -> None:
    lines = ["Starting CheckoutApplication v4c9e2b7 using Java 21", "connect to db.internal:5432 timed out"]
    assert mentions(lines, ["4c9e2b7", "5432", "checkout:118"]) == ["4c9e2b7", "5432"]
    assert mentions(["checkout:1180 started"], ["checkout:118"]) == []
    assert mentions(["c.a.checkout.client.PaymentsClient failed"], ["payments"], right_edge=False) == ["payments"]
    assert mentions(["c.a.checkout.client.PaymentsClient failed"], ["payments"]) == []


def test_flatten_is_bounded_and_skips_booleans_and_nulls() -> None:
    deep: dict[str, object] = {"v": "leaf"}
    for _ in range(20):
        deep = {"n": deep}
    assert list(flatten(deep)) == []
    assert list(flatten({"a": [1, None, False, "x"]})) == ["1", "x"]
