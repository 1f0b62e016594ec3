"""A tiny end-to-end training run on a generated series: labelled synthetic, and never shipped."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import onnx
import pytest

from ml_engine.predictions.domain.ensemble import load_manifest
from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.training.data import synthetic_data
from ml_engine.training.export import (
    SHIPPED_REPOSITORY,
    SyntheticModelRefused,
    guard_destination,
    next_version,
)
from ml_engine.training.fitting import NetConfig
from ml_engine.training.pipeline import MODEL_KEYS, TrainConfig
from ml_engine.training.train import train_datasets
from tests.ml_engine.training.repository import model_dirs, onnx_path, read_metadata

TINY = TrainConfig(folds=2, net=NetConfig(max_epochs=2, patience=1))


def _snapshot(repository: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in repository.rglob("*")}


def test_tiny_synthetic_run_is_marked_and_refused_for_the_shipped_repository(tmp_path: Path) -> None:
    data = synthetic_data(HORIZONS["scalping"], n=700)
    written = train_datasets([data], tmp_path, docs=None, config=TINY)

    assert set(written) == {f"scalping_{k}" for k in MODEL_KEYS}
    for folder in model_dirs(tmp_path):
        meta = read_metadata(onnx.load(str(onnx_path(folder))))
        assert meta.training.synthetic is True
        assert meta.training.symbols == ["SYNTH"]
        assert meta.parity_max_abs_diff < 1e-4
        assert "SYNTHETIC" in (folder / "README.md").read_text()
    assert set(load_manifest(tmp_path)) == {"scalping"}

    before = _snapshot(SHIPPED_REPOSITORY)
    with pytest.raises(SyntheticModelRefused):
        train_datasets([data], SHIPPED_REPOSITORY, docs=None, config=TINY)
    # The exporter's own guard, whichever caller reaches it.
    meta = next(iter(written.values()))
    with pytest.raises(SyntheticModelRefused):
        guard_destination(SHIPPED_REPOSITORY, meta)
    guard_destination(SHIPPED_REPOSITORY, replace(meta, training=replace(meta.training, synthetic=False)))
    assert _snapshot(SHIPPED_REPOSITORY) == before


def _digests(repository: Path) -> dict[str, str]:
    return {
        str(p.relative_to(repository)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in repository.rglob("*")
        if p.is_file() and any(part.isdigit() for part in p.relative_to(repository).parts)
    }


def test_a_second_run_writes_the_next_version_beside_the_first(tmp_path: Path) -> None:
    data = synthetic_data(HORIZONS["scalping"], n=700)
    first = train_datasets([data], tmp_path, docs=None, config=TINY)
    before = _digests(tmp_path)

    second = train_datasets([data], tmp_path, docs=None, config=TINY)

    assert {m.version for m in first.values()} == {"1"}
    assert {m.version for m in second.values()} == {"2"}
    after = _digests(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before  # version 1 untouched
    for folder in model_dirs(tmp_path):
        assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["1", "2"]
        assert read_metadata(onnx.load(str(onnx_path(folder)))).version == "2"
        assert (folder / "2" / "README.md").read_text() == (folder / "README.md").read_text()


def test_the_next_version_ignores_folders_that_are_not_ascii_numbers(tmp_path: Path) -> None:
    """ "³" passes str.isdigit() and int() refuses it: a stray folder stopped every training run."""
    folder = tmp_path / "intraday_gru"
    for name in ("1", "4", "³", "drafts"):
        (folder / name).mkdir(parents=True)
    (folder / "config.pbtxt").write_text('name: "intraday_gru"\n')
    assert next_version(tmp_path, "intraday") == "5"
