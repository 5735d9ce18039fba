# One command to run the app, one to test it. Both set up what they need first.
PY := .venv/bin/python
PIP := .venv/bin/pip
TOOLKIT := .venv/bin/toolkit

# Debian packages the app and its tests use: Pango for WeasyPrint, fonts, poppler for PDF checks,
# Chromium for the end-to-end tests (Playwright drives it; it never downloads its own browsers).
RUN_DEBS := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core fonts-liberation
# Tests also read PDFs back (poppler), drive a browser (Chromium), run against PostgreSQL, and
# run the task queue on Redis as well as on its embedded SQLite file.
TEST_DEBS := $(RUN_DEBS) poppler-utils chromium postgresql redis-server
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install assets system-deps lint format clean bench mutation

run: DEBS = $(RUN_DEBS)
run: system-deps install assets
	$(TOOLKIT) db upgrade
	$(TOOLKIT) demo load --if-empty
	$(TOOLKIT) serve

test: DEBS = $(TEST_DEBS)
test: system-deps install assets
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/pytest
	@echo "== the same suite against PostgreSQL (browser tests ran above) =="
	scripts/with-postgres.sh .venv/bin/pytest -m "not e2e" -p no:cacheprovider

install: .venv/.installed

.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	touch $@

system-deps:
	@missing=$$(for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

assets: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

bench: DEBS = $(TEST_DEBS)
bench: system-deps install
	.venv/bin/python bench/run.py

# Mutation testing of the core (mutmut), one module at a time against its own tests; slow, so not
# part of `make test` or CI. `make mutation MODULES="calendar invites"` runs only those.
mutation: DEBS = $(TEST_DEBS)
mutation: system-deps install assets
	$(PIP) install --quiet -e '.[test,mutation]'
	$(PY) scripts/mutation.py $(MODULES)

format: install
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

clean:
	rm -rf .venv node_modules .mutation
