#!/usr/bin/env bash
# Install finml into .venv and launch the studio on the embedded defaults:
# built-in demo data, MLflow tracking in a local SQLite file under ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh requirements.txt
exec .venv/bin/streamlit run serve.py --server.address "${FINML_ADDRESS:-127.0.0.1}" "$@"
