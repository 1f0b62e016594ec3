"""ML engine settings. MySQL variables follow the seed's FastAPI .env table."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote_plus

from pydantic import Field

from service_runtime import defaults
from service_runtime.config import CommonSettings, PlanRateLimitSettings

SERVICE_VERSION = "0.1.0"


class MlEngineSettings(PlanRateLimitSettings, CommonSettings):
    ml_grpc_port: int = Field(defaults.ML_GRPC_PORT, description="ML engine gRPC port")
    ml_metrics_port: int = Field(
        defaults.ML_METRICS_PORT, description="ML engine Prometheus /metrics port (0: off)"
    )
    mysql_host: str = Field("", description="MySQL/MariaDB host of the market data store; empty: SQLite")
    mysql_port: int = Field(3306, description="MySQL port")
    mysql_database: str = Field("trading_trading", description="MySQL database of market data")
    mysql_user: str = Field("trading_user", description="MySQL user")
    mysql_password: str = Field("", description="MySQL password (secret)")
    market_sqlite_path: str = Field(
        ".data/market.db", description="SQLite file of market data when MYSQL_HOST is empty"
    )
    model_path: str = Field(
        "ml_engine/model_repository",
        description="model repository (Triton layout: <name>/<version>/model.onnx)",
    )
    ml_execution_provider: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="ONNX Runtime provider: auto (CUDA when the installed onnxruntime offers it), cpu or "
        "cuda; "
        "a CUDA session that falls back to CPU is reported DEGRADED",
    )
    ml_intra_op_threads: int = Field(
        1, ge=0, le=256, description="ONNX Runtime threads per session (0: ONNX Runtime's default, all cores)"
    )
    ml_warmup_runs: int = Field(3, ge=1, le=100, description="inference runs at load before a model is READY")
    ml_batching: bool = Field(True, description="micro-batch concurrent requests for the same model")
    ml_batch_max_size: int = Field(64, ge=1, le=4096, description="largest micro-batch")
    ml_batch_max_delay_ms: float = Field(
        20.0,
        ge=0,
        le=1000,
        description="longest a batch waits for requests announced as on their way to it (ms; a batch "
        "never waits when none is)",
    )
    ml_model_watch_interval_s: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="how often the model repository is checked for new versions (s; 0: off)",
    )
    ml_replay_speed: float = Field(
        1800.0,
        gt=0,
        description="prediction streams replay stored bars this many times faster than real time",
    )
    ml_record_predictions: bool = Field(
        True, description="record each distinct served prediction for scoring"
    )
    ml_prediction_cache_size: int = Field(
        1024,
        ge=0,
        le=1_000_000,
        description="latest-bar predictions (per symbol and horizon) and signals (per symbol and "
        "timeframe) kept, each computed once per bar and model versions (LRU; 0: off, every request "
        "computes)",
    )
    ml_bar_poll_interval_s: float = Field(
        1.0,
        ge=0,
        le=3600,
        description="how often the last stored bar and bar revision of every symbol are read, to see bars "
        "other processes import or correct (s; 0: at start and after this engine's own imports only)",
    )
    ml_allocator_keep_mib: int = Field(
        64,
        ge=0,
        le=65_536,
        description="freed memory the engine keeps for reuse instead of giving it back to the OS "
        "(glibc malloc; large arrays then reuse warm pages instead of faulting in fresh ones: "
        "service_runtime/allocator.py; 0: glibc's defaults)",
    )
    ml_bar_cache_max_bars: int = Field(
        1_000_000,
        ge=0,
        le=100_000_000,
        description="most recent stored bars kept in memory for history, indicators, backtests and "
        "predictions (about 48 bytes each; per symbol, LRU, refreshed by imports and new bars; 0: off)",
    )
    ml_indicator_cache_mib: int = Field(
        64,
        ge=0,
        le=65_536,
        description="indicator replies kept until their symbol's next bar or import, one per symbol, "
        "timeframe, indicators and window (MiB, LRU; 0: off, and off with the bar cache)",
    )
    ml_history_cache_mib: int = Field(
        64,
        ge=0,
        le=65_536,
        description="history replies (GetHistory and its REST JSON) kept until their symbol's next bar or "
        "import, one per symbol, timeframe, window and form (MiB, LRU; 0: off, and off with the bar cache)",
    )
    ml_score_interval_s: float = Field(
        30.0,
        ge=0,
        le=86400,
        description="how often recorded predictions whose horizon passed are scored (s; 0: off)",
    )
    ml_auto_promote: bool = Field(
        False,
        description="promote a shadow model version automatically (audited) when, after a scoring pass, "
        "it is significantly better on live scores and worse on no metric (Diebold-Mariano test)",
    )
    ml_auto_promote_min_scored: int = Field(
        200,
        ge=1,
        description="scored prediction pairs (active and shadow, same bars) a comparison needs before it "
        "reaches a verdict (automatic promotion included)",
    )
    ml_auto_promote_p_value: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="p-value below which a Diebold-Mariano test counts as significant (comparisons and "
        "automatic promotion)",
    )
    ml_adaptive_conformal: bool = Field(
        True,
        description="adapt the served intervals' quantiles to the latest live scores (needs the scorer: "
        "ML_SCORE_INTERVAL_S > 0; off: the manifest's quantiles)",
    )
    ml_adaptive_window: int = Field(
        100, ge=1, le=10_000, description="latest live scores per series an adapted quantile is computed from"
    )
    ml_adaptive_prior_weight: float = Field(
        25.0,
        ge=0,
        le=100_000,
        description="how many live scores the manifest's quantile counts as in the blend with the live one",
    )
    ml_adaptive_min_scores: int = Field(
        20, ge=1, le=10_000, description="fewer live scores than this: the manifest's quantile alone"
    )
    ml_adaptive_max_shift: float = Field(
        1.5,
        ge=0,
        le=100,
        description="an adapted quantile stays within this many ATRs of the manifest's",
    )
    ml_signal_commission: float = Field(
        0.0001,
        ge=0,
        lt=0.1,
        description="commission a signal's expected value is net of: fraction of the traded value, at "
        "entry and again at exit (like a backtest's commission)",
    )
    ml_signal_slippage: float = Field(
        0.0001,
        ge=0,
        lt=0.1,
        description="slippage a signal's expected value is net of: fraction of the entry price (like a "
        "backtest's slippage)",
    )
    load_sample_data: bool = Field(
        True, description="import the bundled EURUSD (1h) and GOOG (1d) samples at start if not stored yet"
    )
    backtest_time_budget_s: float = Field(
        20.0, gt=0, le=30, description="backtests estimated to take longer are refused up front (s)"
    )
    ml_training_time_budget_s: float = Field(
        1800.0,
        gt=0,
        le=86400,
        description="wall-time budget of one training run (TrainingService); over it the worker is stopped "
        "and the run FAILED (s)",
    )
    ml_training_cpu_limit_s: int = Field(
        3600, gt=0, description="CPU-time limit (RLIMIT_CPU) of a training worker process (s)"
    )
    ml_training_threads: int = Field(
        1, ge=1, le=64, description="torch / XGBoost / OpenMP threads of a training worker process"
    )
    ml_training_nice: int = Field(
        10, ge=0, le=19, description="how much lower a training worker's CPU priority is (os.nice)"
    )
    ml_training_cancel_grace_s: float = Field(
        5.0, gt=0, le=60, description="after a cancel's SIGTERM, seconds before the worker gets SIGKILL"
    )
    health_probe_timeout_ms: int = Field(
        2000, gt=0, le=30_000, description="deadline of each health probe (ms)"
    )

    @property
    def market_database_url(self) -> str:
        if not self.mysql_host:
            return f"sqlite:///{self.market_sqlite_path}"
        return (
            f"mysql+pymysql://{quote_plus(self.mysql_user)}:{quote_plus(self.mysql_password)}"
            f"@{self.mysql_host}:{self.mysql_port}/{self.mysql_database}?charset=utf8mb4"
        )
