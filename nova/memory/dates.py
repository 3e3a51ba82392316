"""Relative time expressions resolved to absolute ranges against the time they were said.

"yesterday" said on 2023-05-08 → 7 May 2023; "last week" → the week of 1 May 2023.
Our own rules cover what dateparser does not ("last weekend", "a few weeks ago",
"this summer", "last year"); dateparser handles the rest ("last Friday", "May 7", "3 days ago").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

__all__ = ["TimeRange", "resolve_expression", "format_day", "month_of", "month_number", "latest_year_of", "parse_iso_time", "is_duration", "lasting_since"]


@dataclass(frozen=True)
class TimeRange:
    start: date
    end: date  # inclusive
    granularity: str  # day | weekend | week | month | season | year
    since: bool = False  # a state that began then and lasts ("had them for 3 years" → since 2019)

    def label(self) -> str:
        if self.since:
            return "since " + replace(self, since=False).label()
        if self.granularity == "day":
            return format_day(self.start)
        if self.granularity == "weekend":
            return f"the weekend of {format_day(self.start)}"
        if self.granularity == "week":
            return f"the week of {format_day(self.start)}"
        if self.granularity == "month":
            return f"{calendar.month_name[self.start.month]} {self.start.year}"
        if self.granularity == "season":
            return f"{_season_name(self.start)} {self.start.year}"
        return str(self.start.year)


def parse_iso_time(value: str) -> datetime:
    """An ISO 8601 date or time ("2026-05-01", "2026-05-01T12:00Z", "...+02:00") as an aware datetime,
    UTC when it names no offset. The one parser of ISO times (transcript timestamps, CLI options).

    Raises:
        ValueError: not ISO 8601.
    """
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_day(d: date | datetime) -> str:
    return f"{d.day} {calendar.month_name[d.month]} {d.year}"


_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple": 2, "a couple": 2,
    "couple of": 2, "a couple of": 2, "few": 3, "a few": 3, "several": 3,
}
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}


def _season_name(d: date) -> str:
    return {3: "spring", 6: "summer", 9: "autumn", 12: "winter"}.get(d.month, "season")


def _week_of(d: date) -> TimeRange:
    monday = d - timedelta(days=d.weekday())
    return TimeRange(monday, monday + timedelta(days=6), "week")


def month_number(name: str) -> int:
    """1-12 for an English month name, any case."""
    return [m.lower() for m in calendar.month_name].index(name.lower())


def latest_year_of(month: int, base: date) -> int:
    """The year of the latest ``month`` not after ``base`` ("May" said in March 2024 is May 2023)."""
    return base.year if month <= base.month else base.year - 1


def month_of(year: int, month: int) -> TimeRange:
    last = calendar.monthrange(year, month)[1]
    return TimeRange(date(year, month, 1), date(year, month, last), "month")


def _add_months(d: date, months: int) -> date:
    m = d.month - 1 + months
    return date(d.year + m // 12, m % 12 + 1, 1)


def _season(year: int, start_month: int) -> TimeRange:
    start = date(year, start_month, 1)
    end = _add_months(start, 3) - timedelta(days=1)
    return TimeRange(start, end, "season")


_COUNT = (r"(?P<n>\d+|a couple of|a couple|couple of|a few|few|several|an?|one|two|three|four|five|"
          r"six|seven|eight|nine|ten)\s+(?P<unit>day|week|month|year)s?")
_AGO = re.compile(rf"^{_COUNT}\s+ago$")
# "about 10 years now", "almost 3 months", "over a year": an approximate length still dates the start.
_ABOUT = r"(?:(?:about|around|almost|nearly|over|roughly|approximately|at least|more than|close to|just over)\s+)?"
_DURATION = re.compile(rf"^(?:for\s+)?(?:the\s+(?:past|last)\s+)?{_ABOUT}{_COUNT}(?:\s+now)?$")


def is_duration(expr: str) -> bool:
    """A length of time ("3 years", "a few months"), not a point in it: resolved as a date it would
    be wrong ("for 3 weeks" is not 2 January)."""
    return _DURATION.match(expr.lower().strip().rstrip(".,!?")) is not None


def lasting_since(expr: str, said_at: datetime | date) -> TimeRange | None:
    """When a state that has lasted ``expr`` until ``said_at`` began: "3 years" said in January 2022 →
    since 2019 (``since=True``); None when ``expr`` is not a length of time (``is_duration``)."""
    m = _DURATION.match(expr.lower().strip().rstrip(".,!?"))
    if m is None:
        return None
    base = said_at.date() if isinstance(said_at, datetime) else said_at
    return replace(_back(m.group("n"), m.group("unit"), base), since=True)


def _back(count: str, unit: str, base: date) -> TimeRange:
    """The day, week, month or year ``count`` ``unit``s before ``base`` ("two weeks": that week)."""
    n = int(count) if count.isdigit() else _NUMBERS.get(count, 1)
    if unit == "day":
        d = base - timedelta(days=n)
        return TimeRange(d, d, "day")
    if unit == "week":
        return _week_of(base - timedelta(weeks=n))
    if unit == "month":
        d = _add_months(base, -n)
        return month_of(d.year, d.month)
    return TimeRange(date(base.year - n, 1, 1), date(base.year - n, 12, 31), "year")


def _rules(expr: str, base: date, ahead: bool) -> TimeRange | None:
    e = expr.lower().strip().rstrip(".,!?")
    e = re.sub(r"^(?:on|in|during|over|from|since|around|about|back)\s+", "", e)
    e = re.sub(r"^the\s+", "", e)
    one_day = {"today": 0, "tonight": 0, "this morning": 0, "this afternoon": 0,
               "this evening": 0, "yesterday": -1, "last night": -1, "tomorrow": 1,
               "day before yesterday": -2, "the day before yesterday": -2}
    if e in one_day:
        d = base + timedelta(days=one_day[e])
        return TimeRange(d, d, "day")
    if e == "weekend" and ahead:  # "any plans for the weekend?": the coming one
        e = "this weekend"
    if e in ("last weekend", "past weekend", "weekend"):
        sat = base - timedelta(days=(base.weekday() - 5) % 7 or 7)
        return TimeRange(sat, sat + timedelta(days=1), "weekend")
    if e in ("this weekend", "next weekend", "coming weekend"):
        sat = base + timedelta(days=(5 - base.weekday()) % 7)
        if e == "next weekend" and base.weekday() < 5:
            sat += timedelta(days=7)
        return TimeRange(sat, sat + timedelta(days=1), "weekend")
    if e in ("last week", "past week", "previous week"):
        return _week_of(base - timedelta(days=7))
    if e in ("this week",):
        return _week_of(base)
    if e in ("next week", "coming week"):
        return _week_of(base + timedelta(days=7))
    if e in ("last month", "past month", "previous month"):
        d = _add_months(base, -1)
        return month_of(d.year, d.month)
    if e == "this month":
        return month_of(base.year, base.month)
    if e == "next month":
        d = _add_months(base, 1)
        return month_of(d.year, d.month)
    if e in ("last year", "past year", "previous year"):
        return TimeRange(date(base.year - 1, 1, 1), date(base.year - 1, 12, 31), "year")
    if e == "this year":
        return TimeRange(date(base.year, 1, 1), date(base.year, 12, 31), "year")
    if e == "next year":
        return TimeRange(date(base.year + 1, 1, 1), date(base.year + 1, 12, 31), "year")
    m = re.fullmatch(r"(last|this|next|past)\s+(spring|summer|fall|autumn|winter)", e)
    if m:
        start_month = _SEASONS[m.group(2)]
        year = base.year
        current = date(year, start_month, 1) <= base
        if m.group(1) in ("last", "past"):
            year = year if current and base >= _add_months(date(year, start_month, 1), 3) else year - 1
        elif m.group(1) == "next":
            year = year + 1 if current else year
        return _season(year, start_month)
    m = _AGO.match(e)
    if m:
        return _back(m.group("n"), m.group("unit"), base)
    m = re.fullmatch(r"(last|this|past)\s+(" + "|".join(_WEEKDAYS) + ")", e)
    if m:
        target = _WEEKDAYS[m.group(2)]
        back = (base.weekday() - target) % 7 or 7
        if m.group(1) == "this" and target >= base.weekday():
            back = -(target - base.weekday())
        d = base - timedelta(days=back)
        return TimeRange(d, d, "day")
    return None


@lru_cache(maxsize=1)
def _dateparser():
    import dateparser  # imported lazily: it takes a moment to load its language data

    return dateparser


_PLAIN_YEAR = re.compile(r"^(?:in\s+)?(19\d{2}|20\d{2})$")
_MONTH_ONLY = re.compile(r"^(?:in\s+)?(" + "|".join(m.lower() for m in calendar.month_name[1:]) + r")(?:\s+(\d{4}))?$")


def resolve_expression(expr: str, said_at: datetime | date, ahead: bool = False) -> TimeRange | None:
    """Resolve a time expression against the moment it was said; None when unresolvable.

    Args:
        expr: the expression as written ("yesterday", "last weekend", "two weeks ago").
        said_at: when the sentence was said (the transcript entry's time).
        ahead: the sentence speaks of what is to come ("I'll call her on Friday", "any plans for the
            weekend?"): an expression that names no direction ("Friday", "the weekend", "in May")
            is the next one, not the last. Expressions that name one ("last Friday") keep it.
    """
    base = said_at.date() if isinstance(said_at, datetime) else said_at
    found = _rules(expr, base, ahead)
    if found is not None:
        return found
    e = expr.lower().strip()
    m = _PLAIN_YEAR.match(e)
    if m:
        y = int(m.group(1))
        return TimeRange(date(y, 1, 1), date(y, 12, 31), "year")
    m = _MONTH_ONLY.match(e)
    if m:
        month = month_number(m.group(1))
        year = int(m.group(2)) if m.group(2) else latest_year_of(month, base)
        if ahead and not m.group(2) and month < base.month:
            year += 1
        return month_of(year, month)
    if not re.search(r"\d|day|week|month|year|ago|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
                     r"january|february|march|april|may|june|july|august|september|october|november|december", e):
        return None
    try:
        parsed = _dateparser().parse(
            expr,
            languages=["en"],
            settings={
                "RELATIVE_BASE": datetime(base.year, base.month, base.day, 12, 0),
                "PREFER_DATES_FROM": "future" if ahead else "past",
                "RETURN_AS_TIMEZONE_AWARE": False,
            },
        )
    except Exception:  # dateparser raises assorted errors on odd input
        return None
    if parsed is None or abs(parsed.year - base.year) > 100:
        return None
    day = parsed.date()
    if not re.search(r"\b\d{4}\b|ago|last|next|yesterday|tomorrow", e):
        # "March 14" names the occurrence nearest to when it was said, past or future.
        candidates = []
        for y in (base.year - 1, base.year, base.year + 1):
            try:
                candidates.append(day.replace(year=y))
            except ValueError:  # 29 February
                pass
        day = min(candidates, key=lambda d: abs((d - base).days))
    return TimeRange(day, day, "day")
