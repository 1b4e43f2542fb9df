#!/usr/bin/env bash
# Install torchaudio's pure-Python parts on a CPU-only torch (docs/ARCHITECTURE.md, "torchaudio").
#
# PyPI only has CUDA-linked torchaudio wheels. Installed with --no-deps (so pip does not swap the
# CPU torch for a CUDA build), its compiled libraries fail to load against the CPU torch; with
# them removed, torchaudio falls back to pure Python and torchaudio.functional / .transforms
# (Resample, MelSpectrogram, MFCC, detect_pitch_frequency, ...) work. torchaudio.load/save need
# torchcodec, unusable here: decode media with PyAV instead.
#
# Idempotent: re-running only re-checks. Usage: scripts/install_torchaudio.sh [path/to/python]
set -euo pipefail
PYTHON="${1:-.venv/bin/python}"
VERSION="${TORCHAUDIO_VERSION:-2.11.0}"

if ! "$PYTHON" -c "import torchaudio" >/dev/null 2>&1 || \
   [ "$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("torchaudio").split("+")[0])' 2>/dev/null)" != "$VERSION" ]; then
  "$PYTHON" -m pip install --quiet --no-deps "torchaudio==${VERSION}"
fi

# The three compiled libraries in torchaudio/lib (_torchaudio, libtorchaudio, torchaudio_prefixctc)
# are linked against a CUDA torch; keep lib/__init__.py, delete the shared objects.
LIB_DIR="$("$PYTHON" - <<'PY'
import importlib.util, pathlib
spec = importlib.util.find_spec("torchaudio")
print(pathlib.Path(spec.origin).parent / "lib")
PY
)"
rm -f "$LIB_DIR"/*.so

"$PYTHON" - <<'PY'
import torch, torchaudio, torchaudio.functional as F, torchaudio.transforms as T
wave = torch.sin(2 * torch.pi * 200 * torch.arange(16000) / 16000).unsqueeze(0)
pitch = F.detect_pitch_frequency(wave, 16000)
T.MelSpectrogram(16000, n_mels=64)(wave); T.Resample(16000, 8000)(wave)
assert abs(float(pitch.median()) - 200) < 20, pitch
print(f"torchaudio {torchaudio.__version__} OK (pure Python, torch {torch.__version__})")
PY
