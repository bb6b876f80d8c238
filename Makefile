# predio — the two commands: `make demo` and `make test`. Both work as root on a fresh Debian 12
# machine with Rust: they install the system packages they need when missing.

SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# GDAL (with GEOS) and the one system PROJ shared by GDAL and the proj crate; clang for bindgen;
# nasm and the autotools build ISA-L (the tiles' gzip) from the isal-sys crate's source;
# linux-perf/hyperfine only for the benches.
APT_PACKAGES := libgdal-dev libproj-dev gdal-bin clang libclang-dev pkg-config libfreetype-dev fonts-noto-core nasm autoconf automake libtool make
# The PostGIS tile source test starts its own throwaway cluster (tests/integration/support.rs).
TEST_PACKAGES := postgresql-15 postgresql-15-postgis-3
# The peers of benches/compare: PostGIS (and ogr2ogr, above); GeoPandas goes into a venv.
BENCH_PACKAGES := hyperfine wrk postgresql-15 postgresql-15-postgis-3 python3-venv
BENCH_VENV := target/bench-venv
# The second engine of the indices test (tests/integration/indices_check.py): pandas + numpy;
# the PMTiles reference reader (protomaps' pmtiles) for the archive test; PySAL esda, libpysal
# and h3-py for the Gi* hot spots test; geopandas, polars, matplotlib and nbclient to run
# notebooks/analyst.ipynb headless.
CHECK_VENV := target/check-venv
# The viewer's MapLibre GL JS (npm, served by predio: no CDN) and the browser test's
# playwright-core driving Debian's Chromium.
MAPLIBRE := api/web/node_modules/maplibre-gl/dist/maplibre-gl.js
# The static sites of `predio publish` read their PMTiles archives with protomaps' pmtiles.
PMTILES_JS := api/web/node_modules/pmtiles/dist/pmtiles.js
PLAYWRIGHT := tests/browser/node_modules/playwright-core
# The national analysis test (tests/integration/national.rs): PySpark in local mode on Debian's
# Java 17, and DuckDB, reading `predio export geoparquet`'s folder.
SPARK_VENV := target/spark-venv
SPARK_PACKAGES := openjdk-17-jre-headless

PREDIO := target/debug/predio
DEMO_TOWN := data-samples/town
DEMO_DATA ?= predio-data
DEMO_PARCELS ?= 20000
DEMO_PORT ?= 8080

.PHONY: help deps test-deps node web browser-deps build demo test check-venv spark-deps lint fmt bench bench-check bench-deps fuzz load clean

help:
	@echo "make demo   install what is missing, build, generate and import the sample town and its reports, compute its indices, serve the map on http://127.0.0.1:8080/"
	@echo "make test   install what is missing, run every test"
	@echo "make lint   module cycles, cargo fmt --check and clippy -D warnings"
	@echo "make fuzz   cargo-fuzz (nightly) on the report parsers and the URL parsers, FUZZ_SECONDS each"
	@echo "make load   the server under 128 connections for 60 s while a new version lands"
	@echo "make bench-check  each compare script once on small inputs (run before quoting figures)"
	@echo "make bench  criterion geocoder and tile benches; import vs ogr2ogr; geocoder vs GeoPandas and PostGIS; compute vs PostgreSQL; tiles vs martin (benches/)"

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust 1.95 with rustup"; exit 1; }

test-deps: deps
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing test packages:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps web
	$(CARGO) build --workspace

node:
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }

web: node
	@[ -f $(MAPLIBRE) ] && [ -f $(PMTILES_JS) ] || (cd api/web && npm ci --no-audit --no-fund)

