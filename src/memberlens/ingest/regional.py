"""Currency, locale and time zone of a new project, taken from the data when the user did not
choose them (``memberlens init`` without ``--currency``/``--locale`` writes
``defaults_from_data = true``): the first load that carries a ``country`` column decides, and
the project file then states the choice (a file whose countries are all "United Kingdom" is a
GBP, English, Europe/London shop, not CNY/zh-CN)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

from memberlens.project import Project

#: the most common country must hold at least this share of the rows to decide.
MAJORITY = 0.8


@dataclass(frozen=True)
class Regional:
    """What a country implies for a shop's defaults."""

    country: str
    currency: str
    locale: str
    timezone: str


_EURO = {
    "germany": "Europe/Berlin",
    "france": "Europe/Paris",
    "netherlands": "Europe/Amsterdam",
    "spain": "Europe/Madrid",
    "italy": "Europe/Rome",
    "belgium": "Europe/Brussels",
    "portugal": "Europe/Lisbon",
    "austria": "Europe/Vienna",
    "finland": "Europe/Helsinki",
    "eire": "Europe/Dublin",
    "ireland": "Europe/Dublin",
    "greece": "Europe/Athens",
}
#: lower-cased country spelling -> (currency, locale, time zone).
COUNTRIES: dict[str, tuple[str, str, str]] = {
    **dict.fromkeys(("china", "cn", "prc", "中国", "中国大陆"), ("CNY", "zh-CN", "Asia/Shanghai")),
    **dict.fromkeys(
        ("united kingdom", "uk", "gb", "great britain", "england", "英国"),
        ("GBP", "en", "Europe/London"),
    ),
    **dict.fromkeys(
        ("united states", "usa", "us", "united states of america", "美国"),
        ("USD", "en", "America/New_York"),
    ),
    **dict.fromkeys(("hong kong", "hk", "香港"), ("HKD", "zh-CN", "Asia/Hong_Kong")),
    **dict.fromkeys(("singapore", "sg", "新加坡"), ("SGD", "en", "Asia/Singapore")),
    **dict.fromkeys(("australia", "au"), ("AUD", "en", "Australia/Sydney")),
    **dict.fromkeys(("canada", "ca"), ("CAD", "en", "America/Toronto")),
    **dict.fromkeys(("japan", "jp", "日本"), ("JPY", "en", "Asia/Tokyo")),
    **{name: ("EUR", "en", tz) for name, tz in _EURO.items()},
}


def regional_defaults(counts: dict[str | None, int]) -> Regional | None:
    """The defaults implied by the countries of the rows (``{country: rows}``), when one known
    country holds at least :data:`MAJORITY` of them; else None."""
    total = sum(counts.values())
    named = {k: v for k, v in counts.items() if k}
    if not total or not named:
        return None
    country, n = max(named.items(), key=lambda kv: (kv[1], kv[0]))
    found = COUNTRIES.get(country.strip().lower())
    if found is None or n < MAJORITY * total:
        return None
    return Regional(country, *found)


def wants_defaults(project: Project) -> bool:
    """Whether the project file asks for currency and locale from the data (not chosen yet)."""
    raw = tomllib.loads(project.file.read_text(encoding="utf-8"))
    return bool(raw.get("project", {}).get("defaults_from_data", False))


def apply_defaults(project: Project, found: Regional | None) -> str:
    """Write the choice into the project file (``defaults_from_data`` becomes false) and say it."""
    text = project.file.read_text(encoding="utf-8")
    choice: dict[str, str | bool]
    if found is None:
        choice = {}
        said = (
            f"currency {project.currency}, locale {project.locale} and time zone "
            f"{project.timezone} kept: the countries in the data do not name one shop country"
        )
    else:
        choice = {"currency": found.currency, "locale": found.locale, "timezone": found.timezone}
        said = (
            f"currency {found.currency}, locale {found.locale} and time zone {found.timezone} "
            f"taken from the data (country {found.country!r})"
        )
    choice["defaults_from_data"] = False
    for key, value in choice.items():
        literal = "false" if value is False else f'"{value}"'
        pattern = re.compile(rf"^{key}\s*=.*$", re.M)
        if pattern.search(text):
            text = pattern.sub(f"{key} = {literal}", text, count=1)
        else:
            text = text.replace("[project]\n", f"[project]\n{key} = {literal}\n", 1)
    project.file.write_text(text, encoding="utf-8")
    return said + f"; change them in {project.file.name} if they are wrong"
