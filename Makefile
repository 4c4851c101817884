# HealthSync: `make run` serves the embedded default; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: install run test migrate seed models bench check-deploy backup restore

install: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	$(PY) manage.py serve

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

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
