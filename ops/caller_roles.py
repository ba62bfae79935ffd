"""Preflight's look at the roles callers assume: whether one caller of a role can take another's session name.

Under ``api.auth: iam`` a session's owner is the caller's IAM ARN; for an assumed role that is
``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION_NAME``, and with ``AssumeRole`` and
``AssumeRoleWithWebIdentity`` the caller chooses ``SESSION_NAME`` (with ``AssumeRoleWithSAML`` the identity
provider sets it, and a service sets its own; AWS Security Blog, "Easily control the naming of individual IAM
role sessions"). So whoever may assume a role may name a session after another caller of that role and use
that caller's agent sessions, unless the role's trust policy binds the name with a condition on
``sts:RoleSessionName`` (docs/agent-api.md, "Security").

Which roles callers use is not something the account says (any role allowed ``execute-api:Invoke`` on the API,
in this account or another, once the API exists), so the operator names them: ``--caller-role``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ops.results import Result
from stacks.config import EnvironmentConfig

# The calls whose caller chooses the role session name.
NAMED_BY_CALLER = ("sts:assumerole", "sts:assumerolewithwebidentity")
SESSION_NAME_KEY = "sts:rolesessionname"
REMEDY = (
    'add to each a condition binding the name, e.g. "StringLike": {"sts:RoleSessionName": "${aws:username}"} '
    'for IAM users, or give each caller a role of its own (docs/agent-api.md, "Security")'
)


class IamRoles(Protocol):
    """The one IAM call this check makes (no mypy-boto3 stubs for IAM are installed)."""

    def get_role(self, *, RoleName: str) -> Mapping[str, Any]:
        """Return the role, with its trust policy as a document (botocore decodes IAM's URL-encoded JSON)."""
        ...


def caller_roles_skipped(config: EnvironmentConfig, roles: Sequence[str]) -> Result | None:
    """Say why the caller roles are not checked, or None when each of ``roles`` is to be checked."""
    if config.api.auth != "iam":
        return Result(
            f"caller roles: not needed (api.auth is {config.api.auth}: a session's owner is the Cognito user)"
        )
    if not roles:
        return Result(
            "caller roles: not checked (name the roles callers assume to check that their session names are "
            "bound: make preflight CALLER_ROLES='ROLE ...')"
        )
    return None


def check_caller_role(iam: IamRoles, role: str) -> Result:
    """Check that a role callers assume (its name or ARN) binds its session names; a warning if not."""
    name = role.rsplit("/", 1)[-1] if role.startswith("arn:") else role
    label = f"caller role {name}"
    try:
        trust = iam.get_role(RoleName=name)["Role"].get("AssumeRolePolicyDocument", {})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return Result(
                label,
                "no such role in this account",
                "name a role of the account preflight checks (its name or ARN) with CALLER_ROLES",
            )
        raise
    free = free_session_name_statements(trust)
    if free:
        return Result(
            label,
            f"its trust policy lets whoever may assume it choose any session name ({', '.join(free)}), so a "
            "caller can pose as another caller of this role and use that caller's sessions",
            REMEDY,
            warning=True,
        )
    return Result(f"{label}: callers cannot choose each other's session names")


def free_session_name_statements(document: Mapping[str, Any]) -> list[str]:
    """Return the statements (by ``Sid``, else position) that let a principal pick any session name.

    A statement counts when it allows ``AssumeRole`` or ``AssumeRoleWithWebIdentity`` to a principal other
    than a service, without a condition on ``sts:RoleSessionName`` (``Null`` only tests presence, and ``*``
    matches any name). A ``Deny`` of those calls for names outside a list (``StringNot...``) binds every
    statement.
    """
    statements = _as_list(document.get("Statement"))
    if any(
        _effect(s) == "deny" and _covers_named_by_caller(s) and _names_bound(s, negated=True)
        for s in statements
    ):
        return []
    return [
        str(statement.get("Sid") or f"statement {position}")
        for position, statement in enumerate(statements, start=1)
        if _effect(statement) == "allow"
        and _covers_named_by_caller(statement)
        and not _service_only(statement)
        and not _names_bound(statement, negated=False)
    ]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _effect(statement: Mapping[str, Any]) -> str:
    return str(statement.get("Effect", "")).lower()


def _covers_named_by_caller(statement: Mapping[str, Any]) -> bool:
    if "NotAction" in statement:
        excluded = [str(a).lower() for a in _as_list(statement["NotAction"])]
        return any(not any(fnmatchcase(action, p) for p in excluded) for action in NAMED_BY_CALLER)
    patterns = [str(a).lower() for a in _as_list(statement.get("Action"))]
    return any(fnmatchcase(action, p) for action in NAMED_BY_CALLER for p in patterns)


def _service_only(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    return isinstance(principal, Mapping) and set(principal) == {"Service"}


def _names_bound(statement: Mapping[str, Any], *, negated: bool) -> bool:
    """Tell whether the condition restricts ``sts:RoleSessionName`` (with negated operators if asked)."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    for operator, tests in condition.items():
        base = str(operator).split(":")[-1].lower().removesuffix("ifexists")
        if base == "null" or not isinstance(tests, Mapping) or negated != base.startswith("stringnot"):
            continue
        for key, values in tests.items():
            if str(key).lower() == SESSION_NAME_KEY and any(str(v) != "*" for v in _as_list(values)):
                return True
    return False
