"""The four roles, the scopes of API tokens and the access rule of every route, declared in one
place.

Every router asks :func:`allows` (through :func:`memberlens.web.auth.require`); nothing else in
the web package decides who may do what. Personal data is masked for every role; only an admin may
reveal one member's contact details, and each reveal is audited.

Each route declares one :data:`Access` rule (``require(permission)`` on API routes, the page's
permission on pages, :func:`memberlens.web.auth.public` on the few open ones); the app refuses to
start when a route has none, and ``tests/web/test_access.py`` walks the route table for every role.
An API token may do what its owner's role allows *and* its scopes cover (:data:`SCOPES`).
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
    "view_campaigns",  # campaign reports, uplift curves, experiment and ROI calculators
    "manage_costs",  # change the [costs] settings (message, coupon, margin)
    "send_campaigns",  # send campaigns, run and switch trigger rules (audited)
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
    "segment_cn8",
    "segment_rfm11",
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
    "registration_channel",
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
                "view_campaigns",
                "manage_costs",
                "send_campaigns",
            }
        ),
        _LIST_COLUMNS + _CONTACT_COLUMNS,
    ),
    "analyst": Role(
        "analyst",
        frozenset(
            {
                "view_kpis",
                "view_members",
                "export_members",
                "view_data",
                "view_campaigns",
                "manage_costs",
            }
        ),
        _LIST_COLUMNS,
    ),
    "marketer": Role(
        "marketer",
        frozenset(
            {"view_kpis", "view_members", "export_members", "view_campaigns", "send_campaigns"}
        ),
        (
            "member_id",
            "segment_cn8",
            "segment_rfm11",
            "value_tier",
            "lifecycle_stage",
            "province",
            "city",
            "registration_channel",
        )
        + _CONTACT_COLUMNS,
    ),
    "viewer": Role("viewer", frozenset({"view_kpis"})),
}
ROLE_NAMES: tuple[str, ...] = tuple(ROLES)

#: the rule of one route: open to anyone, any logged-in caller, or callers holding a permission
Access = Literal["public", "login"] | Permission

Scope = Literal["read", "export", "ingest", "admin", "send"]
#: what each API-token scope covers (a token's rights: its owner's role AND its scopes)
SCOPES: dict[str, frozenset[str]] = {
    "read": frozenset({"view_kpis", "view_members", "view_data", "view_campaigns"}),
    "export": frozenset({"export_members"}),
    "ingest": frozenset(),  # loading data through the API: reserved, no endpoint yet
    "admin": frozenset({"reveal_pii", "view_audit", "manage_users", "manage_costs"}),
    "send": frozenset({"send_campaigns"}),
}
SCOPE_NAMES: tuple[str, ...] = tuple(SCOPES)
DEFAULT_SCOPES: tuple[str, ...] = ("read",)
TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 365


def scope_permissions(scopes: frozenset[str] | tuple[str, ...]) -> frozenset[str]:
    """The permissions a set of token scopes covers."""
    return frozenset().union(*(SCOPES.get(s, frozenset()) for s in scopes))


def parse_scopes(text: str | None) -> frozenset[str]:
    """Scopes as stored (``"read,export"``); unknown names are dropped."""
    return frozenset(s for s in (text or "").split(",") if s in SCOPES)


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
