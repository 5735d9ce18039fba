# One command to run the app, one to test it. Both set up what they need first.
PY := .venv/bin/python
PIP := .venv/bin/pip
TOOLKIT := .venv/bin/toolkit

.PHONY: run test install assets lint format clean

run: install assets
	$(TOOLKIT) db upgrade
	$(TOOLKIT) demo load --if-empty
	$(TOOLKIT) serve

test: install assets
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/pytest

install: .venv/.installed

.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	touch $@

assets: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

format: install
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

clean:
	rm -rf .venv node_modules
