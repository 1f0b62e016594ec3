"""`python -m ml_engine.training.worker --run-id ID --family F --horizon H --symbols S,T --start T0
--end T1 --folds K --repository DIR --work-dir DIR/.training-ID`: one training run of the API.

Started by the engine (ml_engine/training_runs/adapters/worker_process.py) as a child process with the
training extra; the serving process never imports this. Reads the symbols' stored bars from the
market data store (ML_TRAINING_DATABASE_URL), trains one family of one horizon walk-forward into the
work folder (a dot folder inside the repository, which the serving scan ignores), and only once
everything is written moves each model's version folder into the repository: a cancel (SIGTERM,
then SIGKILL) or a failure leaves no partial version. Progress goes to stdout as JSON lines.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from ml_engine.market_data.data.repository import get_symbol, load_bars
from ml_engine.market_data.domain.bars import Bars
from ml_engine.market_data.domain.resample import resample
from ml_engine.market_data.domain.timeframes import TIMEFRAMES
from ml_engine.models.serving.repository import MANUAL_ACTIVATION_FILE
from ml_engine.predictions.domain.horizons import HORIZONS, Horizon
from ml_engine.shared.database import MarketStore
from ml_engine.training.cards import model_card
from ml_engine.training.data import HorizonData, build_series
from ml_engine.training.export import next_version
from ml_engine.training.fitting import DEFAULT_THREADS, NetConfig
from ml_engine.training.pipeline import FAMILIES, HorizonResult, TrainConfig, train_horizon

DATABASE_URL_ENV = "ML_TRAINING_DATABASE_URL"
# Share of the progress bar before the folds (loading) and after them (evaluation, export, commit).
LOADING_PERCENT = 5.0
FOLDS_PERCENT = 80.0
STAGE_PERCENT = {"evaluating": 88.0, "exporting": 92.0, "committing": 98.0}


class Cancelled(BaseException):
    """SIGTERM: the engine cancelled the run (a BaseException, so no `except Exception` swallows it)."""


def report(stage: str, percent: float, message: str = "", **extra: Any) -> None:
    """One progress line on stdout (the engine relays it to the run's subscribers)."""
    line = {"stage": stage, "percent": round(percent, 1), "message": message, **extra}
    print(json.dumps(line), flush=True)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Cancelled


@contextlib.contextmanager
def sigterm_held() -> Iterator[None]:
    """SIGTERM waits while the version folders move (a few renames): they all move or none does.

    Its handler only notes the cancel meanwhile (a Python handler runs in the main thread whichever
    thread the signal reached, torch's and OpenMP's included, so blocking the signal in this thread
    would not hold it). Once every folder has moved the run is done: a cancel that came meanwhile,
    or comes now, is too late to undo it, so SIGTERM is ignored from then on and the worker reports
    done, never cancelled, for versions already in the repository. When the move fails, the
    worker's handler is back and a cancel that waited is delivered to it."""
    requested: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: requested.append(signum))
    try:
        yield
    except BaseException:
        # None: a handler not set from Python, which cannot be put back; the default stands in.
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        if requested:
            signal.raise_signal(signal.SIGTERM)
        raise
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def horizon_bars(store: MarketStore, symbol: str, horizon: Horizon, start: int, end: int) -> Bars:
    """`symbol`'s stored bars in [start, end), resampled to the horizon's timeframe (complete bars)."""
    with store.engine.connect() as conn:
        stored = get_symbol(conn, symbol)
        if stored is None:
            raise ValueError(f"symbol {symbol} is not in the market data store")
        raw = load_bars(conn, symbol, stored.base_timeframe, start=start, end=end)
    bars = resample(raw, TIMEFRAMES[stored.base_timeframe], TIMEFRAMES[horizon.timeframe])
    return bars if len(bars) == 0 or bars.last_complete else bars.slice(0, len(bars) - 1)


def load_data(url: str, symbols: list[str], horizon: Horizon, start: int, end: int) -> HorizonData:
    store = MarketStore(url)
    try:
        series = [build_series(s, horizon_bars(store, s, horizon, start, end), horizon) for s in symbols]
    finally:
        store.close()
    return HorizonData(horizon, series, synthetic=False)


