"""Time expressions in a recall query, as a range to prefer memories from.

"What did I do last May?", "two weeks ago", "in 2023", "before June 2023", "since last summer":
the first expression found is resolved against ``now`` (the current time, or the conversation's)
with ``nova.memory.dates.resolve_expression``, the resolver extraction uses on transcript entries.
"before" / "until" open the range to the past, "after" / "since" to the future.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from nova.memory.dates import TimeRange, latest_year_of, month_number, month_of, resolve_expression

__all__ = ["QueryTime", "query_time"]

_MONTHS = "|".join(m for m in calendar.month_name[1:])
_DAYS = "|".join(calendar.day_name)
_NUM = r"\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|a few|a couple of|several"
_EXPRESSION = re.compile(
    rf"""\b(?:
        (?P<part>early|mid|late)[\s-]+(?P<pmonth>{_MONTHS})(?:\s+(?P<pyear>(?:19|20)\d\d))?
      | (?P<rel>last|this|next|past)\s+(?P<rmonth>{_MONTHS})
      | (?:last|this|next|past)\s+(?:weekend|week|month|year|spring|summer|fall|autumn|winter|{_DAYS})
      | (?:{_NUM})\s+(?:day|week|month|year)s?\s+ago
      | the\s+day\s+before\s+yesterday|yesterday|today|last\s+night
      | (?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d\d)?
      | \d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})(?:,?\s+(?:19|20)\d\d)?
      | (?P<month>{_MONTHS})(?:\s+(?:of\s+)?(?P<myear>(?:19|20)\d\d))?
      | (?P<year>(?:19|20)\d\d)
    )\b""",
    re.IGNORECASE | re.VERBOSE,
)
_OPEN_BEFORE = re.compile(r"\b(?:before|until|till|prior\s+to|by)\s+(?:the\s+)?$", re.IGNORECASE)
_OPEN_AFTER = re.compile(r"\b(?:after|since)\s+(?:the\s+)?$", re.IGNORECASE)
_PREPOSITION = re.compile(r"\b(?:in|of|during|since|before|after|until|by|from|last|this|next)\s+$", re.IGNORECASE)


@dataclass(frozen=True)
class QueryTime:
    """A half-open UTC range ``[start, end)``; ``start``/``end`` None when open on that side."""

    expression: str
    start: datetime | None
    end: datetime | None

    def label(self) -> str:
        fmt = lambda d: d.date().isoformat()
        return f"{self.expression!r} → [{fmt(self.start) if self.start else '…'}, {fmt(self.end) if self.end else '…'})"


def _at(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.utc)


def _resolve(m: re.Match, base: date) -> TimeRange | None:
    if m.group("part"):
        month = month_number(m.group("pmonth"))
        year = int(m.group("pyear")) if m.group("pyear") else latest_year_of(month, base)
        whole = month_of(year, month)
        third = {"early": (1, 10), "mid": (11, 20), "late": (21, whole.end.day)}[m.group("part").lower()]
        return TimeRange(date(year, month, third[0]), date(year, month, third[1]), "day")
    if m.group("rel"):
        month, rel = month_number(m.group("rmonth")), m.group("rel").lower()
        if rel in ("last", "past"):
            year = base.year if month < base.month else base.year - 1
        elif rel == "next":
            year = base.year if month > base.month else base.year + 1
        else:
            year = base.year
        return month_of(year, month)
    if m.group("month") and not m.group("myear"):
        # "may" is a verb more often than a month: a bare month needs a capital or a preposition.
        if m.group("month") == "may" or (m.group("month") == "May" and not _PREPOSITION.search(m.string[:m.start()])):
            return None
    return resolve_expression(m.group(0), base)


def query_time(query: str, now: datetime | None = None) -> QueryTime | None:
    """The first time expression of ``query`` resolved against ``now`` (default: the current UTC time).

    Returns None when the query names no time. Never raises on odd text.
    """
    now = now or datetime.now(timezone.utc)
    base = now.date()
    for m in _EXPRESSION.finditer(query):
        found = _resolve(m, base)
        if found is None:
            continue
        start, end = _at(found.start), _at(found.end + timedelta(days=1))
        before = query[:m.start()]
        if _OPEN_BEFORE.search(before):
            start, end = None, start
        elif _OPEN_AFTER.search(before):
            start, end = (end if before.rstrip().lower().endswith("after") else start), None
        return QueryTime(m.group(0), start, end)
    return None
