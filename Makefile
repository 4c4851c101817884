# HealthSync: `make run` serves the embedded default; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
DEV_STAMP := $(VENV)/.requirements-dev-installed

.PHONY: install install-dev run test test-fast lint migrate seed models bench check-deploy backup restore

# The production requirements (about 2 GB with TensorFlow; several minutes on a first install).
install: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install --progress-bar on -r requirements.txt
	@touch $(STAMP)

# Test, benchmark and lint tools on top (requirements-dev.txt).
install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --progress-bar on -r requirements-dev.txt
	@touch $(DEV_STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	$(PY) manage.py serve

# The whole suite on the configured PostgreSQL, Redis and RabbitMQ (docs/testing.md).
test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

# Without the slow tests (servers, browsers, real processes): a few minutes.
test-fast: install-dev
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# ruff (lint, import order), mypy (the domain core and ml_models), import-linter (import directions).
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

models: install
	$(PY) manage.py train_default_models

check-deploy: install
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-check-deploy-only-$$(head -c 32 /dev/urandom | base64)} \
	HEALTHSYNC_FIELD_ENCRYPTION_KEYS=$${HEALTHSYNC_FIELD_ENCRYPTION_KEYS:-check-deploy-only} \
	DJANGO_ALLOWED_HOSTS=$${DJANGO_ALLOWED_HOSTS:-healthsync.example} \
	$(PY) manage.py check --deploy --fail-level WARNING

backup: install
	$(PY) manage.py backup $(if $(BACKUP),--output $(BACKUP))

restore: install
	@test -n "$(BACKUP)" || (echo "usage: make restore BACKUP=var/backups/<timestamp>" && exit 2)
	$(PY) manage.py restore --input $(BACKUP)
