"""Manage the access-token signing keys: `python -m gateway.keys_cli rotate|show`.

rotate: add a new current key (the previous one stays published), print its kid.
show:   print the JWKS as the gateway publishes it.
"""

from __future__ import annotations

import argparse
import json
import sys

from gateway.keys import key_store, read_jwks
from service_runtime.config import CommonSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.keys_cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["rotate", "show"])
    parser.add_argument("--keys-dir", help="key folder (default: JWT_KEYS_DIR)")
    args = parser.parse_args(argv)
    # CommonSettings, not GatewaySettings: key management must not depend on gateway options.
    store = key_store(args.keys_dir or CommonSettings().jwt_keys_dir)
    if args.command == "rotate":
        print(store.rotate())
    else:
        print(json.dumps(read_jwks(store), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
