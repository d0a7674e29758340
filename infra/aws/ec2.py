"""EC2 adapters: security groups (with their inline ingress and egress rules)."""

from __future__ import annotations

import hashlib
from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, error_code

#: The rule AWS adds to every new security group; a group with declared egress drops it, as
#: the Pulumi provider does.
DEFAULT_EGRESS = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def _rule_to_aws(rule: dict[str, Any]) -> dict[str, Any]:
    """One Plan rule (``{protocol, fromPort, toPort, cidrBlocks, ...}``) as an IpPermission."""
    description = rule.get("description")

    def described(entry: dict[str, str]) -> dict[str, str]:
        return {**entry, "Description": description} if description else entry

    permission: dict[str, Any] = {"IpProtocol": str(rule["protocol"])}
    if permission["IpProtocol"] != "-1":
        permission["FromPort"] = int(rule["fromPort"])
        permission["ToPort"] = int(rule["toPort"])
    permission["IpRanges"] = [described({"CidrIp": c}) for c in rule.get("cidrBlocks") or []]
    permission["Ipv6Ranges"] = [described({"CidrIpv6": c})
                                for c in rule.get("ipv6CidrBlocks") or []]
    permission["PrefixListIds"] = [described({"PrefixListId": p})
                                   for p in rule.get("prefixListIds") or []]
    permission["UserIdGroupPairs"] = [described({"GroupId": g})
                                      for g in rule.get("securityGroups") or []]
    return permission


def _rules_from_aws(permissions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """IpPermissions in the Plan's rule shape, sorted like the component sorts them."""
    rules = []
    for permission in permissions or []:
        ranges = (permission.get("IpRanges") or []) + (permission.get("Ipv6Ranges") or []) \
            + (permission.get("PrefixListIds") or []) + (permission.get("UserIdGroupPairs")
                                                         or [])
        description = next((r["Description"] for r in ranges if r.get("Description")), None)
        protocol = permission["IpProtocol"]
        rule: dict[str, Any] = {
            "protocol": protocol,
            "fromPort": permission.get("FromPort", 0) if protocol != "-1" else 0,
            "toPort": permission.get("ToPort", 0) if protocol != "-1" else 0,
            "cidrBlocks": [r["CidrIp"] for r in permission.get("IpRanges") or []],
            "ipv6CidrBlocks": [r["CidrIpv6"] for r in permission.get("Ipv6Ranges") or []],
            "prefixListIds": [r["PrefixListId"] for r in permission.get("PrefixListIds") or []],
            "securityGroups": [r["GroupId"] for r in permission.get("UserIdGroupPairs") or []],
        }
        if description:
            rule["description"] = description
        rules.append({k: v for k, v in rule.items() if v != []})
    return sorted(rules, key=lambda r: (r["fromPort"], r["toPort"], r["protocol"]))


class SecurityGroupAdapter(ResourceAdapter):
    """``aws.ec2.SecurityGroup``; Pulumi id and import id: the group id (``sg-...``)."""

    type_token = "aws:ec2/securityGroup:SecurityGroup"
    service = "ec2"
    name_input = "name"
    name_kind = "security_group"
    # GroupName, GroupDescription and VpcId cannot be changed: the provider replaces the group.
    replace_on_change = {"name": None, "description": "Managed by Pulumi", "vpcId": None}
    uncompared = {"revokeRulesOnDelete": "a delete-time switch of the provider"}

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        seed = f"{env.account_id}/{env.region}/{inputs.get('vpcId')}/{inputs['name']}"
        group_id = "sg-" + hashlib.sha256(seed.encode()).hexdigest()[:17]
        return group_id, {**inputs, "id": group_id, "ownerId": env.account_id,
                          "arn": f"arn:{env.partition}:ec2:{env.region}:{env.account_id}:"
                                 f"security-group/{group_id}"}

    def _find(self, session: Any, names: list[str]) -> dict[tuple[str, str], dict]:
        """(VPC id, group name) -> group, for the groups named ``names``."""
        paginator = self.client(session, self.service).get_paginator(
            "describe_security_groups")
        return {(group.get("VpcId"), group["GroupName"]): group
                for page in paginator.paginate(Filters=[{"Name": "group-name",
                                                         "Values": names}])
                for group in page["SecurityGroups"]}

    @staticmethod
    def _outputs(group: dict[str, Any], partition_arn: str | None = None) -> dict[str, Any]:
        return {"id": group["GroupId"], "ownerId": group.get("OwnerId"),
                "arn": group.get("SecurityGroupArn") or partition_arn}

    def create(self, session: Any, ref: ResourceRef) -> Created:
        ec2 = self.client(session, self.service)
        name, inputs = ref.physical_name, ref.inputs
        group = self._find(session, [name]).get((inputs.get("vpcId"), name))
        existed = group is not None
        if not existed:
            kwargs: dict[str, Any] = {"GroupName": name,
                                      "Description": inputs.get("description")
                                      or "Managed by Pulumi"}
            if inputs.get("vpcId"):
                kwargs["VpcId"] = inputs["vpcId"]
            if inputs.get("tags"):
                kwargs["TagSpecifications"] = [{
                    "ResourceType": "security-group",
                    "Tags": [{"Key": k, "Value": v} for k, v in inputs["tags"].items()]}]
            group_id = ec2.create_security_group(**kwargs)["GroupId"]
            if inputs.get("egress") is not None:
                # A new group in a VPC allows all egress; the program's rules replace it.
                # (Outside a known VPC there may be no such rule: nothing to revoke then.)
                try:
                    ec2.revoke_security_group_egress(GroupId=group_id,
                                                     IpPermissions=[DEFAULT_EGRESS])
                except Exception as err:
                    if error_code(err) != "InvalidPermission.NotFound":
                        raise
                if inputs["egress"]:
                    ec2.authorize_security_group_egress(
                        GroupId=group_id,
                        IpPermissions=[_rule_to_aws(r) for r in inputs["egress"]])
            if inputs.get("ingress"):
                ec2.authorize_security_group_ingress(
                    GroupId=group_id, IpPermissions=[_rule_to_aws(r) for r in inputs["ingress"]])
            group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        return Created(group["GroupId"], {**inputs, **self._outputs(group, ref.outputs.get(
            "arn"))}, existed)

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[tuple[str, str], dict]:
        """Every planned group in one paginated DescribeSecurityGroups (filter by names)."""
        return self._find(session, sorted({r.physical_name for r in refs if r.physical_name}))

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        groups = prefetched if prefetched is not None else self._find(session,
                                                                      [ref.physical_name])
        group = groups.get((ref.inputs.get("vpcId"), ref.physical_name))
        if group is None:
            return None
        return {"name": group["GroupName"], "description": group.get("Description"),
                "vpcId": group.get("VpcId"),
                "ingress": _rules_from_aws(group.get("IpPermissions")),
                "egress": _rules_from_aws(group.get("IpPermissionsEgress")),
                "tags": {t["Key"]: t["Value"] for t in group.get("Tags") or []},
                **self._outputs(group, ref.outputs.get("arn"))}

    def list(self, session: Any, prefix: str) -> list[str]:
        if not prefix:
            return []
        paginator = self.client(session, self.service).get_paginator(
            "describe_security_groups")
        return [group["GroupId"]
                for page in paginator.paginate(Filters=[{"Name": "group-name",
                                                         "Values": [f"{prefix}*"]}])
                for group in page["SecurityGroups"]]


ADAPTERS = (SecurityGroupAdapter(),)
