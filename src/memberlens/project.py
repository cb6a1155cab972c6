"""The project: a folder with ``memberlens.toml``, the warehouse and a secret kept beside it.

``memberlens init DIR`` writes the file; every command finds it again with :meth:`Project.load`.
The HMAC secret that pseudonymises personal data lives in ``DIR/.memberlens/secret.key`` (mode
0600), never in the warehouse, so a copy of the warehouse alone cannot be re-identified.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from memberlens.exceptions import ConfigError
from memberlens.schema import TABLES
from memberlens.settings import check_settings

PROJECT_FILE = "memberlens.toml"
Engine = Literal["duckdb", "pyspark"]
Locale = Literal["zh-CN", "en"]
ENGINES: tuple[str, ...] = ("duckdb", "pyspark")
LOCALES: tuple[str, ...] = ("zh-CN", "en")


@dataclass(frozen=True)
class SourceEntry:
    """Where a canonical table comes from (used by ``memberlens ingest --all``)."""

    path: str = ""
    mapping: str = ""


@dataclass(frozen=True)
class Project:
    """Settings of one project, read from ``memberlens.toml``."""

    root: Path
    name: str = "memberlens"
    engine: Engine = "duckdb"
    warehouse: Path = Path("warehouse.duckdb")
    as_of: dt.date | None = None
    currency: str = "CNY"
    locale: Locale = "zh-CN"
    #: the shop's time zone (IANA name): times written with a zone are converted to it.
    timezone: str = "Asia/Shanghai"
    keep_clear_pii: bool = False
    #: DuckDB's memory budget; past it, large sorts and joins spill to .memberlens/tmp.
    memory_limit: str = "4GB"
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    #: every other section of the file (segments, lifecycle, tiers, ...), checked against
    #: :data:`memberlens.settings.SECTIONS` when the file is read.
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def state_dir(self) -> Path:
        """Folder for the secret and application state (``DIR/.memberlens``)."""
        return self.root / ".memberlens"

    @classmethod
    def load(cls, root: str | os.PathLike[str] | None = None) -> Project:
        """Read the project in ``root`` (default: ``$MEMBERLENS_PROJECT`` or the current folder)."""
        root = Path(root or os.environ.get("MEMBERLENS_PROJECT") or ".").resolve()
        path = root / PROJECT_FILE if root.is_dir() or not root.suffix else root
        if path.name != PROJECT_FILE:
            path = root / PROJECT_FILE
        if not path.exists():
            raise ConfigError(
                f"no {PROJECT_FILE} in {root}: create one with `memberlens init {root}` "
                "or pass --project DIR"
            )
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML ({exc}); fix the line it names") from None
        return cls._from_dict(path.parent, raw, path)

    @classmethod
    def _from_dict(cls, root: Path, raw: dict[str, Any], path: Path) -> Project:
        check_settings(raw, path)
        proj = dict(raw.get("project", {}))
        wh = dict(raw.get("warehouse", {}))
        privacy = dict(raw.get("privacy", {}))
        engine = wh.get("engine", "duckdb")
        if engine not in ENGINES:
            raise ConfigError(
                f"{path}: [warehouse] engine = {engine!r} is not supported; "
                f"use one of {', '.join(ENGINES)}"
            )
        locale = proj.get("locale", "zh-CN")
        if locale not in LOCALES:
            raise ConfigError(
                f"{path}: [project] locale = {locale!r}; use one of {', '.join(LOCALES)}"
            )
        timezone = str(proj.get("timezone") or ("Asia/Shanghai" if locale == "zh-CN" else "UTC"))
        _check_timezone(timezone, path)
        as_of = proj.get("as_of") or None
        if isinstance(as_of, str):
            try:
                as_of = dt.date.fromisoformat(as_of)
            except ValueError:
                raise ConfigError(
                    f"{path}: [project] as_of = {as_of!r} is not a date; write "
                    "YYYY-MM-DD, or leave it empty for the last day in the data"
                ) from None
        elif isinstance(as_of, dt.datetime):
            as_of = as_of.date()
        sources = {}
        for table, entry in dict(raw.get("sources", {})).items():
            if table not in TABLES:
                raise ConfigError(
                    f"{path}: [sources.{table}] is not a canonical table; use one "
                    f"of {', '.join(TABLES)}"
                )
            sources[table] = SourceEntry(
                path=str(entry.get("path", "")), mapping=str(entry.get("mapping", ""))
            )
        warehouse = Path(wh.get("path", "warehouse.duckdb" if engine == "duckdb" else "warehouse"))
        if not warehouse.is_absolute():
            warehouse = root / warehouse
        known = {"project", "warehouse", "privacy", "sources"}
        return cls(
            root=root,
            name=str(proj.get("name", root.name)),
            engine=engine,
            warehouse=warehouse,
            as_of=as_of,
            currency=str(proj.get("currency", "CNY")),
            locale=locale,
            timezone=timezone,
            keep_clear_pii=bool(privacy.get("keep_clear_pii", False)),
            sources=sources,
            memory_limit=str(wh.get("memory_limit", "4GB")),
            settings={k: v for k, v in raw.items() if k not in known},
        )

    def secret(self) -> bytes:
        """The per-project HMAC key, created on first use (``$MEMBERLENS_SECRET`` overrides)."""
        env = os.environ.get("MEMBERLENS_SECRET")
        if env:
            return env.encode("utf-8")
        path = self.state_dir / "secret.key"
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode("utf-8")


def _check_timezone(name: str, path: Path) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{path}: [project] timezone = {name!r} is not a time zone; write an IANA name "
            "such as Asia/Shanghai, Europe/London or UTC"
        ) from None


_TEMPLATE = """\
# memberlens project file. Paths are relative to this folder.

