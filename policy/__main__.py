"""The CrossGuard policy pack: `pulumi preview --policy-pack policy`.

Only this file builds the PolicyPack (constructing it starts the analyzer server); the rule
logic lives in ``policy.rules``, which ``tandem check`` runs offline too.
"""

from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationPolicy

from policy.crossguard import stack_policies

PolicyPack(
    name="tandem-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=stack_policies(StackValidationPolicy),
)
