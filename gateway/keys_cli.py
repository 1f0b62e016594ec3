"""Manage the access-token signing keys: `python -m gateway.keys_cli rotate|show`.

rotate: publish a new key, print its kid. It signs after JWT_KEY_ACTIVATION_DELAY_S (the JWKS
        cache time); until then the current key signs and the previous one stays published. A
        rotation while the last one's key still waits to sign is refused (exit 1): --force does it
        anyway (the key signing now is kept, the previous one may leave the JWKS).
show:   print the JWKS as the gateway publishes it.
"""

from __future__ import annotations

import argparse
import json
import sys

from gateway.keys import key_store, read_jwks
from service_runtime.config import CommonSettings
from service_runtime.signing_keys import RotationTooSoon


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.keys_cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["rotate", "show"])
    parser.add_argument("--keys-dir", help="key folder (default: JWT_KEYS_DIR)")
    parser.add_argument(
        "--force", action="store_true", help="rotate even while the last rotation's key waits to sign"
    )
    args = parser.parse_args(argv)
    # CommonSettings, not GatewaySettings: key management must not depend on gateway options.
    settings = CommonSettings()
    store = key_store(args.keys_dir or settings.jwt_keys_dir, settings.jwt_key_activation_delay_s)
    if args.command == "rotate":
        try:
            print(store.rotate(force=args.force))
        except RotationTooSoon as refused:
            print(f"not rotated: {refused}. To rotate anyway: {parser.prog} rotate --force", file=sys.stderr)
            return 1
    else:
        print(json.dumps(read_jwks(store), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
