"""The central-logging policy pack: `pulumi preview --policy-pack policy` runs it."""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES

PolicyPack(
    name="central-logging",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
