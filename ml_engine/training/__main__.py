"""`python -m ml_engine.training --out ml_engine/model_repository [--horizons intraday,swing]`.

Trains every horizon that has real data, writes the model repository, the cards and docs/models.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from ml_engine.training.fitting import DEFAULT_THREADS, NetConfig
from ml_engine.training.pipeline import TrainConfig
from ml_engine.training.train import DOCS_FILE, train_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml_engine.training", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="model repository to write")
    parser.add_argument("--horizons", default="all", help="comma-separated horizons, or all")
    parser.add_argument("--docs", type=Path, default=DOCS_FILE, help="overview to write (docs/models.md)")
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help="torch / XGBoost threads (1: fastest on 2 shared cores)",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    config = TrainConfig(net=NetConfig(threads=args.threads))
    summary = train_all(args.out, args.horizons, args.docs, config, log=lambda text: print(text, flush=True))
    print(f"done in {time.perf_counter() - started:.0f} s: {len(summary)} models in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
