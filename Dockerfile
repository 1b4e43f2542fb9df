# livelens worker / ingest / API image (CPU). docker compose builds it; not built on dev machines here.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng sox fonts-noto-cjk && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# torch first, from the CPU index: an unpinned torch would pull the CUDA build (GBs)
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY streams streams
COPY processors processors
COPY models models
COPY sinks sinks
COPY livelens livelens
COPY media media
COPY scripts scripts
RUN pip install --no-cache-dir . && (bash scripts/install_torchaudio.sh || true) && livelens setup-models || true
USER 1000
ENV LIVELENS_DATA_DIR=/data
CMD ["livelens", "worker"]
