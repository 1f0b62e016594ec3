"""What the services check of each request field, said once, for the API reference.

The services validate in their domain code (and answer INVALID_ARGUMENT naming the field); proto3
has no way to say "1 to 200" or "E.164" that the OpenAPI generator could read. This table says it
in JSON Schema terms, keyed by the proto field, and `gateway/openapi.py` merges it into the schema
of every request that carries the field, so that the reference (`/api/docs`) and clients generated
from it, the contract fuzzer among them (tests/e2e/test_contract_fuzzing.py), know what is valid.

The table is held to the services by tests/e2e/test_field_rules.py: for every rule it sends, through
Envoy, a value just outside it (`outside`, or one derived from the bounds) and expects a 400 naming
that field; for every required field, a request without it. A rule the services do not enforce
fails there. Keys: `<package>.<Message>.<field>` with proto names; values use the OpenAPI 3.0
dialect of JSON Schema (boolean exclusiveMinimum / exclusiveMaximum).

Add a rule here when a handler or the domain gains a check on a request field.
"""

from __future__ import annotations

from typing import Any

Rule = dict[str, Any]

# Key of the value a test sends to see the rule enforced, when the bounds alone do not give one.
OUTSIDE = "x-outside"

_IDENTITY = "trading.identity.v1"
_MARKET = "trading.market.v1"
_ML = "trading.ml.v1"
_EDU = "trading.education.v1"

# Not blank: the services strip text and answer "is required" for what is left empty.
_PRESENT = r"\S"
# No control characters (line breaks included), as display names and ids are checked.
_NO_CONTROLS = r"^[^\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$"
_TOKEN: Rule = {"type": "string", "minLength": 1, "maxLength": 512, "pattern": _PRESENT}
_EMAIL: Rule = {
    "type": "string",
    "format": "email",
    "maxLength": 254,
    "example": "ada@example.com",
    OUTSIDE: "no-at-sign",
}
_PASSWORD_IN: Rule = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": _PRESENT}
_NEW_PASSWORD: Rule = {
    "type": "string",
    "minLength": 12,
    "maxLength": 128,
    "example": "correct horse battery staple",
}
_E164: Rule = {"type": "string", "pattern": r"^\+[1-9][0-9]{7,14}$", "example": "+34600111222"}
_CODE: Rule = {"type": "string", "minLength": 1, "maxLength": 32, "pattern": _PRESENT}
_SYMBOL: Rule = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$",
    "example": "EURUSD",
    OUTSIDE: "EUR USD!",
}
# RFC 3339 or a plain date (UTC); the services also take "YYYY-MM-DD HH:MM[:SS]" and epoch seconds.
_TIME: Rule = {
    "type": "string",
    "pattern": r"^((19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?)?$",
    "example": "2018-01-09",
    OUTSIDE: "someday",
}
TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "4h", "1d")
_TIMEFRAME: Rule = {"type": "string", "enum": ["", *TIMEFRAMES], OUTSIDE: "2h"}
_NAME_FILTER: Rule = {"type": "string", "maxLength": 64}
_TAG = r"^[a-z0-9][a-z0-9-]{0,31}$"
_HTTPS: Rule = {
    "type": "string",
    "pattern": r"^(https://[^\s]{1,492})?$",
    OUTSIDE: "http://example.com/a.png",
}
# An expected revision (optimistic concurrency): an int64, as JSON writes it, of at least 1.
_REVISION: Rule = {"type": "string", "pattern": r"^[1-9][0-9]{0,17}$", OUTSIDE: "0"}


def _text(least: int, most: int) -> Rule:
    """Text the services strip, then hold to `least`..`most` characters."""
    rule: Rule = {"type": "string", "maxLength": most}
    if least:
        rule.update(minLength=least, pattern=r"\S" if least == 1 else r"\S.*\S")
    return rule


def _count(minimum: int, maximum: int, *, not_one: bool = False) -> Rule:
    """An int32 in [minimum, maximum]; `not_one`: 1 is refused too (0 means the default)."""
    rule: Rule = {"type": "integer", "format": "int32", "minimum": minimum, "maximum": maximum}
    if not_one:
        rule["not"] = {"enum": [1]}
        rule[OUTSIDE] = 1
    return rule


def _fraction(*, low_open: bool, high: float, high_open: bool) -> Rule:
    rule: Rule = {"type": "number", "format": "double", "minimum": 0, "maximum": high}
    if low_open:
        rule["exclusiveMinimum"] = True
    if high_open:
        rule["exclusiveMaximum"] = True
    return rule