browser-deps: node
	@[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@[ -d $(PLAYWRIGHT) ] || (cd tests/browser && npm ci --no-audit --no-fund)

demo: build
	$(PREDIO) sample --out $(DEMO_TOWN) --parcels $(DEMO_PARCELS) --seed 42
	$(PREDIO) --data $(DEMO_DATA) import sectors $(DEMO_TOWN)/sectors.shp --id-field codigo --name-field nombre --population-field poblacion
	$(PREDIO) --data $(DEMO_DATA) import parcels $(DEMO_TOWN)/parcels.shp --id-field finca --address-field direccion
	$(PREDIO) --data $(DEMO_DATA) import reports $(DEMO_TOWN)/reports.csv --mapping $(DEMO_TOWN)/reports-mapping.toml
	$(PREDIO) --data $(DEMO_DATA) compute --as-of 2025-12-31 --deadlines data-samples/rules/costa-rica.toml --holidays data-samples/rules/feriados-cr-2025.csv
	$(PREDIO) --data $(DEMO_DATA) segments --level sector --window 90d --save
	$(PREDIO) --data $(DEMO_DATA) audit --period 2025-H2 --out $(DEMO_DATA)/informe-2025-H2.html
	$(PREDIO) --data $(DEMO_DATA) info
	$(PREDIO) --data $(DEMO_DATA) indices --sector "Barrio Amón"
	@echo "open http://127.0.0.1:$(DEMO_PORT)/ (Ctrl-C stops the server)"
	$(PREDIO) --data $(DEMO_DATA) serve --addr 127.0.0.1:$(DEMO_PORT) --public-parcels

# One profile (dev) for the demo and the tests, so nothing is built twice. --all-targets also
# compiles the benches (they are never timed in CI).
test: deps test-deps check-venv spark-deps web browser-deps
	python3 tools/module_cycles.py
	$(CARGO) test --workspace --all-targets

check-venv:
	@dpkg -s python3-venv >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv >/dev/null; }
	@[ -x $(CHECK_VENV)/bin/python ] && $(CHECK_VENV)/bin/python -c "import pandas, pmtiles, esda, h3, nbclient, geopandas, polars, matplotlib, georeport" 2>/dev/null || { \
	  rm -rf $(CHECK_VENV) && python3 -m venv $(CHECK_VENV) && \
	  $(CHECK_VENV)/bin/pip install -q pandas==2.2.3 numpy==2.2.6 pmtiles==3.4.1 \
	    esda==2.9.0 libpysal==4.14.1 h3==4.5.0 scipy==1.17.1 \
	    geopandas==1.2.0 pyarrow==26.0.1 polars==2.1.0 matplotlib==3.11.2 \
	    nbclient==0.11.0 nbformat==5.11.1 ipykernel==7.4.0 georeport==0.3.1; }

# Java may fail to install (no package mirror): the Spark test then skips saying so, and fails
# under CI=true.
spark-deps: check-venv
	@dpkg -s $(SPARK_PACKAGES) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(SPARK_PACKAGES) >/dev/null || \
	  echo "warning: $(SPARK_PACKAGES) could not be installed: the Spark test will skip"; }
	@[ -x $(SPARK_VENV)/bin/python ] && $(SPARK_VENV)/bin/python -c "import pyspark, duckdb, pyarrow" 2>/dev/null || { \
	  rm -rf $(SPARK_VENV) && python3 -m venv $(SPARK_VENV) && \
	  $(SPARK_VENV)/bin/pip install -q pyspark==4.0.1 duckdb==2.0.1 pyarrow==26.0.1; }

lint:
	python3 tools/module_cycles.py
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench-deps: deps
	@missing=$$(for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@[ -x $(BENCH_VENV)/bin/python ] || { python3 -m venv $(BENCH_VENV) && \
	  $(BENCH_VENV)/bin/pip install -q geopandas==1.2.0 shapely==2.2.0 pyogrio pyproj pandas pyarrow duckdb sedonadb geoarrow-pyarrow; }
	@$(BENCH_VENV)/bin/python -c "import duckdb, pyarrow, sedonadb, geoarrow.pyarrow" 2>/dev/null || $(BENCH_VENV)/bin/pip install -q pyarrow duckdb sedonadb geoarrow-pyarrow

bench: build bench-deps
	$(CARGO) bench --profile dev -p predio --bench geocoder
	$(CARGO) bench --profile dev -p predio --bench tiles
	benches/compare/import.sh
	benches/compare/geocode.sh
	benches/compare/compute.sh
	benches/compare/tiles.sh

# Each compare script once on small inputs, so that one a later change broke (as tiles.sh was
# by the API keys) is caught before figures are quoted. Not part of `make test`: it needs the
# peers (`make bench-deps`; tiles.sh installs martin 1.14 with cargo the first time, some 20
# minutes) and ../shared/data (Seoul, Cambridge).
bench-check: build bench-deps
	PROFILE=dev benches/compare/compute.sh 5000 20000 2
	benches/compare/import.sh 5000 2
	benches/compare/geocode.sh 20000 2
	CATALOG=target/bench-data/compute/data-5000-20000 ARCHIVE_RUNS=1 ROUNDS=2 benches/compare/tiles.sh 3s 8
	benches/compare/ab.sh $(PREDIO) $(PREDIO) 2000 5000 1

# cargo-fuzz on nightly (rustup toolchain install nightly): each target FUZZ_SECONDS, from the
# seeds in fuzz/seeds; a crash is left in fuzz/artifacts/TARGET and becomes a regression test.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := open311 reports_csv fixmystreet tile_path api_query
fuzz: deps
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$t && cp -n seeds/$$t/* corpus/$$t/ 2>/dev/null; \
	  $(CARGO) +nightly fuzz run --dev $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

# The server under load: 128 connections, 60 s, a new version mid-run (benches/load.sh).
load: build bench-deps
	benches/load.sh

clean:
	$(CARGO) clean
	rm -rf $(DEMO_TOWN) $(DEMO_DATA)
