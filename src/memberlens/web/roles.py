"""The four roles and what each may see and export, declared in one place.

Every router asks :func:`allows` (through :func:`memberlens.web.auth.require`); nothing else in
the web package decides who may do what. Personal data is masked for every role; only an admin may
reveal one member's contact details, and each reveal is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Permission = Literal[
    "view_kpis",  # overview, segments, cohorts, value, geography, baskets (aggregates)
    "view_members",  # member lists and member 360 (masked contacts)
    "export_members",  # CSV / Excel export of member lists (masked contacts)
    "view_data",  # load status, run log, quarantine rows
    "reveal_pii",  # show one member's stored contact values (audited)
    "view_audit",  # the audit log
    "manage_users",  # accounts, roles, other users' tokens
]
RoleName = Literal["admin", "analyst", "marketer", "viewer"]


@dataclass(frozen=True)
class Role:
    name: RoleName
    permissions: frozenset[str]
    #: columns of a member list this role may export (masked contacts only, for every role)
    export_columns: tuple[str, ...] = ()


_LIST_COLUMNS = (
    "member_id",
    "segment_cn",
    "segment_en",
    "value_tier",
    "lifecycle_stage",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "total_spend",
    "order_count",
    "days_since_last",
    "p_alive",
    "expected_purchases_90d",
    "clv",
    "province",
    "city",
    "channel",
    "gender",
)
_CONTACT_COLUMNS = ("phone_masked", "email_masked")

ROLES: dict[str, Role] = {
    "admin": Role(
        "admin",
        frozenset(
            {
                "view_kpis",
                "view_members",
                "export_members",
                "view_data",
                "reveal_pii",
                "view_audit",
                "manage_users",
            }
        ),
        _LIST_COLUMNS + _CONTACT_COLUMNS,
    ),
    "analyst": Role(
        "analyst",
        frozenset({"view_kpis", "view_members", "export_members", "view_data"}),
        _LIST_COLUMNS,
    ),
    "marketer": Role(
        "marketer",
        frozenset({"view_kpis", "view_members", "export_members"}),
        (
            "member_id",
            "segment_cn",
            "segment_en",
            "value_tier",
            "lifecycle_stage",
            "province",
            "city",
            "channel",
        )
        + _CONTACT_COLUMNS,
    ),
    "viewer": Role("viewer", frozenset({"view_kpis"})),
}
ROLE_NAMES: tuple[str, ...] = tuple(ROLES)


def allows(role: str, permission: Permission) -> bool:
    """Whether ``role`` has ``permission`` (unknown roles have none)."""
    spec = ROLES.get(role)
    return spec is not None and permission in spec.permissions


def role_matrix() -> list[dict]:
    """The table of roles and permissions, as shown on the admin page and in docs/web.md."""
    perms = Permission.__args__
    return [
        {
            "role": r.name,
            **{p: p in r.permissions for p in perms},
            "export_columns": list(r.export_columns),
        }
        for r in ROLES.values()
    ]
