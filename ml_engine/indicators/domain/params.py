"""Indicator parameter values and how they are written in keys (their specs: ml_engine.shared.parameters)."""

from __future__ import annotations

from collections.abc import Mapping

from ml_engine.shared.parameters import ParamValue, format_value

Params = Mapping[str, ParamValue]


def format_params(params: Params) -> str:
    return ",".join(format_value(v) for v in params.values())