RULES: dict[str, Rule] = {
    # identity: AuthService
    f"{_IDENTITY}.RegisterRequest.email": _EMAIL,
    f"{_IDENTITY}.RegisterRequest.password": _NEW_PASSWORD,
    f"{_IDENTITY}.RegisterRequest.display_name": {"type": "string", "maxLength": 80, "pattern": _NO_CONTROLS},
    f"{_IDENTITY}.LoginRequest.email": _EMAIL,
    f"{_IDENTITY}.LoginRequest.password": _PASSWORD_IN,
    f"{_IDENTITY}.VerifySecondFactorRequest.challenge_token": _TOKEN,
    f"{_IDENTITY}.VerifySecondFactorRequest.totp_code": _CODE,
    f"{_IDENTITY}.VerifySecondFactorRequest.backup_code": _CODE,
    f"{_IDENTITY}.RefreshRequest.refresh_token": _TOKEN,
    f"{_IDENTITY}.LogoutRequest.refresh_token": _TOKEN,
    f"{_IDENTITY}.StartPhoneLoginRequest.phone_number": _E164,
    f"{_IDENTITY}.VerifyPhoneLoginRequest.phone_number": _E164,
    f"{_IDENTITY}.VerifyPhoneLoginRequest.code": {**_CODE, "maxLength": 16},
    f"{_IDENTITY}.VerifyEmailRequest.token": _TOKEN,
    f"{_IDENTITY}.VerifyEmailRequest.password": _PASSWORD_IN,
    f"{_IDENTITY}.ForgotPasswordRequest.email": _EMAIL,
    f"{_IDENTITY}.ResetPasswordRequest.token": _TOKEN,
    f"{_IDENTITY}.ResetPasswordRequest.new_password": _NEW_PASSWORD,
    # identity: UserService
    f"{_IDENTITY}.UpdateMeRequest.display_name": {"type": "string", "maxLength": 80, "pattern": _NO_CONTROLS},
    f"{_IDENTITY}.UpdateMeRequest.phone_number": {**_E164, "pattern": r"^(\+[1-9][0-9]{7,14})?$"},
    f"{_IDENTITY}.ChangePasswordRequest.current_password": _PASSWORD_IN,
    f"{_IDENTITY}.ChangePasswordRequest.new_password": _NEW_PASSWORD,
    f"{_IDENTITY}.DisableTotpRequest.totp_code": _CODE,
    f"{_IDENTITY}.DisableTotpRequest.backup_code": _CODE,
    f"{_IDENTITY}.ConfirmTotpRequest.code": _CODE,
    f"{_IDENTITY}.RevokeSessionRequest.session_id": {"type": "string", "maxLength": 36},
    f"{_IDENTITY}.RegenerateBackupCodesRequest.totp_code": _CODE,
    f"{_IDENTITY}.RegenerateBackupCodesRequest.backup_code": _CODE,
    f"{_IDENTITY}.UnlinkOAuthProviderRequest.provider": {
        "type": "string",
        "enum": ["facebook", "github", "google"],
        OUTSIDE: "myspace",
    },
    # identity: UserAdminService
    f"{_IDENTITY}.ListUsersRequest.query": {"type": "string", "maxLength": 254},
    f"{_IDENTITY}.ListUsersRequest.page_size": _count(0, 200),
    f"{_IDENTITY}.ListUsersRequest.page_token": {"type": "string", "maxLength": 512},
    f"{_IDENTITY}.SetUserRoleRequest.user_id": {"type": "string", "maxLength": 36, "pattern": _NO_CONTROLS},
    f"{_IDENTITY}.SetUserRoleRequest.role": {
        OUTSIDE: "ROLE_UNSPECIFIED",
        "not": {"enum": ["ROLE_UNSPECIFIED"]},
    },
    f"{_IDENTITY}.SuspendUserRequest.user_id": {"type": "string", "maxLength": 36, "pattern": _NO_CONTROLS},
    f"{_IDENTITY}.SuspendUserRequest.reason": {"type": "string", "maxLength": 500},
    f"{_IDENTITY}.SetUserPlanRequest.user_id": {"type": "string", "maxLength": 36, "pattern": _NO_CONTROLS},
    f"{_IDENTITY}.SetUserPlanRequest.plan": {"type": "string", "enum": ["free", "pro"], OUTSIDE: "gold"},
    f"{_IDENTITY}.ListAuditEventsRequest.actor_id": _NAME_FILTER,
    f"{_IDENTITY}.ListAuditEventsRequest.subject_id": _NAME_FILTER,
    f"{_IDENTITY}.ListAuditEventsRequest.action": _NAME_FILTER,
    f"{_IDENTITY}.ListAuditEventsRequest.page_size": _count(0, 500),
    f"{_IDENTITY}.ListAuditEventsRequest.page_token": {"type": "string", "maxLength": 512},
    # market: MarketDataService, IndicatorService, BacktestService
    f"{_MARKET}.GetHistoryRequest.symbol": _SYMBOL,
    f"{_MARKET}.GetHistoryRequest.limit": _count(0, 5000),
    f"{_MARKET}.GetHistoryRequest.timeframe": _TIMEFRAME,
    f"{_MARKET}.GetHistoryRequest.start": _TIME,
    f"{_MARKET}.GetHistoryRequest.end": _TIME,
    f"{_MARKET}.GetIndicatorsRequest.symbol": _SYMBOL,
    f"{_MARKET}.GetIndicatorsRequest.indicators": {
        "type": "array",
        "minItems": 1,
        "maxItems": 20,
        "items": {
            "type": "string",
            "pattern": r"^(adx|atr|bbands|cci|ema|macd|mfi|obv|rsi|sma|stoch|vwap|willr)$",
            "example": "rsi",
        },
    },
    f"{_MARKET}.GetIndicatorsRequest.timeframe": _TIMEFRAME,
    f"{_MARKET}.GetIndicatorsRequest.limit": _count(0, 100_000),
    f"{_MARKET}.GetIndicatorsRequest.end": _TIME,
    f"{_MARKET}.RunBacktestRequest.strategy": {
        "type": "string",
        "enum": ["sma_cross", "rsi_reversion", "bollinger_breakout"],
        OUTSIDE: "moon_phase",
    },
    f"{_MARKET}.RunBacktestRequest.symbol": _SYMBOL,
    f"{_MARKET}.RunBacktestRequest.start_date": _TIME,
    f"{_MARKET}.RunBacktestRequest.end_date": _TIME,
    f"{_MARKET}.RunBacktestRequest.timeframe": _TIMEFRAME,
    f"{_MARKET}.RunBacktestRequest.initial_cash": {"type": "number", "format": "double", "minimum": 0},
    f"{_MARKET}.RunBacktestRequest.commission": _fraction(low_open=False, high=0.1, high_open=True),
    f"{_MARKET}.RunBacktestRequest.slippage": _fraction(low_open=False, high=0.1, high_open=True),
    f"{_MARKET}.RunBacktestRequest.position_size": _fraction(low_open=True, high=1, high_open=False),
    f"{_MARKET}.RunBacktestRequest.stop_loss": _fraction(low_open=False, high=1, high_open=True),
    f"{_MARKET}.RunBacktestRequest.take_profit": _fraction(low_open=False, high=1, high_open=True),
    f"{_MARKET}.RunBacktestRequest.max_equity_points": _count(0, 100_000, not_one=True),
    f"{_MARKET}.RunBacktestRequest.walk_forward_splits": _count(0, 20, not_one=True),
    f"{_MARKET}.ImportBarsRequest.sample": {"type": "string", "enum": ["EURUSD", "GOOG"], OUTSIDE: "BTCUSD"},
    # ml: EngineService, ModelService, ModelPromotionService, PredictionService
    f"{_ML}.GetStatsRequest.method_prefix": {"type": "string", "maxLength": 200, "pattern": "^(/.*)?$"},
    f"{_ML}.GetStatsRequest.max_methods": _count(0, 1000),
    f"{_ML}.ActivateModelVersionRequest.version": {
        "type": "string",
        "pattern": r"^[0-9]+$",
        "example": "1",
        OUTSIDE: "",
    },
    f"{_ML}.StartShadowRequest.version": {
        "type": "string",
        "pattern": r"^[0-9]+$",
        "example": "2",
        OUTSIDE: "",
    },
    f"{_ML}.PredictRequest.symbol": _SYMBOL,
    f"{_ML}.PredictRequest.horizon": {
        "type": "string",
        "enum": ["", "all", "scalping", "intraday", "swing", "position"],
        OUTSIDE: "forever",
    },
    # Nominal coverage of the interval: a fraction or a percent of the offered ones, 0 the default (0.8).
    f"{_ML}.PredictRequest.coverage": {
        "type": "number",
        "format": "double",
        "enum": [0, 0.5, 0.8, 0.9, 0.95, 50, 80, 90, 95],
        OUTSIDE: 0.85,
    },
    f"{_ML}.GetSignalsRequest.symbol": _SYMBOL,
    f"{_ML}.GetSignalsRequest.timeframe": {"type": "string", "enum": ["", "5m", "15m", "1h"], OUTSIDE: "4h"},
    # education: AuthoringService, CatalogService, LearningService
    f"{_EDU}.CourseContent.title": {**_text(3, 200), OUTSIDE: "ab"},
    f"{_EDU}.CourseContent.slug": {
        "type": "string",
        "pattern": r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$",
        "example": "reading-candles",
        OUTSIDE: "Not A Slug",
    },
    f"{_EDU}.CourseContent.summary": _text(0, 1000),
    f"{_EDU}.CourseContent.level": {
        "not": {"enum": ["COURSE_LEVEL_UNSPECIFIED"]},
        OUTSIDE: "COURSE_LEVEL_UNSPECIFIED",
    },
    f"{_EDU}.CourseContent.tier": {
        "not": {"enum": ["COURSE_TIER_UNSPECIFIED"]},
        OUTSIDE: "COURSE_TIER_UNSPECIFIED",
    },
    f"{_EDU}.CourseContent.tags": {
        "type": "array",
        "maxItems": 10,
        # Repeated tags count once (the services drop repeats); a client sends each once.
        "uniqueItems": True,
        "items": {"type": "string", "pattern": _TAG, "example": "candles"},
    },
    f"{_EDU}.CourseContent.instructor_ids": {
        "type": "array",
        "maxItems": 10,
        "uniqueItems": True,
        "items": {"type": "string"},
    },
    f"{_EDU}.CourseContent.cover_image_url": _HTTPS,
    f"{_EDU}.CourseContent.modules": {"type": "array", "maxItems": 50},
    f"{_EDU}.UpdateCourseRequest.expected_revision": _REVISION,
    f"{_EDU}.PublishCourseRequest.expected_revision": _REVISION,
    f"{_EDU}.ArchiveCourseRequest.expected_revision": _REVISION,
    f"{_EDU}.ListAuthoredCoursesRequest.page_size": _count(0, 100),
    f"{_EDU}.SearchCoursesRequest.query": {"type": "string", "maxLength": 200},
    f"{_EDU}.SearchCoursesRequest.tag": {
        "type": "string",
        "pattern": f"^({_TAG[1:-1]})?$",
        OUTSIDE: "Not a tag",
    },
    f"{_EDU}.SearchCoursesRequest.page_size": _count(0, 50),
    f"{_EDU}.ListEnrollmentsRequest.page_size": _count(0, 100),
}

