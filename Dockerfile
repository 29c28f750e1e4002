# PolicyQA API image: CPU torch, the packaged model baked in, non-root, no build tools at run time.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1
# CPU wheel of torch (an unpinned torch pulls a multi-GB CUDA build).
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY ingest ingest
COPY service service
COPY lab lab
RUN pip install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 policyqa
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY corpora corpora
COPY seeds seeds
ENV PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    POLICYQA_DATA_DIR=/data \
    POLICYQA_CATALOG_DIR=/app/corpora
RUN mkdir -p /data && chown policyqa /data
USER policyqa
EXPOSE 8000
# Ingest the mounted seeds (idempotent: unchanged files write nothing), then serve. `exec`:
# the server replaces the shell as PID 1, so `docker stop`'s SIGTERM reaches it (a clean
# shutdown, exit 0) instead of a shell that dies and leaves it to be killed.
CMD ["sh", "-c", "policyqa ingest /app/seeds && exec policyqa serve --host 0.0.0.0 --port 8000"]
