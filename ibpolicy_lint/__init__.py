"""ibpolicy-lint: EC2 Image Builder cross-account distribution failures, found before deploy."""

__version__ = "0.1.0"

HOMEPAGE = "https://github.com/ibpolicy-lint/ibpolicy-lint"


def rule_url(rule_id: str) -> str:
    """Where a rule's catalogue entry is published (SARIF helpUri, documentation links)."""
    return f"{HOMEPAGE}/blob/main/rules/{rule_id}.yaml"
