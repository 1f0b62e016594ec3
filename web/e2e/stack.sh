#!/usr/bin/env bash
# Starts the real platform for the browser tests: a local SMTP server that writes every mail
# into a maildir, the services, the gateway serving web/dist and Envoy (the supervisor), and an
# admin account. Prints the variables the e2e tests read, then waits; Ctrl-C or SIGTERM stops
# everything it started.
#
#   web/e2e/stack.sh                  # then, in another shell: cd web && npm run test:e2e:flows
#
# Ports (override with the same names): Envoy 28080 (admin 29901), gateway 28000, business
# 25051, ML engine 25052, SMTP 28025. State (databases, keys, mail) lives in E2E_STATE_DIR
# (default /tmp/web-e2e-stack), wiped at start.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
STATE="${E2E_STATE_DIR:-/tmp/web-e2e-stack}"
export ENVOY_PORT="${ENVOY_PORT:-28080}"
export ENVOY_ADMIN_PORT="${ENVOY_ADMIN_PORT:-29901}"
export GATEWAY_PORT="${GATEWAY_PORT:-28000}"
export BUSINESS_GRPC_PORT="${BUSINESS_GRPC_PORT:-25051}"
export ML_GRPC_PORT="${ML_GRPC_PORT:-25052}"
SMTP_PORT="${E2E_SMTP_PORT:-28025}"
ADMIN_EMAIL="${E2E_ADMIN_EMAIL:-admin@example.com}"
ADMIN_PASSWORD="${E2E_ADMIN_PASSWORD:-Correct-horse-battery-e2e-7}"

PAGE="http://127.0.0.1:${GATEWAY_PORT}"
API="http://127.0.0.1:${ENVOY_PORT}"

# Another stack on these ports would answer the health checks below in place of this one.
if curl -fsS -o /dev/null "${API}/health" 2>/dev/null || curl -fsS -o /dev/null "${PAGE}/healthz" 2>/dev/null; then
  echo "something already answers on ${API} or ${PAGE}: stop it first (or choose other ports)" >&2
  exit 1
fi

rm -rf "$STATE"
mkdir -p "$STATE/mail/tmp" "$STATE/mail/new" "$STATE/mail/cur" "$STATE/logs"

export APP_ENV=test
export ML_SERVICE_URL="127.0.0.1:${ML_GRPC_PORT}"
export BUSINESS_METRICS_PORT=0 ML_METRICS_PORT=0
export CORS_ALLOWED_ORIGINS="${PAGE},http://127.0.0.1:5173,http://localhost:5173"
export DEV_TOKENS_ENABLED=true
export PUBLIC_API_URL="$API"
# The links in the mails open the web app (the gateway serves it with the SPA fallback).
export PUBLIC_WEB_URL="$PAGE"
export OAUTH_SUCCESS_REDIRECT="${PAGE}/oauth/callback"
export DATABASE_URL="sqlite:///${STATE}/business.db"
export MARKET_SQLITE_PATH="${STATE}/market.db"
export JWT_KEYS_DIR="${STATE}/keys"
export TOTP_KEY_FILE="${STATE}/totp.key"
export MAIL_BACKEND=smtp SMTP_HOST=127.0.0.1 SMTP_PORT="$SMTP_PORT"
export SMTP_FROM="Trading Platform <no-reply@example.com>"
# Every browser test signs in from 127.0.0.1: the per-address lock-out would trip across tests.
export ATTEMPT_LIMIT_PER_IP="${ATTEMPT_LIMIT_PER_IP:-10000}"
export SEND_LIMIT_PER_CLIENT="${SEND_LIMIT_PER_CLIENT:-10000}"
export SHUTDOWN_GRACE_S=2
# Short access tokens, so that the tests see the silent refresh happen (and live with it).
export JWT_ACCESS_TTL_S="${E2E_ACCESS_TTL_S:-30}"

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

cd "$ROOT"
"$PY" -m aiosmtpd -n -l "127.0.0.1:${SMTP_PORT}" -c aiosmtpd.handlers.Mailbox "$STATE/mail" \
  >"$STATE/logs/smtp.log" 2>&1 &
pids+=($!)
sleep 1
kill -0 "${pids[-1]}" 2>/dev/null || { echo "the SMTP server did not start:" >&2; cat "$STATE/logs/smtp.log" >&2; exit 1; }

printf '%s\n' "$ADMIN_PASSWORD" |
  "$PY" -m business.identity.admin_cli create-admin --email "$ADMIN_EMAIL" --display-name "E2E Admin" \
    --password-stdin >"$STATE/logs/admin.log" 2>&1 || { cat "$STATE/logs/admin.log" >&2; exit 1; }

# Stripe's API and hosted pages stand in for Stripe (tests/support/stripe_api.py): billing is
# configured, and a completed checkout's events reach the gateway's webhook route through Envoy.
STRIPE_PORT="${E2E_STRIPE_PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
"$PY" -m tests.support.stripe_api --port "$STRIPE_PORT" --webhook-url "${API}/api/billing/webhooks/stripe" \
  >"$STATE/logs/stripe.log" 2>&1 &
pids+=($!)
eval "$("$PY" -c 'from tests.support.stripe_api import StripeApi; import sys; port = int(sys.argv[1])
print("\n".join(f"export {k}={v}" for k, v in StripeApi(port=port).env().items()))' "$STRIPE_PORT")"

"$PY" -m tools.supervisor >"$STATE/logs/supervisor.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 240); do
  if curl -fsS "${API}/health" >/dev/null 2>&1 && curl -fsS "${PAGE}/healthz" >/dev/null 2>&1; then
    cat <<EOF
stack ready (logs in ${STATE}/logs)
export E2E_PAGE_URL=${PAGE}
export E2E_API_URL=${API}
export E2E_MAIL_DIR=${STATE}/mail
export E2E_ADMIN_EMAIL=${ADMIN_EMAIL}
export E2E_ADMIN_PASSWORD=${ADMIN_PASSWORD}
export E2E_ACCESS_TTL_S=${JWT_ACCESS_TTL_S}
EOF
    wait "${pids[-1]}"
    exit $?
  fi
  if ! kill -0 "${pids[-1]}" 2>/dev/null; then
    echo "the supervisor exited; see ${STATE}/logs/supervisor.log" >&2
    tail -20 "$STATE/logs/supervisor.log" >&2
    exit 1
  fi
  sleep 0.5
done
echo "the stack did not become healthy in 120 s; see ${STATE}/logs" >&2
exit 1