[project]
name = "{name}"
# Analyses are computed "as of" this date; empty = the last day in the data.
as_of = "{as_of}"
currency = "{currency}"
# zh-CN or en: the default language of reports and the dashboard.
locale = "{locale}"
# The shop's time zone: times written with a zone (Z, +08:00) are converted to it on ingest.
timezone = "{timezone}"
# true: currency, locale and time zone are set from the countries of the first load.
defaults_from_data = {from_data}

[warehouse]
# duckdb (embedded, one file) or pyspark (local Spark or a cluster).
engine = "{engine}"
path = "{warehouse}"
# DuckDB's memory budget; larger work spills to .memberlens/tmp instead of using more RAM.
memory_limit = "4GB"

[privacy]
# Personal data (phone, e-mail, names, ID numbers) is pseudonymised with a keyed hash and masked
# for display. Set to true only if your team must see clear values.
keep_clear_pii = false

# One entry per canonical table: where `memberlens ingest --all` reads it from and which column
# mapping to use (empty = automatic mapping from English and Chinese header synonyms).
{sources}
"""


def init_project(
    root: str | os.PathLike[str],
    *,
    engine: Engine = "duckdb",
    as_of: dt.date | None = None,
    currency: str | None = None,
    locale: Locale | None = None,
    name: str | None = None,
    force: bool = False,
    timezone: str | None = None,
) -> Project:
    """Create ``root/memberlens.toml`` (and the folder) and return the project."""
    root = Path(root).resolve()
    # not chosen: CNY / zh-CN until the first load with countries says otherwise (ingest.regional)
    from_data = currency is None and locale is None
    currency, locale = currency or "CNY", locale or "zh-CN"
    if engine not in ENGINES:
        raise ConfigError(f"engine {engine!r} is not supported; use one of {', '.join(ENGINES)}")
    if locale not in LOCALES:
        raise ConfigError(f"locale {locale!r} is not supported; use one of {', '.join(LOCALES)}")
    path = root / PROJECT_FILE
    if path.exists() and not force:
        raise ConfigError(f"{path} exists already; pass --force to overwrite it")
    root.mkdir(parents=True, exist_ok=True)
    sources = "\n".join(f'[sources.{t}]\npath = ""\nmapping = ""\n' for t in TABLES)
    path.write_text(
        _TEMPLATE.format(
            name=name or root.name,
            as_of=as_of.isoformat() if as_of else "",
            currency=currency,
            locale=locale,
            timezone=timezone or ("Asia/Shanghai" if locale == "zh-CN" else "UTC"),
            from_data="true" if from_data else "false",
            engine=engine,
            warehouse="warehouse.duckdb" if engine == "duckdb" else "warehouse",
            sources=sources,
        ),
        encoding="utf-8",
    )
    project = Project.load(root)
    project.secret()
    return project
