"""JSON API of accounts: who am I, my API tokens, users and roles (admin), the audit log (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from memberlens.web.auth import Principal, client_ip, require
from memberlens.web.context import ctx
from memberlens.web.errors import Forbidden, NotFound
from memberlens.web.models import ApiToken, AuditEvent, User, utcnow
from memberlens.web.roles import (
    DEFAULT_SCOPES,
    MAX_TOKEN_DAYS,
    ROLE_NAMES,
    ROLES,
    TOKEN_DAYS,
    Scope,
    parse_scopes,
    role_matrix,
)
from memberlens.web.store import (
    add_user,
    audit,
    disable_user,
    issue_token,
    revoke_token,
    unlock,
)

router = APIRouter(prefix="/api", tags=["accounts"])


class TokenIn(BaseModel):
    name: str = Field("script", min_length=1, max_length=64)
    #: what the token covers besides the owner's role
    scopes: list[Scope] = Field(default_factory=lambda: list(DEFAULT_SCOPES), min_length=1)
    days: int = Field(TOKEN_DAYS, ge=1, le=MAX_TOKEN_DAYS, description="Life in days.")


class UserIn(BaseModel):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=10, max_length=256)
    role: str = Field(..., pattern="^(admin|analyst|marketer|viewer)$")


class UserPatch(BaseModel):
    role: str | None = Field(None, pattern="^(admin|analyst|marketer|viewer)$")
    active: bool | None = None


def _token_dict(t: ApiToken) -> dict:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at.isoformat(),
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        "revoked": t.revoked_at is not None,
        "scopes": sorted(parse_scopes(t.scopes)),
        "expires_at": t.expires_at.isoformat(),
        "expired": t.expires_at <= utcnow(),
        "parent_id": t.parent_id,
    }


@router.get("/me", summary="The caller: user name, role and permissions")
def api_me(request: Request, who: Principal = require()) -> dict:
    return {
        "username": who.username,
        "role": who.role,
        "via": who.via,
        "permissions": sorted(p for p in ROLES[who.role].permissions if who.can(p)),
        "scopes": None if who.scopes is None else sorted(who.scopes),
        "export_columns": list(ROLES[who.role].export_columns),
    }


@router.get("/roles", summary="What each role may see and export")
def api_roles(_=require()) -> dict:
    return {"roles": role_matrix()}


@router.get("/tokens", summary="My API tokens (never the tokens themselves)")
def api_tokens(request: Request, who: Principal = require()) -> dict:
    with ctx(request).store() as db:
        rows = db.scalars(
            select(ApiToken).where(ApiToken.user_id == who.user_id).order_by(ApiToken.id)
        ).all()
        return {"tokens": [_token_dict(t) for t in rows]}


@router.post(
    "/tokens",
    status_code=201,
    summary="Create an API token (shown once); a token may create tokens with at most its own "
    "scopes and expiry",
)
def api_token_create(request: Request, body: TokenIn, who: Principal = require()) -> dict:
    with ctx(request).store() as db:
        user = db.get(User, who.user_id)
        parent = db.get(ApiToken, who.token_id) if who.token_id is not None else None
        row, clear = issue_token(
            db, user, body.name, scopes=body.scopes, days=body.days, parent=parent
        )
        audit(
            db,
            "token_create",
            username=who.username,
            target=str(row.id),
            detail={"name": row.name, "scopes": row.scopes, "parent": row.parent_id},
            ip=client_ip(request),
        )
        return {**_token_dict(row), "token": clear}


@router.delete(
    "/tokens/{token_id}",
    summary="Revoke an API token and the tokens it created (own, or any for admins)",
)
def api_token_revoke(
    request: Request, token_id: int = Path(..., ge=1, le=2**31), who: Principal = require()
) -> dict:
    with ctx(request).store() as db:
        row = db.get(ApiToken, token_id)
        if row is None or (row.user_id != who.user_id and not who.can("manage_users")):
            raise NotFound(f"token {token_id}: no such token of yours")
        if row.revoked_at is None:
            revoked = revoke_token(db, row)
            audit(
                db,
                "token_revoke",
                username=who.username,
                target=str(token_id),
                detail={"revoked": revoked},
                ip=client_ip(request),
            )
        return _token_dict(row)


@router.get("/users", summary="Accounts (admin)")
def api_users(request: Request, _=require("manage_users")) -> dict:
    with ctx(request).store() as db:
        rows = db.scalars(select(User).order_by(User.username)).all()
        return {
            "users": [
                {
                    "username": u.username,
                    "role": u.role,
                    "active": u.active,
                    "created_at": u.created_at.isoformat(),
                }
                for u in rows
            ]
        }


@router.post("/users", status_code=201, summary="Create an account (admin)")
def api_user_create(request: Request, body: UserIn, who: Principal = require("manage_users")):
    with ctx(request).store() as db:
        user = add_user(db, body.username, body.password, body.role)
        audit(
            db,
            "user_create",
            username=who.username,
            target=user.username,
            detail={"role": user.role},
            ip=client_ip(request),
        )
        return {"username": user.username, "role": user.role, "active": user.active}


@router.patch("/users/{username}", summary="Change an account's role or disable it (admin)")
def api_user_patch(
    request: Request,
    body: UserPatch,
    username: str = Path(..., min_length=1, max_length=64),
    who: Principal = require("manage_users"),
) -> dict:
    with ctx(request).store() as db:
        user = db.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"username: no account {username!r}")
        if user.id == who.user_id and (
            body.active is False or (body.role and body.role != "admin")
        ):
            raise Forbidden("you may not demote or disable your own account; ask another admin")
        before = {"role": user.role, "active": user.active}
        if body.role is not None:
            user.role = body.role
        if body.active is False and user.active:
            disable_user(db, user)  # ends its sessions and API tokens too
        elif body.active is not None:
            user.active = body.active
        db.commit()
        audit(
            db,
            "settings",
            username=who.username,
            target=username,
            detail={"before": before, "after": {"role": user.role, "active": user.active}},
            ip=client_ip(request),
        )
        return {"username": user.username, "role": user.role, "active": user.active}


@router.post("/users/{username}/unlock", summary="Clear an account's failed logins (admin)")
def api_user_unlock(
    request: Request,
    username: str = Path(..., min_length=1, max_length=64),
    who: Principal = require("manage_users"),
) -> dict:
    with ctx(request).store() as db:
        if db.scalar(select(User).where(User.username == username)) is None:
            raise NotFound(f"username: no account {username!r}")
        cleared = unlock(db, username)
        audit(
            db,
            "unlock",
            username=who.username,
            target=username,
            detail={"failures_cleared": cleared},
            ip=client_ip(request),
        )
        return {"username": username, "failures_cleared": cleared}


@router.get("/audit", summary="The audit log, newest first (admin)")
def api_audit(
    request: Request,
    action: str | None = Query(None, max_length=32),
    limit: int = Query(200, ge=1, le=5000),
    _=require("view_audit"),
) -> dict:
    with ctx(request).store() as db:
        q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if action:
            q = q.where(AuditEvent.action == action)
        return {
            "events": [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "username": e.username,
                    "action": e.action,
                    "target": e.target,
                    "detail": e.detail,
                    "ip": e.ip,
                }
                for e in db.scalars(q).all()
            ]
        }


__all__ = ["ROLE_NAMES", "router"]
