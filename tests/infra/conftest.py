import pytest

from tests.infra.harness import ORG_ID


@pytest.fixture
def org_config() -> dict[str, object]:
    return {"role": "logging", "organizationId": ORG_ID}
