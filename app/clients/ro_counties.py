"""Romania's counties (ISO 3166-2:RO) and Bucharest's sectors, as e-Factura (CIUS-RO) wants addresses."""

from __future__ import annotations

import re
import unicodedata

# ISO 3166-2:RO: the 41 counties and the municipality of Bucharest.
COUNTIES: dict[str, str] = {
    "RO-AB": "Alba",
    "RO-AR": "Arad",
    "RO-AG": "Argeș",
    "RO-BC": "Bacău",
    "RO-BH": "Bihor",
    "RO-BN": "Bistrița-Năsăud",
    "RO-BT": "Botoșani",
    "RO-BV": "Brașov",
    "RO-BR": "Brăila",
    "RO-B": "București",
    "RO-BZ": "Buzău",
    "RO-CS": "Caraș-Severin",
    "RO-CL": "Călărași",
    "RO-CJ": "Cluj",
    "RO-CT": "Constanța",
    "RO-CV": "Covasna",
    "RO-DB": "Dâmbovița",
    "RO-DJ": "Dolj",
    "RO-GL": "Galați",
    "RO-GR": "Giurgiu",
    "RO-GJ": "Gorj",
    "RO-HR": "Harghita",
    "RO-HD": "Hunedoara",
    "RO-IL": "Ialomița",
    "RO-IS": "Iași",
    "RO-IF": "Ilfov",
    "RO-MM": "Maramureș",
    "RO-MH": "Mehedinți",
    "RO-MS": "Mureș",
    "RO-NT": "Neamț",
    "RO-OT": "Olt",
    "RO-PH": "Prahova",
    "RO-SM": "Satu Mare",
    "RO-SJ": "Sălaj",
    "RO-SB": "Sibiu",
    "RO-SV": "Suceava",
    "RO-TR": "Teleorman",
    "RO-TM": "Timiș",
    "RO-TL": "Tulcea",
    "RO-VS": "Vaslui",
    "RO-VL": "Vâlcea",
    "RO-VN": "Vrancea",
}
BUCHAREST = "RO-B"
# CIUS-RO (BR-RO-100): a Bucharest address names its sector as the city.
SECTORS: tuple[str, ...] = tuple(f"SECTOR{n}" for n in range(1, 7))

_PREFIXES = re.compile(r"^(judetul|judet|jud\.?|municipiul|mun\.?)\s+")
_SECTOR = re.compile(r"^sector(?:ul)?\s*-?\s*([1-6])$")


def _plain(text: str) -> str:
    """Lower case without diacritics (ș and ş, ț and ţ alike), hyphens as spaces, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(letters.replace("-", " ").split())


_BY_NAME: dict[str, str] = {_plain(name): code for code, name in COUNTIES.items()}
_BY_NAME.update({"bucharest": BUCHAREST, "bucuresti": BUCHAREST})


def county_code(text: str | None) -> str | None:
    """The ISO 3166-2:RO code of a county named in `text`, or None.

    'Cluj', 'judetul Cluj', 'CLUJ', 'Județul Cluj' -> 'RO-CJ'; 'Bucuresti', 'București',
    'Bucharest', 'Municipiul București' -> 'RO-B'; a code ('RO-CJ', 'ro-cj', 'CJ') passes through.
    """
    if not text or not text.strip():
        return None
    plain = _plain(text)
    code = "".join(text.split()).upper()
    if code in COUNTIES:
        return code
    if "RO-" + code in COUNTIES:
        return "RO-" + code
    return _BY_NAME.get(_PREFIXES.sub("", plain))


def sector(text: str | None) -> str | None:
    """'Sector 3', 'sector3', 'SECTOR3', 'Sectorul 3' -> 'SECTOR3'; anything else None."""
    match = _SECTOR.match(_plain(text or ""))
    return f"SECTOR{match.group(1)}" if match else None


def county_name(code: str | None) -> str | None:
    """The county's name for an ISO code ('RO-CJ' -> 'Cluj'); other text is returned as it is."""
    return COUNTIES.get(code or "", code)


def sector_label(city: str | None) -> str | None:
    """'SECTOR3' -> 'Sector 3' for display; any other city as it is."""
    if city and city in SECTORS:
        return f"Sector {city[-1]}"
    return city


def init_app(app) -> None:
    """The |region_name and |city_name filters: an address shows 'Cluj', 'Sector 3', not codes."""
    app.jinja_env.filters["region_name"] = county_name
    app.jinja_env.filters["city_name"] = sector_label
