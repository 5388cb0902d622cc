#!/usr/bin/env bash
# The test command of the README: installs the package with its test tools, then runs pytest.
# Tests that need a server binary that is missing say so when they skip; .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[dev]'
exec python3 -m pytest "$@"
