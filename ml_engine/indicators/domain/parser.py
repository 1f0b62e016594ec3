"""The indicator request grammar shared by REST (`?indicators=...`) and gRPC (`repeated string indicators`).

Each element of the repeated field is a comma-separated list, so these are all equivalent:

    ["rsi:14", "macd:12,26,9", "bbands:20,2"]
    ["rsi:14,macd:12,26,9,bbands:20,2"]
    ["rsi", "macd", "bbands"]                    (defaults fill omitted parameters)

Tokens are split on commas and trimmed. A token starting with a letter begins an indicator,
`name` or `name:p1`; a purely numeric token continues the previous indicator's parameters.
Omitted trailing parameters take their defaults. Names are case-insensitive.

At most MAX_INDICATORS_PER_REQUEST indicators as written (counted before merging, so parsing
stays cheap whatever the client sends). Identical requests (after defaults,
e.g. `rsi` and `rsi:14`) are merged, keeping the first one's position; the same indicator with
different parameters is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ml_engine.indicators.domain.catalogue import IndicatorSpec, find_indicator, supported_names
from ml_engine.indicators.domain.request import (
    IndicatorRequest,
    clip,
    invalid,
    is_number,
    quote,
    resolve_request,
    unknown_indicator,
)

MAX_INDICATORS_PER_REQUEST = 20  # bounds the CPU and response size one call can ask for


@dataclass
class _Pending:
    spec: IndicatorSpec
    params: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.params.append(text)
        # Checked per token, so a long run of numbers fails at once instead of piling up.
        if len(self.params) > len(self.spec.params):
            most = len(self.spec.params)
            raise invalid(
                f"{self.spec.name}: too many parameters (max {most}), got {clip(','.join(self.params))}"
            )


def parse_indicators(values: str | Iterable[str]) -> tuple[IndicatorRequest, ...]:
    """Distinct requests in first-seen order; raises InvalidArgument on the `indicators` field."""
    elements = [values] if isinstance(values, str) else list(values)
    if not any(element.strip() for element in elements):
        raise invalid(
            "at least one indicator is required, e.g. rsi:14,macd:12,26,9; supported: "
            f"{', '.join(supported_names())}"
        )

    pending: list[_Pending] = []
    # A blank element (REST `?indicators=rsi&indicators=`) adds nothing; a blank token inside one is a typo.
    for element in (e for e in elements if e.strip()):
        for token in (t.strip() for t in element.split(",")):
            if not token:
                raise invalid(f"empty entry (stray comma?) in {quote(element.strip())}")
            if token[0].isalpha():
                pending.append(_begin(token))
                if len(pending) > MAX_INDICATORS_PER_REQUEST:
                    most = MAX_INDICATORS_PER_REQUEST
                    raise invalid(
                        f"too many indicators: at most {most} per request, {quote(token)} is one more"
                    )
            elif is_number(token):
                if not pending:
                    raise invalid(f"parameter {quote(token)} does not follow an indicator name")
                pending[-1].add(token)
            else:
                raise invalid(f"{quote(token)} is neither an indicator (name or name:param) nor a number")

    distinct: dict[str, IndicatorRequest] = {}
    for item in pending:
        request = resolve_request(item.spec.name, item.params)
        distinct.setdefault(request.key, request)
    return tuple(distinct.values())


def _begin(token: str) -> _Pending:
    """An indicator token: `name` or `name:first_param`."""
    name, colon, first = (part.strip() for part in token.partition(":"))
    spec = find_indicator(name)
    if spec is None:
        raise unknown_indicator(name)
    item = _Pending(spec)
    if colon:
        if not first:
            raise invalid(f"{spec.name}: missing parameter after ':' in {quote(token)}")
        item.add(first)
    return item
