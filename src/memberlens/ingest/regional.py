"""Currency, locale and time zone of a new project, taken from the data when the user did not
choose them (``memberlens init`` without ``--currency``/``--locale`` writes
``defaults_from_data = true``). The first load decides, on the best evidence it has: a
``country`` column (a file whose countries are all "United Kingdom" is a GBP, English,
Europe/London shop, not CNY/zh-CN); else currency symbols in the amounts (£, €, US$, HK$, ¥);
else one UTC offset on the timestamps (the time zone only); else Chinese headers (CNY, zh-CN).
With none of these the defaults stay and the note says they are defaults and where to change
them. The project file then states the choice, and ``memberlens status`` shows it."""

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
    #: what decided, when not a country column ("amounts written with £", ...)
    evidence: str = ""


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


#: a currency written beside the amounts -> (currency, locale, time zone); longest first
SYMBOLS: tuple[tuple[str, tuple[str, str, str]], ...] = (
    ("HK$", ("HKD", "zh-CN", "Asia/Hong_Kong")),
    ("US$", ("USD", "en", "America/New_York")),
    ("S$", ("SGD", "en", "Asia/Singapore")),
    ("£", ("GBP", "en", "Europe/London")),
    ("€", ("EUR", "en", "UTC")),
    ("￥", ("CNY", "zh-CN", "Asia/Shanghai")),
    ("¥", ("CNY", "zh-CN", "Asia/Shanghai")),
    ("元", ("CNY", "zh-CN", "Asia/Shanghai")),
    ("RMB", ("CNY", "zh-CN", "Asia/Shanghai")),
    ("$", ("USD", "en", "America/New_York")),
)
_OFFSET = re.compile(r"(?:\d)(Z|[+-]\d{2}:?\d{2})\s*$")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _zone(offset: str) -> str | None:
    """An IANA zone for a fixed UTC offset ("Z", "+08:00"): UTC or Etc/GMT-8 (POSIX sign)."""
    if offset == "Z":
        return "UTC"
    hours, minutes = int(offset[1:3]), int(offset[-2:])
    if minutes:
        return None
    if hours == 0:
        return "UTC"
    return f"Etc/GMT{'-' if offset[0] == '+' else '+'}{hours}"


def evidence_defaults(
    project: Project, headers: list[str], amounts: list[str], times: list[str]
) -> Regional | None:
    """The defaults implied by a load without a country column: currency symbols in the raw
    ``amounts`` (one symbol on at least :data:`MAJORITY` of the non-empty ones), else one UTC
    offset on the raw ``times`` (time zone only), else Chinese ``headers``; None when nothing
    tells (English headers do not name a currency or a country)."""
    written = [a for a in amounts if a and a.strip()]
    for symbol, (currency, locale, zone) in SYMBOLS:
        if written and sum(symbol in a for a in written) >= MAJORITY * len(written):
            return Regional("", currency, locale, zone, f"amounts written with {symbol}")
    offsets = {m.group(1).replace(":", "") for t in times if t and (m := _OFFSET.search(t))}
    if len(offsets) == 1 and (fixed := _zone(next(iter(offsets)))):
        return Regional(
            "", project.currency, project.locale, fixed,
            f"times written with UTC offset {next(iter(offsets))}",
        )  # fmt: skip
    if any(_CJK.search(h or "") for h in headers):
        return Regional("", "CNY", "zh-CN", "Asia/Shanghai", "Chinese headers")
    return None  # English headers say nothing about the currency: the defaults, said so


def wants_defaults(project: Project) -> bool:
    """Whether the project file asks for currency and locale from the data (not chosen yet)."""
    raw = tomllib.loads(project.file.read_text(encoding="utf-8"))
    return bool(raw.get("project", {}).get("defaults_from_data", False))


def apply_defaults(
    project: Project,
    found: Regional | None,
    why: str = "the countries in the data do not name one shop country",
) -> str:
    """Write the choice into the project file (``defaults_from_data`` becomes false) and say it;
    ``why`` says why nothing was found."""
    text = project.file.read_text(encoding="utf-8")
    choice: dict[str, str | bool]
    if found is None:
        choice = {}
        said = (
            f"currency {project.currency}, locale {project.locale} and time zone "
            f"{project.timezone} are defaults: {why}"
        )
    else:
        choice = {"currency": found.currency, "locale": found.locale, "timezone": found.timezone}
        said = (
            f"currency {found.currency}, locale {found.locale} and time zone {found.timezone} "
            f"taken from the data ({found.evidence or f'country {found.country!r}'})"
        )
        if found.evidence.startswith("times"):  # no word on the currency or the language
            said = (
                f"time zone {found.timezone} taken from the data ({found.evidence}); currency "
                f"{found.currency} and locale {found.locale} are defaults (no country column or "
                "currency symbol in the data)"
            )
    choice["defaults_from_data"] = False
    choice["defaults_note"] = said
    for key, value in choice.items():
        literal = "false" if value is False else '"' + str(value).replace('"', "'") + '"'
        pattern = re.compile(rf"^{key}\s*=.*$", re.M)
        if pattern.search(text):
            text = pattern.sub(f"{key} = {literal}", text, count=1)
        else:
            text = text.replace("[project]\n", f"[project]\n{key} = {literal}\n", 1)
    project.file.write_text(text, encoding="utf-8")
    return said + f"; change them in {project.file.name} if they are wrong"


def regional_summary(project: Project) -> dict[str, str | bool]:
    """Currency, locale and time zone of the project and where they came from (for ``status``
    and ``init``): chosen by the user, taken from the data (and on what evidence), or defaults."""
    raw = tomllib.loads(project.file.read_text(encoding="utf-8")).get("project", {})
    pending = bool(raw.get("defaults_from_data", False))
    if pending:
        source = (
            "defaults until the first load: memberlens then takes them from the data's "
            "countries, currency symbols, time zones or header language"
        )
    else:
        source = str(raw.get("defaults_note") or "chosen in the project file")
    return {
        "currency": project.currency,
        "locale": project.locale,
        "timezone": project.timezone,
        "from_data_pending": pending,
        "source": source,
        "change": f"edit currency, locale and timezone in {project.file} (or memberlens init "
        "--currency --locale)",
    }
