# Loom: `make run` serves the app; `make test` runs the whole test suite.
# Both set everything up first (venv, package, front-end assets, database) and are
# idempotent: a second run reuses what the first one made.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOOM_HOST ?= 127.0.0.1
LOOM_PORT ?= 5000
export LOOM_HOST LOOM_PORT
FLASK := $(BIN)/flask --app wsgi
VENDOR := app_platform/web/static/vendor/.stamp

.PHONY: run run-prod test setup assets db lint bench clean

run: setup db
	LOOM_SCHEDULER_ENABLED=$${LOOM_SCHEDULER_ENABLED:-true} \
		$(FLASK) run --host $(LOOM_HOST) --port $(LOOM_PORT)

# The production shape on one machine (docs/deploy.md): gunicorn -w 4 against PostgreSQL
# plus one scheduler process (leader via an advisory lock), JSON logs on stderr.
run-prod: setup
	@test -n "$$LOOM_DATABASE_URL" || { echo "run-prod needs LOOM_DATABASE_URL, e.g." \
		"postgresql+psycopg://loom@127.0.0.1:5432/loom" >&2; exit 2; }
	mkdir -p instance
	$(FLASK) bootstrap
	export LOOM_LOG_FORMAT=$${LOOM_LOG_FORMAT:-json} LOOM_ACCESS_LOG=$${LOOM_ACCESS_LOG:-true}; \
		$(BIN)/python scheduler_main.py & scheduler=$$!; \
		trap 'kill $$scheduler 2>/dev/null; wait $$scheduler' EXIT INT TERM; \
		$(BIN)/gunicorn -w $${LOOM_WORKERS:-4} -b $(LOOM_HOST):$(LOOM_PORT) \
			--timeout 60 --graceful-timeout 20 wsgi:app

test: setup
	bash tests/run.sh

setup: $(VENV)/.stamp $(VENDOR)

$(VENV)/.stamp: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

$(VENDOR): designer_ui/package.json designer_ui/package-lock.json designer_ui/scripts/vendor.mjs
	cd designer_ui && npm ci --no-audit --no-fund --loglevel=error
	node designer_ui/scripts/vendor.mjs
	touch $@

assets: $(VENDOR)

db: setup
	mkdir -p instance
	$(FLASK) bootstrap

lint: setup
	$(BIN)/ruff check app_platform engines tests bench

bench: setup
	$(BIN)/python bench/records.py

clean:
	rm -rf $(VENV) designer_ui/node_modules app_platform/web/static/vendor
