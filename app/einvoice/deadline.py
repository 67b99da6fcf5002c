"""When an e-invoice is late: ANAF wants it within five working days of the document's date.

Working days are Monday to Friday except Romania's public holidays (Labour Code, art. 139),
the Orthodox Easter and Pentecost among them.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

#: Working days ANAF allows from the document's date to its report (Law 296/2023, art. 10).
REPORT_WITHIN = 5

_FIXED = ((1, 1), (1, 2), (1, 6), (1, 7), (1, 24), (5, 1), (6, 1), (8, 15), (11, 30), (12, 1), (12, 25), (12, 26))


def orthodox_easter(year: int) -> date:
    """Easter Sunday of the Orthodox church (the Julian computus, in the Gregorian calendar, 1900-2099)."""
    d = (19 * (year % 19) + 15) % 30
    e = (2 * (year % 4) + 4 * (year % 7) - d + 34) % 7
    month, day = divmod(d + e + 114, 31)
    return date(year, month, day + 1) + timedelta(days=13)


@cache
def public_holidays(year: int) -> frozenset[date]:
    easter = orthodox_easter(year)
    movable = (-2, 0, 1, 49, 50)  # Good Friday, Easter Sunday and Monday, Pentecost Sunday and Monday
    return frozenset([date(year, m, d) for m, d in _FIXED] + [easter + timedelta(days=n) for n in movable])


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year)


def report_deadline(issued: date, working_days: int = REPORT_WITHIN) -> date:
    """The last day to report a document dated `issued`: the fifth working day after it."""
    day = issued
    while working_days:
        day += timedelta(days=1)
        working_days -= is_working_day(day)
    return day
