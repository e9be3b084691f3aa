#!/usr/bin/env bash
# Install everything, then run the demo on the embedded default (no servers needed):
# fetch Big Buck Bunny, ingest + analyse it, personalize sample users, generate their assets,
# and write an HTML gallery.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${GENPERSO_VENV:-$(pwd)/.venv}
exec "$VENV/bin/genperso" demo "$@"
