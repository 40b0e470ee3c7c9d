"""The pack's own files, as shipped: policy/deployment.json (who belongs) and
policy/acknowledged.json (the owners' acknowledgements, passed with --policy-pack-config),
and the example stacks of the repository passing the pack with them, unpatched."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from components.config import EXPIRE_DAYS_FLOOR
from handlers.heartbeat import partition_key_query
from policy import rules
from tests.infra.stacks import render
from tests.infra.test_deploy_permissions import CONFIGS, run_stack
from tests.policy.test_rules import every_violation

ROOT = Path(__file__).resolve().parents[2]
ACKNOWLEDGED = json.loads((ROOT / "policy" / "acknowledged.json").read_text())


def test_the_deployment_names_an_organisation_accounts_and_each_example_stacks_role() -> None:
    deployment = rules.deployment()
    assert deployment.organization_id is not None
    assert rules.ORG_ID_RE.fullmatch(deployment.organization_id)
    assert deployment.accounts and all(re.fullmatch(r"\d{12}", a) for a in deployment.accounts)
    for name, role in deployment.stacks.items():
        assert role in rules.ALLOWED_TYPES, name
        assert (ROOT / f"Pulumi.{name}.yaml").exists(), name


def test_the_acknowledgements_fit_the_rule_s_config_schema() -> None:
    assert set(ACKNOWLEDGED) == {rules.COVERAGE_RULE}
    [rule] = [p for p in rules.POLICIES if p.name == rules.COVERAGE_RULE]
    assert rule.config_schema is not None
    schema = {"type": "object", "properties": rule.config_schema.properties}
    config = ACKNOWLEDGED[rules.COVERAGE_RULE]
    jsonschema.validate(config, schema)
    assert set(config) == set(rules.COVERAGE_SETTINGS)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"expireDays": [{"days": 1}]}, schema)


def test_the_pack_and_the_config_share_the_expiry_floor() -> None:
    assert rules.EXPIRE_DAYS_FLOOR == EXPIRE_DAYS_FLOOR


def test_the_pack_and_the_streams_share_the_partition_key_query() -> None:
    assert partition_key_query() == rules.PARTITION_KEY_QUERY


@pytest.mark.parametrize("name", ["logging", "member", "management", "organization"])
def test_the_example_stacks_pass_the_pack_as_shipped(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_STACK", f"example-org/central-logging/{name}")
    run = render(f"example-{name}")
    config: dict[str, Any] = ACKNOWLEDGED[rules.COVERAGE_RULE]
    assert every_violation(run.resources, config) == []


@pytest.mark.parametrize("role", sorted(rules.ALLOWED_TYPES))
def test_each_role_allows_exactly_the_types_its_program_declares(role: str) -> None:
    # The engine's own types, which the mocks do not record.
    engine = {"pulumi:pulumi:Stack", "pulumi:providers:aws", "pulumi:pulumi:StackReference"}
    declared = {r.type for config in CONFIGS[role] for r in run_stack(role, config).resources}
    assert sorted(declared - rules.ALLOWED_TYPES[role]) == []  # a new type: add it, with rules
    assert sorted(rules.ALLOWED_TYPES[role] - declared - engine) == []
