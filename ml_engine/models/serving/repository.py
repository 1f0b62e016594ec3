"""The model repository on disk, in NVIDIA Triton's layout: `<name>/<int version>/model.onnx`
(`<name>/config.pbtxt` optional), so the same folder can be served by Triton when one process
is not enough. Scanning only reads the directory tree; sessions are made elsewhere."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("ml_engine.serving")

MODEL_FILE = "model.onnx"
# In a version folder: a version made by a training run (the TrainingService). It is never activated
# by the start-up load or the file watch, only by an admin (ActivateModelVersion removes the file).
MANUAL_ACTIVATION_FILE = "MANUAL_ACTIVATION"
# Version folders that look like numbers to str.isdigit() ("³") but are not ASCII digits: logged once
# each (the file watch scans every few seconds), then ignored like any other folder.
_reported_strays: set[Path] = set()


@dataclass(frozen=True)
class VersionFile:
    version: int
    path: Path
    # Size and modification time: a version is loaded only once they stop changing (a copy in
    # progress must not be loaded half-written), and a changed file is worth retrying.
    size: int
    mtime_ns: int
    # The folder holds MANUAL_ACTIVATION_FILE: only an admin activates this version.
    manual: bool = False

    @property
    def signature(self) -> tuple[int, int]:
        return (self.size, self.mtime_ns)


@dataclass(frozen=True)
class RepositoryModel:
    name: str
    folder: Path
    # Sorted ascending by version number.
    versions: tuple[VersionFile, ...]

    def version(self, number: int) -> VersionFile | None:
        return next((v for v in self.versions if v.version == number), None)


def scan(root: Path) -> dict[str, RepositoryModel]:
    """Every model folder holding at least one `<int>/model.onnx`; anything else is ignored."""
    models: dict[str, RepositoryModel] = {}
    if not root.is_dir():
        return models
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        versions = []
        for child in folder.iterdir():
            number = folder_version(child.name)
            if number is None:
                _report_stray(child)
                continue
            model_file = child / MODEL_FILE
            try:
                stat = model_file.stat()
            except OSError:  # not a folder, or no model file in it (yet)
                continue
            manual = (child / MANUAL_ACTIVATION_FILE).exists()
            versions.append(VersionFile(number, model_file, stat.st_size, stat.st_mtime_ns, manual))
        if versions:
            models[folder.name] = RepositoryModel(
                folder.name, folder, tuple(sorted(versions, key=lambda v: v.version))
            )
    return models


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_version(name: str) -> int | None:
    """The version a folder named `name` holds, or None. ASCII digits only: str.isdigit() also
    accepts "²" or "³", which int() refuses."""
    if not (name.isascii() and name.isdigit()):
        return None
    return int(name)


def parse_version(text: str) -> int | None:
    """A version folder name ("1", "12"), or None when `text` is not one."""
    text = text.strip()
    if len(text) > 9:
        return None
    return folder_version(text)


def _report_stray(child: Path) -> None:
    if child.name.isdigit() and child not in _reported_strays and child.is_dir():
        _reported_strays.add(child)
        log.warning(
            "ignored a folder that is not a version: versions are named with ASCII digits",
            extra={"folder": str(child)},
        )
