"""Reading the committed model repository back, for the training tests."""

from __future__ import annotations

from pathlib import Path

import onnx

from ml_engine.predictions.domain.model_metadata import METADATA_KEY, ModelMetadata
from ml_engine.training.export import SHIPPED_REPOSITORY


def model_dirs(repository: Path = SHIPPED_REPOSITORY) -> list[Path]:
    return sorted(p for p in repository.iterdir() if p.is_dir() and (p / "config.pbtxt").exists())


def onnx_path(folder: Path) -> Path:
    versions = sorted(
        (p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
    )
    return versions[-1] / "model.onnx"


def read_metadata(model: onnx.ModelProto) -> ModelMetadata:
    props = {p.key: p.value for p in model.metadata_props}
    return ModelMetadata.from_json(props[METADATA_KEY])
