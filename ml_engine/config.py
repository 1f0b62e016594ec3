"""ML engine settings. MySQL variables follow the seed's FastAPI .env table."""

from __future__ import annotations

from urllib.parse import quote_plus

from pydantic import Field

from service_runtime.config import CommonSettings

SERVICE_VERSION = "0.1.0"


class MlEngineSettings(CommonSettings):
    ml_grpc_port: int = Field(50052, description="ML engine gRPC port")
    ml_metrics_port: int = Field(9102, description="ML engine Prometheus /metrics port (0: off)")
    mysql_host: str = Field("", description="MySQL/MariaDB host of the market data store; empty: SQLite")
    mysql_port: int = Field(3306, description="MySQL port")
    mysql_database: str = Field("trading_trading", description="MySQL database of market data")
    mysql_user: str = Field("trading_user", description="MySQL user")
    mysql_password: str = Field("", description="MySQL password (secret)")
    market_sqlite_path: str = Field(
        ".data/market.db", description="SQLite file of market data when MYSQL_HOST is empty"
    )
    model_path: str = Field("./models", description="model repository (Triton layout)")
    model_version: str = Field("1.0.0", description="default model version")
    load_sample_data: bool = Field(
        True, description="import the bundled EURUSD (1h) and GOOG (1d) samples at start if not stored yet"
    )
    backtest_time_budget_s: float = Field(
        20.0, gt=0, le=30, description="backtests estimated to take longer are refused up front (s)"
    )
    health_probe_timeout_ms: int = Field(2000, gt=0, le=30_000, description="deadline of each health probe (ms)")

    @property
    def market_database_url(self) -> str:
        if not self.mysql_host:
            return f"sqlite:///{self.market_sqlite_path}"
        return (
            f"mysql+pymysql://{quote_plus(self.mysql_user)}:{quote_plus(self.mysql_password)}"
            f"@{self.mysql_host}:{self.mysql_port}/{self.mysql_database}?charset=utf8mb4"
        )
