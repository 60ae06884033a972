"""Seed a scenario's `resources` (format 2) into moto through the real APIs, in the scenario's account.

Each CloudFormation type has one seeder here or in `seed_resources_data`; resources are created in phases so a
link names something that already exists (databases before the proxy that targets them, the load balancer
before the web ACL that protects it). Target groups named only by ECS services are created too, without a
load balancer. Ids moto invents are renamed to the scenario's (`moto_resources`). A type with no seeder is
listed in the summary as not seeded; the agent then finds it nowhere, as an unsupported API would leave it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from oncall_agent.sandbox import moto_resources
from oncall_agent.sandbox.scenario import ResourceSpec, Scenario
from oncall_agent.sandbox.scenario_resources import LOAD_BALANCER, TARGET_GROUP, WEB_ACL
from oncall_agent.sandbox.scenario_targets import account_of, elbv2_arn

CONTAINER_PORT = 8080


@dataclass
class ResourceContext:
    """What every seeder needs: the scenario, a client factory, and the network created on first use."""

    scenario: Scenario
    client: Any  # Callable[[str], boto3 client]
    arns: dict[str, str] = field(default_factory=dict)  # scenario id -> ARN as AWS reports it
    protectable: dict[str, str] = field(default_factory=dict)  # id -> the ARN a web ACL is associated with
    renamed: int = 0

    @property
    def account(self) -> str:
        return account_of(self.scenario)

    @property
    def region(self) -> str:
        return self.scenario.region

    @cached_property
    def network(self) -> dict[str, Any]:
        """One VPC with a subnet in two availability zones and a security group (ELB, NAT, RDS need them)."""
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{self.region}{zone}")[
                "Subnet"
            ]["SubnetId"]
            for i, zone in enumerate("ab")
        ]
        group = ec2.create_security_group(GroupName="sandbox-default", Description="sandbox", VpcId=vpc)["GroupId"]
        return {"vpc": vpc, "subnets": subnets, "security_group": group}

    def register(self, resource: ResourceSpec, arn: str, kind: str | None = None) -> str:
        """Remember the ARN; `kind` (e.g. `kinesis:stream`) adds it to GetResources where moto does not."""
        self.arns[resource.id] = arn
        if kind is not None:
            moto_resources.register_tagged(self.account, self.region, arn, resource.tags, kind)
        return arn


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


_PROTOCOLS = {"app": "HTTP", "net": "TCP", "gwy": "GENEVE"}  # a target group speaks its load balancer's


def _target_group(ctx: ResourceContext, group_id: str, tags: dict[str, str], protocol: str = "HTTP") -> str:
    if group_id in ctx.arns:
        return ctx.arns[group_id]
    elbv2 = ctx.client("elbv2")
    name = group_id.split("/")[1]
    port = 6081 if protocol == "GENEVE" else CONTAINER_PORT
    created = elbv2.create_target_group(
        Name=name, Protocol=protocol, Port=port, VpcId=ctx.network["vpc"], TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    arn = elbv2_arn(ctx.scenario, group_id)
    ctx.renamed += moto_resources.rename_target_group(ctx.account, ctx.region, created, arn)
    if tags:
        elbv2.add_tags(ResourceArns=[arn], Tags=tag_list(tags))
    ctx.arns[group_id] = arn
    return arn


def seed_target_group(ctx: ResourceContext, resource: ResourceSpec) -> None:
    _target_group(ctx, resource.id, resource.tags)


def seed_load_balancer(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """The load balancer, its target groups and one HTTP listener forwarding to them (one rule per extra
    group), so DescribeTargetGroups reports the load balancer for each."""
    elbv2 = ctx.client("elbv2")
    kind, name, _ = resource.id.split("/")
    created = elbv2.create_load_balancer(
        Name=name,
        Subnets=ctx.network["subnets"],
        SecurityGroups=[ctx.network["security_group"]],
        Type={"app": "application", "net": "network", "gwy": "gateway"}[kind],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    arn = ctx.register(resource, elbv2_arn(ctx.scenario, resource.id))
    ctx.renamed += moto_resources.rename_load_balancer(ctx.account, ctx.region, created, arn)
    if resource.tags:
        elbv2.add_tags(ResourceArns=[arn], Tags=tag_list(resource.tags))
    if "idle_timeout" in resource.attributes:
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=arn,
            Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": str(resource.attributes["idle_timeout"])}],
        )
    protocol = _PROTOCOLS[kind]
    groups = [_target_group(ctx, group, {}, protocol) for group in resource.target_groups]
    if kind != "app":  # network and gateway load balancers have no rules: one listener per target group
        for offset, group in enumerate(groups):
            forward = [{"Type": "forward", "TargetGroupArn": group}]
            port = {} if kind == "gwy" else {"Port": 80 + offset, "Protocol": protocol}
            elbv2.create_listener(LoadBalancerArn=arn, DefaultActions=forward, **port)
        return
    if not groups:
        return
    listener = elbv2.create_listener(
        LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[0]}]
    )["Listeners"][0]["ListenerArn"]
    for priority, group in enumerate(groups[1:], start=1):
        path = "/" + resource.target_groups[priority].split("/")[1] + "/*"
        elbv2.create_rule(
            ListenerArn=listener,
            Priority=priority,
            Conditions=[{"Field": "path-pattern", "Values": [path]}],
            Actions=[{"Type": "forward", "TargetGroupArn": group}],
        )


def seed_web_acl(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """A regional web ACL named by the id (CloudWatch's WebACL dimension), associated with what it protects."""
    wafv2 = ctx.client("wafv2")
    visibility = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": resource.id}
    request: dict[str, Any] = {"Tags": tag_list(resource.tags)} if resource.tags else {}
    created = wafv2.create_web_acl(
        Name=resource.id, Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=visibility, **request
    )["Summary"]
    arn = ctx.register(resource, created["ARN"], "wafv2:regional/webacl")
    for protected in resource.protects:
        wafv2.associate_web_acl(WebACLArn=arn, ResourceArn=ctx.protectable.get(protected, ctx.arns[protected]))


def seed_nat_gateway(ctx: ResourceContext, resource: ResourceSpec) -> None:
    ec2 = ctx.client("ec2")
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    created = ec2.create_nat_gateway(SubnetId=ctx.network["subnets"][0], AllocationId=allocation)["NatGateway"]
    ctx.renamed += moto_resources.rename_nat_gateway(ctx.account, ctx.region, created["NatGatewayId"], resource.id)
    if resource.tags:
        ec2.create_tags(Resources=[resource.id], Tags=tag_list(resource.tags))
    ctx.register(resource, f"arn:aws:ec2:{ctx.region}:{ctx.account}:natgateway/{resource.id}")


def seed_instance(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """An EC2 instance with the scenario's `i-…` id; `attributes`: `instance_type`, `availability_zone`."""
    ec2, attributes = ctx.client("ec2"), resource.attributes
    subnet = ctx.network["subnets"][1 if str(attributes.get("availability_zone", "")).endswith("b") else 0]
    created = ec2.run_instances(
        ImageId="ami-12c6146b",  # one of moto's built-in images
        InstanceType=str(attributes.get("instance_type", "m5.large")),
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
    )["Instances"][0]["InstanceId"]
    ctx.renamed += moto_resources.rename_instance(ctx.account, ctx.region, created, resource.id)
    if resource.tags:
        ec2.create_tags(Resources=[resource.id], Tags=tag_list(resource.tags))
    ctx.register(resource, f"arn:aws:ec2:{ctx.region}:{ctx.account}:instance/{resource.id}")


def seed_rest_api(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """A REST API named by the id (CloudWatch's ApiName dimension; moto picks its API id) with one deployed
    stage (`attributes.stage`, default prod: CloudWatch's Stage), which is what a web ACL protects."""
    apigateway = ctx.client("apigateway")
    api = apigateway.create_rest_api(name=resource.id, tags=resource.tags)["id"]
    root = next(item["id"] for item in apigateway.get_resources(restApiId=api)["items"] if item["path"] == "/")
    apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    stage = str(resource.attributes.get("stage", "prod"))
    apigateway.create_deployment(restApiId=api, stageName=stage)
    ctx.register(resource, f"arn:aws:apigateway:{ctx.region}::/restapis/{api}", "apigateway:restapis")
    ctx.protectable[resource.id] = f"arn:aws:apigateway:{ctx.region}::/restapis/{api}/stages/{stage}"


def seed_dx_connection(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """A Direct Connect connection with the scenario's `dxcon-…` id (CloudWatch's ConnectionId dimension);
    `attributes`: `bandwidth` (default 1Gbps), `location`, `name`."""
    attributes = resource.attributes
    created = ctx.client("directconnect").create_connection(
        location=str(attributes.get("location", "EqDC2")),
        bandwidth=str(attributes.get("bandwidth", "1Gbps")),
        connectionName=str(attributes.get("name", resource.id)),
    )
    ctx.renamed += moto_resources.rename_dx_connection(ctx.account, ctx.region, created["connectionId"], resource.id)
    ctx.register(
        resource, f"arn:aws:directconnect:{ctx.region}:{ctx.account}:dxcon/{resource.id}", "directconnect:dxcon"
    )


EDGE_SEEDERS = {
    "AWS::EC2::Instance": seed_instance,
    "AWS::DirectConnect::Connection": seed_dx_connection,
    TARGET_GROUP: seed_target_group,
    LOAD_BALANCER: seed_load_balancer,
    "AWS::EC2::NatGateway": seed_nat_gateway,
    "AWS::ApiGateway::RestApi": seed_rest_api,
}
LINKED_SEEDERS = {WEB_ACL: seed_web_acl}


def seed_resources(scenario: Scenario, client: Any) -> tuple[dict[str, str], list[str], int]:
    """Create every declared resource and the target groups ECS services name; returns (id -> ARN, the
    resources not seeded as `TYPE id`, how many moto ids were renamed)."""
    from oncall_agent.sandbox.seed_resources_data import CLUSTER_SEEDERS, DATA_SEEDERS, PROXY_SEEDERS

    ctx = ResourceContext(scenario, client)
    unseeded: list[str] = []
    phases = (EDGE_SEEDERS, CLUSTER_SEEDERS, DATA_SEEDERS, PROXY_SEEDERS, LINKED_SEEDERS)
    for seeders in phases:
        for resource in scenario.resources:
            seeder = seeders.get(resource.type)
            if seeder is not None:
                seeder(ctx, resource)
    known = {kind for seeders in phases for kind in seeders}
    unseeded = [f"{r.type} {r.id}" for r in scenario.resources if r.type not in known]
    for service in scenario.services:
        for group in service.ecs.target_groups if service.ecs else []:
            _target_group(ctx, group, {})
    return ctx.arns, unseeded, ctx.renamed
