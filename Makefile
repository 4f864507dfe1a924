# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	# torch first, pinned to the CPU wheel on disk: never pulls a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,plot]'
	# Compile the latents' decoder once (numba caches the machine code): no decode pays for it.
	$(BIN)/python -c "import sirencodec; sirencodec.decode(open('tests/format/golden/latent_gray.srn', 'rb').read())"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m sirencodec.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_decode.py

clean:
	rm -rf $(VENV) *.egg-info
