"""Personal data at ingest: normalised, pseudonymised (unless the project keeps clear values)
and masked by :mod:`memberlens.privacy`, for Arrow sources and, batch by batch, for files that
DuckDB reads (:mod:`memberlens.ingest.duckdb_reader`)."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.ingest.rules import RAW
from memberlens.privacy import mask_values, normalise_values, pseudonymise
from memberlens.project import Project
from memberlens.schema import TableSpec


def protect(prepared: pa.Table, spec: TableSpec, project: Project | None) -> pa.Table:
    """Pseudonymise personal fields (unless the project keeps clear values) and add masked forms."""
    for f in spec.pii_fields:
        if f.name not in prepared.column_names:
            continue
        id_type = (
            prepared.column("id_type").combine_chunks()
            if spec.name == "identities" and "id_type" in prepared.column_names
            else None
        )
        stored, masked = personal_forms(
            f.pii, prepared.column(f.name).combine_chunks(), project, id_type
        )
        idx = prepared.column_names.index(f.name)
        prepared = prepared.set_column(idx, f.name, stored)
        raw_idx = prepared.column_names.index(RAW + f.name)
        prepared = prepared.set_column(raw_idx, RAW + f.name, stored)
        prepared = prepared.append_column(f"{f.name}_masked", masked)
    return prepared


def personal_forms(
    kind: str, value: pa.Array, project: Project | None, id_type: pa.Array | None = None
) -> tuple[pa.Array, pa.Array]:
    """(stored, masked) forms of personal values: normalised, then pseudonymised unless the
    project keeps clear values (identities: normalised by the kind their id_type names)."""
    norm = normalised(kind, value, id_type)
    return _stored_form(norm, project), mask_values(kind, norm)


def normalised(kind: str, value: pa.Array, id_type: pa.Array | None = None) -> pa.Array:
    """Personal values in their canonical spelling (identities: by the kind id_type names)."""
    if id_type is None:
        return normalise_values(kind, value)
    id_type = pc.utf8_lower(pc.fill_null(id_type, ""))
    return pc.if_else(
        pc.equal(id_type, "phone"),
        normalise_values("phone", value),
        pc.if_else(
            pc.equal(id_type, "email"),
            normalise_values("email", value),
            normalise_values("device", value),
        ),
    )


def _stored_form(norm: pa.Array, project: Project | None) -> pa.Array:
    keep = project is not None and project.keep_clear_pii
    return norm if keep or project is None else pseudonymise(norm, project.secret())


#: age bands (lowest age of each band), as in common CRM exports.
AGE_BANDS = (
    (0, "<18"),
    (18, "18-24"),
    (25, "25-34"),
    (35, "35-44"),
    (45, "45-54"),
    (55, "55-64"),
    (65, "65+"),
)


def generalise(
    values: dict[str, ir.Value], fields: tuple[str, ...], today: dt.date
) -> dict[str, ir.Value]:
    """Member values as stored: birth month, day and age band derived from the birthday (when
    the export does not give them), and the ``fields`` generalised away (the birthday kept only
    as month, day and age band; city left to the province; gender left out)."""
    out = dict(values)
    birthday = values["birthday"]
    out["birth_month"] = ibis.coalesce(values["birth_month"], birthday.month().cast("int64"))
    out["birth_day"] = ibis.coalesce(values["birth_day"], birthday.day().cast("int64"))
    later = (birthday.month() > today.month) | (
        (birthday.month() == today.month) & (birthday.day() > today.day)
    )
    age = today.year - birthday.year() - ibis.ifelse(later, 1, 0)
    band = ibis.cases(
        *[(age >= low, label) for low, label in reversed(AGE_BANDS)], else_=ibis.null("string")
    )
    out["age_band"] = ibis.coalesce(values["age_band"], band)
    for name in fields:
        out[name] = ibis.null(values[name].type())
    return out
