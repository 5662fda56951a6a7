# zooloop: `make demo` to run it, `make test` to test it. Both set everything up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
ADMIN_PASSWORD ?= zooloop-admin

.PHONY: demo test install browser worker migrate bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch==2.14.1 and torchvision==0.29.1 come from this machine's local wheels (see README).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

browser:
	@command -v chromium >/dev/null 2>&1 || { echo "Installing Debian's Chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: migrate
	$(BIN)/python manage.py load_demo --if-empty --password "$(ADMIN_PASSWORD)"
	@mkdir -p var/log
	@$(BIN)/celery -A zooapp worker -B -Q celery,aggregation,exports,ml --concurrency 1 \
		--loglevel INFO --logfile var/log/worker.log --pidfile var/worker.pid \
		--schedule var/celerybeat-schedule --detach
	@echo ""
	@echo "  zooloop is running at http://$(HOST):$(PORT)/"
	@echo "  classify:  http://$(HOST):$(PORT)/classify/1/"
	@echo "  dashboard: http://$(HOST):$(PORT)/dashboard/   admin: http://$(HOST):$(PORT)/admin/"
	@echo "  login:     admin / $(ADMIN_PASSWORD)"
	@echo "  worker log: var/log/worker.log (stop it with: kill \$$(cat var/worker.pid))"
	@echo ""
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# Without PYTEST_ARGS the browser tests run in a process of their own. In one process with them (their
# live-server thread and Playwright's event loop) the suite died of a heap corruption in a later test, twice
# in full-suite order, in CI and here; run apart it never did. The root cause is not found: see docs/ARCHITECTURE.md.
test: install browser
ifeq ($(strip $(PYTEST_ARGS)),)
	@$(BIN)/python -m pytest --ignore=tests/browser; rest=$$?; \
	$(BIN)/python -m pytest tests/browser; browser=$$?; \
	echo "make test: rest of the suite exit $$rest, browser tests exit $$browser"; exit $$((rest | browser))
else
	$(BIN)/python -m pytest $(PYTEST_ARGS)
endif

bench: install
	$(BIN)/pip install --quiet -e ".[test,bench]"
	@echo "Benchmarks: see docs/BENCHMARKS.md for each command."

clean:
	rm -rf var test-output .pytest_cache
