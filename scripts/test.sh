#!/usr/bin/env bash
# Install everything, then run the whole test suite (unit, integration against the local Redis
# with a real Celery worker process, browser tests in Chromium). Exit code 5 (no tests) fails.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
VENV=${GENPERSO_VENV:-$(pwd)/.venv}
mkdir -p test-output
export PATH="$VENV/bin:$PATH"  # console scripts the tests start (genperso worker, moto_server)
"$VENV/bin/python" -m pytest -q -p no:cacheprovider --durations=15 "$@"
rc=$?
if [ "$rc" = 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi
exit "$rc"
