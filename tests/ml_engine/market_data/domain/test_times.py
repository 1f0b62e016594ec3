"""Times users send: only ASCII digits count as epoch seconds, and every time taken in fits a
google.protobuf.Timestamp (0001-01-01 to 9999-12-31); a request field out of it is INVALID_ARGUMENT
naming the field (backtests' start_date and end_date parse through here too)."""

from __future__ import annotations

import pytest

from ml_engine.market_data.domain.times import MAX_TIME, MIN_TIME, parse_request_time, parse_time
from service_runtime.errors import InvalidArgument


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1500000000", 1_500_000_000),
        (" -86400 ", -86_400),
        ("1969-12-31", -86_400),
        ("2017-07-14T02:40:00Z", 1_500_000_000),
        ("2017-07-14 04:40:00+02:00", 1_500_000_000),
        ("0001-01-01", MIN_TIME),
        ("9999-12-31T23:59:59Z", MAX_TIME),
        (str(MIN_TIME), MIN_TIME),
        (str(MAX_TIME), MAX_TIME),
    ],
)
def test_times_in_the_timestamp_range_parse(text: str, seconds: int) -> None:
    assert parse_time(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "²",  # str.isdigit() took these, then int() refused them (INTERNAL)
        "¹²³",
        "٣",  # an Arabic-Indic digit: a decimal digit, but not ASCII
        "--5",
        "",
        "yesterday",
        "99999999999999999999",  # past BIGINT: SQLite's driver overflowed (INTERNAL)
        "9" * 5000,  # int() refuses this many digits
        "-" + "9" * 30,
        str(MAX_TIME + 1),
        str(MIN_TIME - 1),
        "9999-12-31T23:59:59-01:00",  # year 10000 in UTC
        "0001-01-01T00:00:00+01:00",  # year 0 in UTC
    ],
)
def test_non_times_and_times_outside_the_range_do_not_parse(text: str) -> None:
    assert parse_time(text) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [("²", "is not a time"), ("99999999999999999999", "is not between 0001-01-01 and 9999-12-31")],
)
def test_a_request_time_that_does_not_parse_names_its_field(text: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_request_time(text, "backtest.start_date")
    (violation,) = refused.value.violations
    assert violation.field == "backtest.start_date" and reason in violation.description
    assert parse_request_time("  ", "end") is None
