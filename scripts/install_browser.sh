#!/usr/bin/env bash
# Headless browser for the dashboard end-to-end test (tests/sinks/web/test_dashboard_e2e.py):
# Debian's chromium + the matching chromedriver, a CJK font, and selenium in the project venv.
# Idempotent: installs only what is missing. Never downloads browsers from anywhere else.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"

# fonts-wqy-microhei: a small CJK font, so Chinese chat/transcripts render (not tofu) in screenshots
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 \
    || ! fc-list 2>/dev/null | grep -qi "wqy"; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-wqy-microhei
fi

if ! "$PYTHON" -c "import selenium" >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q "selenium>=4.10"
fi

echo "chromium:     $(chromium --version 2>/dev/null || echo missing)"
echo "chromedriver: $(chromedriver --version 2>/dev/null || echo missing)"
echo "CJK font:     $(fc-list 2>/dev/null | grep -i -m1 -o 'WenQuanYi[^,:]*' || echo missing)"
echo "selenium:     $("$PYTHON" -c 'import selenium; print(selenium.__version__)')"