# Fields a request must carry (not blank). Exactly-one-of groups are proto oneofs: the generator
# writes them from the descriptor, and REQUIRED_ONEOFS says which of them must have a member set.
REQUIRED: dict[str, tuple[str, ...]] = {
    f"{_IDENTITY}.RegisterRequest": ("email", "password"),
    f"{_IDENTITY}.LoginRequest": ("email", "password"),
    f"{_IDENTITY}.VerifySecondFactorRequest": ("challenge_token",),
    f"{_IDENTITY}.RefreshRequest": ("refresh_token",),
    f"{_IDENTITY}.LogoutRequest": ("refresh_token",),
    f"{_IDENTITY}.StartPhoneLoginRequest": ("phone_number",),
    f"{_IDENTITY}.VerifyPhoneLoginRequest": ("phone_number", "code"),
    f"{_IDENTITY}.VerifyEmailRequest": ("token", "password"),
    f"{_IDENTITY}.ForgotPasswordRequest": ("email",),
    f"{_IDENTITY}.ResetPasswordRequest": ("token", "new_password"),
    f"{_IDENTITY}.ChangePasswordRequest": ("current_password", "new_password"),
    f"{_IDENTITY}.ConfirmTotpRequest": ("code",),
    f"{_IDENTITY}.SetUserRoleRequest": ("role",),
    f"{_IDENTITY}.SetUserPlanRequest": ("plan",),
    f"{_MARKET}.GetIndicatorsRequest": ("indicators",),
    f"{_MARKET}.RunBacktestRequest": ("strategy", "symbol"),
    f"{_ML}.ActivateModelVersionRequest": ("version",),
    f"{_ML}.StartShadowRequest": ("version",),
    f"{_EDU}.CreateCourseRequest": ("content",),
    f"{_EDU}.CourseContent": ("title", "slug", "level", "tier"),
    f"{_EDU}.UpdateCourseRequest": ("expected_revision",),
    f"{_EDU}.PublishCourseRequest": ("expected_revision",),
    f"{_EDU}.ArchiveCourseRequest": ("expected_revision",),
}
REQUIRED_ONEOFS: dict[str, tuple[str, ...]] = {
    f"{_IDENTITY}.VerifySecondFactorRequest": ("factor",),
    f"{_IDENTITY}.DisableTotpRequest": ("factor",),
    f"{_IDENTITY}.RegenerateBackupCodesRequest": ("factor",),
    f"{_MARKET}.ImportBarsRequest": ("source",),
}

# Fields required when another is set: `<message>.<field>` -> the fields that must come with it.
REQUIRED_WITH: dict[str, tuple[str, ...]] = {
    f"{_MARKET}.ImportBarsRequest.csv_content": ("symbol", "timeframe"),
}


def rule(message: str, field: str) -> Rule:
    """The schema keywords of one field of a request ({} when nothing beyond its type is checked)."""
    return {k: v for k, v in RULES.get(f"{message}.{field}", {}).items() if not k.startswith("x-")}
