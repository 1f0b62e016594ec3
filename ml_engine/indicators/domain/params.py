"""Indicator parameters: their declared shape, and how values are checked and written in keys."""

from __future__ import annotations

from collections.abc import Mapping

from ml_engine.shared.parameters import ParamSpec, ParamType, ParamValue, format_value

__all__ = ["ParamSpec", "ParamType", "ParamValue", "Params", "format_params", "format_value"]

Params = Mapping[str, ParamValue]


def format_params(params: Params) -> str:
    return ",".join(format_value(v) for v in params.values())
