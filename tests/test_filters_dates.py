from datetime import date, datetime

import pytest

from nova.config import FilterSettings
from nova.memory.dates import resolve_expression
from nova.ingest.filters import SessionFilter


@pytest.mark.parametrize("key,allowed", [
    ("agent:main:main", True),
    ("agent:main:telegram:direct:12345", True),
    ("agent:ops:whatsapp:acct2:direct:+4915550001", True),
    ("agent:main:direct:bob", True),
    ("agent:main:explicit:planning-2026", True),  # `openclaw agent --session-id planning-2026`
    ("agent:main:subagent:7b1e0c55", False),
    ("cron:nightly", False),
    ("agent:main:cron:nightly", False),
    ("hook:0f3a", False),
    ("agent:main:telegram:group:-100777", False),
    ("agent:main:discord:channel:42", False),
    ("something:else", False),
])
def test_default_session_filters(key, allowed):
    assert SessionFilter(FilterSettings()).allows(key) is allowed


def test_groups_can_be_included_and_skips_are_counted():
    f = SessionFilter(FilterSettings(include_groups=True))
    assert f("agent:main:telegram:group:-1") is True
    assert f("agent:main:subagent:x") is False
    assert f("hook:1") is False
    assert f.counts == {"exclude *:subagent:*": 1, "exclude hook:*": 1}


@pytest.mark.parametrize("expr,said,expected", [
    ("yesterday", datetime(2023, 5, 8, 13, 56), "7 May 2023"),
    ("last night", datetime(2023, 5, 8), "7 May 2023"),
    ("last week", datetime(2023, 5, 8), "the week of 1 May 2023"),
    ("last weekend", datetime(2023, 5, 8), "the weekend of 6 May 2023"),
    ("two weeks ago", datetime(2023, 5, 8), "the week of 24 April 2023"),
    ("3 days ago", datetime(2023, 5, 8), "5 May 2023"),
    ("last Friday", datetime(2023, 5, 8), "5 May 2023"),
    ("last year", datetime(2023, 5, 8), "2022"),
    ("this summer", datetime(2023, 5, 8), "summer 2023"),
    ("next month", datetime(2023, 12, 20), "January 2024"),
    ("March 14", datetime(2026, 3, 2), "14 March 2026"),
    ("December 20", datetime(2026, 1, 5), "20 December 2025"),
])
def test_relative_dates_resolve_against_when_they_were_said(expr, said, expected):
    assert resolve_expression(expr, said).label() == expected


def test_unresolvable_expressions_return_none():
    assert resolve_expression("recently", date(2023, 5, 8)) is None
    assert resolve_expression("the other day maybe", date(2023, 5, 8)) is None