def write_cards(work: Path, result: HorizonResult, seconds: float, run_id: str) -> None:
    """Each new version's card (README.md in its version folder), with the run that made it."""
    for name, meta in result.metadata.items():
        report_ = result.reports[name.removeprefix(f"{result.horizon}_")]
        card = model_card(meta, report_, result, seconds)
        card += (
            "\n## Training run\n\n"
            f"Trained by training run `{run_id}` (TrainingService), on {', '.join(result.symbols)}; "
            "not activated: it waits in shadow until an admin activates it (ActivateModelVersion).\n"
        )
        version_dir = work / name / meta.version
        (version_dir / "README.md").write_text(card)
        (version_dir / MANUAL_ACTIVATION_FILE).write_text(f"{run_id}\n")


def commit(work: Path, repository: Path, version: str) -> list[str]:
    """Moves each model's finished version folder from `work` into `repository` (renames on one file
    system); on any error the ones already moved go back. Returns the model names."""
    names = sorted(p.name for p in work.iterdir() if (p / version).is_dir())
    moved: list[tuple[Path, Path]] = []
    with sigterm_held():
        try:
            for name in names:
                target = repository / name
                target.mkdir(exist_ok=True)
                if (target / version).exists():
                    raise FileExistsError(f"{target / version} already exists")
                if not (target / "config.pbtxt").exists():
                    shutil.copy2(work / name / "config.pbtxt", target / "config.pbtxt")
                os.rename(work / name / version, target / version)
                moved.append((target / version, work / name / version))
        except BaseException:
            for done, back in reversed(moved):
                os.rename(done, back)
            raise
    return names


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    horizon = HORIZONS[args.horizon]
    repository: Path = args.repository
    work: Path = args.work_dir
    report("loading", 1.0, f"loading {', '.join(args.symbols)} {horizon.timeframe} bars")
    data = load_data(os.environ[DATABASE_URL_ENV], args.symbols, horizon, args.start, args.end)
    version = next_version(repository, horizon.name)
    bars = ", ".join(f"{s.symbol} {len(s.bars)} bars" for s in data.series)
    report("loading", LOADING_PERCENT, f"version {version} of {args.family} {horizon.name} from {bars}")

    def progress(stage: str, fold: int, folds: int) -> None:
        if stage == "fold":
            percent = LOADING_PERCENT + FOLDS_PERCENT * fold / folds
            report("fold", percent, f"fitting fold {fold + 1} of {folds}", fold=fold + 1, folds=folds)
        else:
            report(stage, STAGE_PERCENT[stage], stage, fold=fold, folds=folds)

    config = TrainConfig(folds=args.folds, net=NetConfig(threads=args.threads), families=(args.family,))
    work.mkdir(parents=True, exist_ok=False)
    result = train_horizon(data, work, config, version, progress)
    write_cards(work, result, time.perf_counter() - started, args.run_id)
    report("committing", STAGE_PERCENT["committing"], f"moving version {version} into the repository")
    names = commit(work, repository, version)
    report("done", 100.0, f"version {version} written, not activated", version=version, models=names)
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ml_engine.training.worker", description=__doc__)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--family", required=True, choices=FAMILIES)
    parser.add_argument("--horizon", required=True, choices=sorted(HORIZONS))
    parser.add_argument("--symbols", required=True, type=lambda text: text.split(","))
    parser.add_argument("--start", required=True, type=int, help="first bar time, epoch seconds")
    parser.add_argument("--end", required=True, type=int, help="end (exclusive), epoch seconds")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--repository", required=True, type=Path)
    parser.add_argument("--work-dir", required=True, type=Path, help="a dot folder inside the repository")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    warnings.filterwarnings("ignore")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return run(args)
    except Cancelled:
        report("cancelled", 0.0, "cancelled")
        return 143
    except Exception as error:  # reported to the engine as the run's error
        report("failed", 0.0, f"{type(error).__name__}: {error}", error=f"{type(error).__name__}: {error}")
        return 1
    finally:
        shutil.rmtree(args.work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
