"""Where and how to revoke a token that was proven live (text, JSON and SARIF reports say it).

No SonarQube API revokes a token by its value: Server revokes by the token's *name*, and
Scoped Organization Tokens only through an organization administrator.
"""

from __future__ import annotations

from leakscan.models import Finding, Liveness


def revocation_guidance(finding: Finding) -> str:
    """One sentence on revoking ``finding``'s token; '' unless it was proven live."""
    validation = finding.validation
    if validation.status is not Liveness.LIVE:
        return ""
    host = validation.host or "the SonarQube host"
    if finding.rule.validation == "sonarqube-cloud":
        return (
            f"Revoke it on {host}: an organization administrator opens Administration > Scoped "
            "Organization Tokens and revokes it (or uses the Authentication domain API); "
            "then create a new one in your CI's secret store."
        )
    return (
        f"Revoke it on {host}: its owner opens My Account > Security and revokes it, or call "
        f"POST {host}/api/user_tokens/revoke with the token's name (list names with "
        f"GET {host}/api/user_tokens/search; an administrator adds login=<user>); "
        "then create a new one in your CI's secret store."
    )
