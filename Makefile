# Two commands matter: `make run` (the whole system on embedded defaults) and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
# Three install levels, one stamp each: serving (requirements.txt: what `make run` needs), training
# (+ requirements-train.txt: torch and the ONNX exporters, `make train`), development (+ the test,
# lint and codegen tools and the training extra the parity tests need, `make test`).
VENV_RUN := .venv/.installed-run
VENV_TRAIN := .venv/.installed-train
VENV := .venv/.installed-dev
WEB_DEPS := web/node_modules/.installed
PIP := .venv/bin/pip install -q --disable-pip-version-check

.PHONY: migration run test gen generate gen-check lint breaking web web-deps venv venv-run venv-train bench bench-edge bench-plans bench-data bench-auth bench-education bench-billing bench-paper bench-ml bench-alerts train import-bars admin admin-keys k8s-envoy clean

## Serving only (what `make run` installs): no torch.
venv-run: $(VENV_RUN)
$(VENV_RUN): requirements.txt
	test -x .venv/bin/python || python3 -m venv .venv
	$(PIP) --upgrade pip
	$(PIP) -r requirements.txt
	# Repo root and generated stubs on the venv's path (no install step for our own code).
	printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/gen/python" > \
	  "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/trading_platform.pth"
	touch $@

venv-train: $(VENV_TRAIN)
$(VENV_TRAIN): $(VENV_RUN) requirements-train.txt
	$(PIP) -r requirements-train.txt
	touch $@

## Everything: serving, training and the development tools.
venv: $(VENV)
$(VENV): $(VENV_RUN) requirements-dev.txt requirements-train.txt
	$(PIP) -r requirements-dev.txt
	touch $@

web-deps: $(WEB_DEPS)
$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Regenerate gen/ (Python, TypeScript, descriptor set) from proto/.
gen: $(VENV) $(WEB_DEPS)
	@$(MAKE) --no-print-directory generate

# buf.gen.yaml writes gen/python and gen/ts; `buf build` writes the descriptor set (imports and
# source info included: Envoy's transcoder and the API docs load it). GEN_ROOT=DIR writes DIR/gen
# instead: tests/contracts/test_gen_fresh.py compares that with gen/. No install prerequisites.
GEN_ROOT := .
generate:
	$(PY) tools/proto_deps.py
	.venv/bin/buf generate -o "$(GEN_ROOT)"
	.venv/bin/buf generate build/proto-deps --template buf.gen.rpc.yaml -o "$(GEN_ROOT)" \
		--path build/proto-deps/google/rpc/status.proto --path build/proto-deps/google/rpc/error_details.proto
	mkdir -p "$(GEN_ROOT)/gen/descriptor"
	.venv/bin/buf build --as-file-descriptor-set -o "$(GEN_ROOT)/gen/descriptor/trading.binpb"

## Fails when gen/ is not what proto/ generates.
gen-check: $(VENV) $(WEB_DEPS)
	$(PY) -m pytest -q tests/contracts/test_gen_fresh.py

lint: $(VENV)
	$(PY) tools/proto_deps.py
	.venv/bin/buf lint
	.venv/bin/buf format --diff --exit-code proto
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports --no-cache

## buf breaking against the contracts of the previous commit on main.
breaking: $(VENV_RUN)
	bash tools/breaking.sh

web: $(WEB_DEPS)
	cd web && npm run build --silent

## The whole system: ml_engine, business, gateway (web app, JWKS, docs) and Envoy on :8080.
run: $(VENV_RUN) web
	$(PY) -m tools.supervisor

## Every test: lint, the web app's unit tests (vitest), contracts, unit, end-to-end through Envoy, browser.
test: $(VENV) web
	bash tools/ensure_chromium.sh
	$(MAKE) --no-print-directory lint
	cd web && npm test --silent
	$(PY) -m pytest --durations=30

bench-edge: $(VENV_RUN)
	$(PY) -m bench.edge

## The edge's plan check: p50 through Envoy with and without it, in one run.
bench-plans: $(VENV_RUN)
	$(PY) -m bench.plans $(ARGS)

## Every benchmark with short settings and a time limit per step, then one summary table (what,
## ours, reference, ratio) in bench/results/summary.md, which README's "Benchmarks at a glance" shows.
bench: $(VENV_TRAIN)
	$(PIP) -r bench/requirements.txt
	$(PY) -m bench.summary $(ARGS)

## Market data benchmarks: import rate, history REST vs gRPC, indicators, backtests vs backtesting.py
## and vectorbt (installed here from bench/requirements.txt, never by the serving requirements).
bench-data: $(VENV_RUN)
	$(PIP) -r bench/requirements.txt
	$(PY) -m bench.market_data
	$(PY) -m bench.indicators
	$(PY) -m bench.backtest

## Alerts benchmark: 10,000 rules evaluated per bar in process, and per bar through the store.
bench-alerts: $(VENV_RUN)
	$(PY) -m bench.alerts

## Identity benchmark: argon2 cost, login throughput/p99, token verification, jwt_authn at Envoy.
bench-auth: $(VENV_RUN)
	$(PY) -m bench.auth

## Education benchmark: catalogue search over 10,000 synthetic courses (in process and through Envoy), lesson load.
bench-education: $(VENV_RUN)
	$(PY) -m bench.education $(ARGS)

## Billing benchmark: Stripe webhook events processed per second (ARGS="--users 200 --concurrency 8").
bench-billing: $(VENV_RUN)
	$(PY) -m bench.billing $(ARGS)

## Paper trading: one bar with 10,000 open orders (in process), orders/s through Envoy.
bench-paper: $(VENV_RUN)
	$(PY) -m bench.paper_trading $(ARGS)

## ML serving benchmark: ORT vs native, Predict REST vs gRPC, micro-batching, stream fan-out (ARGS="--only a,b").
bench-ml: $(VENV_TRAIN)
	flock /tmp/e2e.lock $(PY) -m bench.ml $(ARGS)

## Train every model with real data into a NEW version folder (walk-forward, ONNX export, cards, docs/models.md); about 4 min on 2 cores (docs/models.md).
train: $(VENV_TRAIN)
	$(PY) -m ml_engine.training --out ml_engine/model_repository

## Start a migration: make migration SERVICE=business NAME="education catalogue"
migration: $(VENV)
	$(PY) -m tools.new_migration --service "$(SERVICE)" --name "$(NAME)"

## Import bars into the configured market store: make import-bars ARGS="file.csv --symbol X --timeframe 1h ..."
import-bars: $(VENV_RUN)
	$(PY) -m ml_engine.market_data.importing $(ARGS)

## Create the first admin (or promote an account): make admin EMAIL=you@example.com (asks for the password)
admin: $(VENV_RUN)
	$(PY) -m business.identity.admin_cli create-admin --email "$(EMAIL)" $(ARGS)

## Rotate the access-token signing key (the JWKS keeps the previous one).
admin-keys: $(VENV_RUN)
	$(PY) -m gateway.keys_cli rotate $(ARGS)

## Envoy config for Kubernetes: the same template, in-cluster service names.
k8s-envoy: $(VENV_RUN)
	ENVOY_HOST=0.0.0.0 BUSINESS_HOST=business ML_HOST=ml-engine GATEWAY_UPSTREAM_HOST=gateway \
	  ENVOY_DESCRIPTOR_SET=/etc/envoy/trading.binpb $(PY) -m envoy.render --out k8s/generated/envoy.json

clean:
	rm -rf build .data web/dist
