"""Train every horizon with real data into a model repository; cards, ensembles.json and docs/models.md."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ml_engine.predictions.domain.ensemble import load_manifest, save_manifest
from ml_engine.predictions.domain.horizons import HORIZONS, parse_horizons
from ml_engine.predictions.domain.model_metadata import ModelMetadata
from ml_engine.training.cards import model_card, models_doc
from ml_engine.training.data import HorizonData, real_data
from ml_engine.training.export import SHIPPED_REPOSITORY, SyntheticModelRefused, next_version
from ml_engine.training.pipeline import HorizonResult, TrainConfig, train_horizon

DOCS_FILE = Path(__file__).resolve().parents[2] / "docs" / "models.md"
NO_DATA = (
    "no real data: the bundled samples have no bars below 1h, and a model trained on synthetic data is "
    "never shipped. Import 5m bars (python -m ml_engine.market_data.importing FILE --symbol S "
    "--timeframe 5m) and extend ml_engine/training/data.py HORIZON_SOURCES to train it."
)


def train_datasets(
    datasets: list[HorizonData],
    repository: Path,
    docs: Path | None,
    config: TrainConfig | None = None,
    skipped: dict[str, str] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, ModelMetadata]:
    """Trains, exports and documents `datasets` into `repository`; returns the written models' metadata."""
    if any(d.synthetic for d in datasets) and repository.resolve() == SHIPPED_REPOSITORY.resolve():
        raise SyntheticModelRefused(
            f"synthetic training data is never written to the shipped repository {repository}"
        )
    config = config or TrainConfig()
    started = time.perf_counter()
    repository.mkdir(parents=True, exist_ok=True)
    results: list[HorizonResult] = []
    for data in datasets:
        version = next_version(repository, data.horizon.name)
        bars = ", ".join(f"{s.symbol} {len(s.bars)} bars" for s in data.series)
        log(f"{data.horizon.name}: version {version} from {bars}")
        result = train_horizon(data, repository, config, version)
        results.append(result)
        log(
            f"{data.horizon.name}: {len(result.metadata)} models in {result.seconds:.0f} s; "
            f"ensemble held-out MAE {result.ensemble.heldout_metrics['mae_pct']:.4f}% "
            f"(ATR baseline {result.baseline_metrics['mae_pct_atr']:.4f}%)"
        )
    seconds = time.perf_counter() - started
    manifest = load_manifest(repository)
    for result in results:
        manifest[result.horizon] = result.ensemble
        for name, meta in result.metadata.items():
            report = result.reports[name.removeprefix(f"{result.horizon}_")]
            card = model_card(meta, report, result, seconds)
            # The folder's card describes the newest version; each version keeps its own copy.
            (repository / name / "README.md").write_text(card)
            (repository / name / meta.version / "README.md").write_text(card)
    save_manifest(repository, manifest)
    if docs is not None:
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_text(models_doc(results, seconds, skipped or {}))
    return {name: meta for r in results for name, meta in r.metadata.items()}


def train_all(
    repository: Path,
    horizons: str = "all",
    docs: Path | None = DOCS_FILE,
    config: TrainConfig | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, ModelMetadata]:
    """Every requested horizon that has real data (scalping has none: said, not trained)."""
    datasets: list[HorizonData] = []
    skipped: dict[str, str] = {}
    for horizon in parse_horizons(horizons):
        data = real_data(HORIZONS[horizon.name])
        if data is None:
            skipped[horizon.name] = NO_DATA
            log(f"{horizon.name}: {NO_DATA}")
            continue
        datasets.append(data)
    return train_datasets(datasets, repository, docs, config, skipped=skipped, log=log)
