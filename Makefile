# Two entry points, each installing what it needs first:
#   make example   install, then crawl the bundled offline example into ./archive
#   make test      install (with test extras and system packages), then run the test suite
PYTHON ?= python3
VENV ?= .venv
PYWB_VENV ?= .pywb-venv
EXAMPLE = examples/lavrov-afghanistan

.PHONY: install install-test system-deps pywb example test bench

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -U pip

install: $(VENV)/bin/python
	$(VENV)/bin/python -m pip install -q -e .

install-test: $(VENV)/bin/python
	$(VENV)/bin/python -m pip install -q -e ".[test]"

# Servers and browsers some tests drive for real; installed with apt when missing.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# pywb pins redis==2.10.6, which breaks scrapy-redis: it gets a virtualenv of its own.
pywb:
	@[ -x $(PYWB_VENV)/bin/wayback ] || { $(PYTHON) -m venv $(PYWB_VENV) && $(PYWB_VENV)/bin/python -m pip install -q pywb; }

example: install
	$(VENV)/bin/scrapy crawl coverage -a topic=$(EXAMPLE)/topic.toml \
	  -s REPLAY_FROM=$(EXAMPLE)/example.warc.gz -s ARCHIVE_DIR=archive
	$(VENV)/bin/scrapy wacz archive/lavrov-afghanistan -o archive/lavrov-afghanistan.wacz
	$(VENV)/bin/wacz validate -f archive/lavrov-afghanistan.wacz
	@echo; echo "Output: archive/lavrov-afghanistan/ (warc/, index.cdxj, text/, manifest.jsonl, report.html, report.md) and archive/lavrov-afghanistan.wacz, replayed from examples/lavrov-afghanistan/example.warc.gz"

test: install-test system-deps pywb
	PYWB_VENV=$(abspath $(PYWB_VENV)) $(VENV)/bin/python -m pytest -q

# Figures for bench/RESULTS.md (several minutes; run on an otherwise idle machine).
bench: install-test system-deps
	$(VENV)/bin/python bench/extraction.py
	$(VENV)/bin/python bench/replay.py --pages 3000 --memory 1000,5000
	$(VENV)/bin/python bench/live.py
	$(VENV)/bin/python bench/distributed.py
	$(VENV)/bin/python bench/faults.py --runs 20
	$(VENV)/bin/python bench/scan.py --sizes 200,400
