"""Page tokens: a token we wrote reads back; anything else is INVALID_ARGUMENT on page_token,
never an error the caller sees as INTERNAL."""

from __future__ import annotations

import base64

import pytest

from ml_engine.market_data.domain import page_tokens
from service_runtime.errors import InvalidArgument


def forged(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("before", [1_500_000_000, -86_400])
def test_a_token_reads_back(before: int) -> None:
    assert page_tokens.decode(page_tokens.encode("EURUSD", "1h", before), "EURUSD", "1h") == before


@pytest.mark.parametrize(
    "token",
    [
        forged('{"s":"EURUSD","t":"1h","b":Infinity}'),  # int(inf): OverflowError
        forged('{"s":"EURUSD","t":"1h","b":-Infinity}'),
        forged('{"s":"EURUSD","t":"1h","b":NaN}'),
        forged('{"s":"EURUSD","t":"1h","b":1e400}'),
        forged('{"s":"EURUSD","t":"1h","b":true}'),
        forged('{"s":"EURUSD","t":"1h","b":"5"}'),
        forged('{"s":"EURUSD","t":"1h","b":99999999999999999999}'),  # past BIGINT
        forged('{"s":"EURUSD","t":"1h","b":' + "9" * 5000 + "}"),  # int() refuses so many digits
        forged("[" * 100_000 + "]" * 100_000),  # the parser's recursion
        forged("[1]"),
        forged('{"s":"EURUSD"}'),
        "not base64!",
    ],
)
def test_a_forged_token_is_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        page_tokens.decode(token, "EURUSD", "1h")
    assert [v.field for v in refused.value.violations] == ["page_token"]


def test_a_token_of_another_query_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="another symbol or timeframe"):
        page_tokens.decode(page_tokens.encode("EURUSD", "1h", 3600), "EURUSD", "4h")
