"""Romania's counties as ISO 3166-2:RO codes, which CIUS-RO wants in an address (BT-39, BT-54)."""

from __future__ import annotations

import re
import unicodedata

COUNTIES = {
    "RO-AB": "Alba", "RO-AR": "Arad", "RO-AG": "Argeș", "RO-BC": "Bacău", "RO-BH": "Bihor",
    "RO-BN": "Bistrița-Năsăud", "RO-BT": "Botoșani", "RO-BV": "Brașov", "RO-BR": "Brăila",
    "RO-B": "București", "RO-BZ": "Buzău", "RO-CS": "Caraș-Severin", "RO-CL": "Călărași",
    "RO-CJ": "Cluj", "RO-CT": "Constanța", "RO-CV": "Covasna", "RO-DB": "Dâmbovița", "RO-DJ": "Dolj",
    "RO-GL": "Galați", "RO-GR": "Giurgiu", "RO-GJ": "Gorj", "RO-HR": "Harghita", "RO-HD": "Hunedoara",
    "RO-IL": "Ialomița", "RO-IS": "Iași", "RO-IF": "Ilfov", "RO-MM": "Maramureș", "RO-MH": "Mehedinți",
    "RO-MS": "Mureș", "RO-NT": "Neamț", "RO-OT": "Olt", "RO-PH": "Prahova", "RO-SM": "Satu Mare",
    "RO-SJ": "Sălaj", "RO-SB": "Sibiu", "RO-SV": "Suceava", "RO-TR": "Teleorman", "RO-TM": "Timiș",
    "RO-TL": "Tulcea", "RO-VS": "Vaslui", "RO-VL": "Vâlcea", "RO-VN": "Vrancea",
}  # fmt: skip


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", re.sub(r"^\s*(judetul|jud\.?|municipiul)\s+", "", text.lower()))


_BY_NAME = {_plain(name): code for code, name in COUNTIES.items()} | {"bucharest": "RO-B"}


def county_code(text: str | None) -> str | None:
    """The ISO code of a county written as a code ("RO-CJ", "CJ") or a name ("Cluj", "Județul Iași")."""
    if not text:
        return None
    upper = text.strip().upper()
    if upper in COUNTIES:
        return upper
    if f"RO-{upper}" in COUNTIES:
        return f"RO-{upper}"
    return _BY_NAME.get(_plain(text))


def sector(city: str | None) -> str | None:
    """A Bucharest sector as CIUS-RO writes it ("Sector 3", "sectorul 3" -> "SECTOR3"), else None."""
    match = re.fullmatch(r"\s*sector(?:ul)?\s*([1-6])\s*", city or "", re.I)
    return f"SECTOR{match.group(1)}" if match else None
