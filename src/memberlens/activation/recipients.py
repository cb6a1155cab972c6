"""What a campaign needs to know about its members, read from the warehouse's published snapshot:
the template fields of each member (:data:`memberlens.activation.templates.FIELDS`), e-mail
addresses, and the audience's member ids and opt-outs (through
:mod:`memberlens.activation.audiences`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from memberlens.exceptions import ConfigError

__all__ = ["MemberFacts", "audience_member_ids", "campaign_member_ids", "opted_out_members"]

_RECOMMENDED = 3


def audience_member_ids(project: Any, audience: str, store: Any) -> list[str]:
    """The member ids of a saved audience (or an audience expression) matching now."""
    from memberlens.activation.audiences import audience_members

    found = audience_members(project, audience, store=store)
    return [str(m) for m in found.column("member_id").to_pylist()]


def campaign_member_ids(project: Any, audience: str, store: Any) -> list[str]:
    """The members a campaign on ``audience`` targets: a frozen audience's latest frozen list,
    else the members matching now."""
    from memberlens.activation.audiences import target_member_ids

    ids, _ = target_member_ids(project, audience, store=store)
    return ids


def opted_out_members(project: Any, channel: str, store: Any) -> frozenset[str]:
    """The members who opted out of ``channel`` (its name in ``[channels.NAME]``)."""
    from memberlens.activation.audiences import opted_out

    return opted_out(project, channel, store=store)


def _is_address(value: object) -> bool:
    return isinstance(value, str) and "@" in value and "." in value.rsplit("@", 1)[-1]


class MemberFacts:
    """Template fields and addresses of members, from one open read-only warehouse (use as a
    context manager; each call reads the members it is asked for)."""

    def __init__(self, project: Any) -> None:
        from memberlens.engine.warehouse import open_warehouse

        self.project = project
        self.wh = open_warehouse(project, read_only=True)
        # the snapshot does not change while it is open: list its tables once, not per batch
        self.tables = frozenset(self.wh.con.list_tables())
        self._tables: dict[str, ir.Table] = {}

    def _has(self, name: str) -> bool:
        return name in self.tables

    def _table(self, name: str) -> ir.Table:
        if name not in self._tables:
            self._tables[name] = self.wh.con.table(name)
        return self._tables[name]

    def __enter__(self) -> MemberFacts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wh.close()

    def addressable(self, member_ids: Sequence[str]) -> set[str]:
        """Members with a usable e-mail address (clear, not a pseudonym)."""
        if not self._has("members"):
            return set()
        members = self._table("members")
        if "email" not in members.columns:
            return set()
        ids = ibis.memtable({"member_id": list(member_ids)})
        rows = (
            members.semi_join(ids, "member_id")
            .filter(members.email.notnull())
            .select("member_id", "email")
            .to_pyarrow()
            .to_pylist()
        )
        return {str(r["member_id"]) for r in rows if _is_address(r["email"])}

    def contexts(self, member_ids: Sequence[str], *, masked: bool = False) -> dict[str, dict]:
        """Each member's template fields (and ``address``, ``language``); ``masked``: the name
        always masked (lists read by staff)."""
        out: dict[str, dict[str, Any]] = {
            m: {"member_id": m, "recommendations": []} for m in member_ids
        }
        ids = ibis.memtable({"member_id": list(member_ids)})
        clear = self.project.keep_clear_pii and not masked
        if self._has("members"):
            t = self._table("members")
            cols = {
                "name": "name" if clear and "name" in t.columns else "name_masked",
                "address": "email",
                "city": "city",
                "province": "province",
            }
            have = {k: v for k, v in cols.items() if v in t.columns}
            if have:
                rows = t.semi_join(ids, "member_id").select(
                    "member_id", **{k: t[v] for k, v in have.items()}
                )
                for r in rows.to_pyarrow().to_pylist():
                    ctx = out[str(r.pop("member_id"))]
                    ctx.update(r)
                    if not _is_address(ctx.get("address")):
                        ctx["address"] = None
        if self._has("mart_members"):
            t = self._table("mart_members")
            cols = {"segment": "segment_cn8", "value_tier": "value_tier"}
            cols["lifecycle_stage"] = "lifecycle_stage"
            have = {k: v for k, v in cols.items() if v in t.columns}
            if have:
                rows = t.semi_join(ids, "member_id").select(
                    "member_id", **{k: t[v] for k, v in have.items()}
                )
                for r in rows.to_pyarrow().to_pylist():
                    out[str(r.pop("member_id"))].update(r)
        if self._has("mart_recommendations"):
            self._recommendations(ids, out)
        return out

    def _recommendations(self, ids: Any, out: dict[str, dict]) -> None:
        t = self._table("mart_recommendations")
        rec = t.semi_join(ids, "member_id").filter(t["rank"] <= _RECOMMENDED)
        label = next((c for c in ("name", "product_name") if c in rec.columns), None)
        if label is None and self._has("products"):
            products = self._table("products")
            if "name" in products.columns:
                rec = rec.left_join(
                    products.select("product_id", product_label=products["name"]), "product_id"
                )
                label = "product_label"
        rows = (
            rec.select(
                "member_id",
                "rank",
                label=rec[label].fill_null(rec.product_id) if label else rec.product_id,
            )
            .order_by(["member_id", "rank"])
            .to_pyarrow()
            .to_pylist()
        )
        for r in rows:
            out[str(r["member_id"])]["recommendations"].append(str(r["label"]))


def check_member(project: Any, member_id: str) -> None:
    """A clear error when ``member_id`` is not a member (for previews)."""
    from memberlens.engine.warehouse import open_warehouse

    with open_warehouse(project, read_only=True) as wh:
        for name in ("members", "mart_members", "orders"):
            if wh.has(name):
                t = wh.table(name)
                if int(t.filter(t.member_id == member_id).count().execute()):
                    return
                raise ConfigError(f"--member {member_id!r}: no such member in {name}")
