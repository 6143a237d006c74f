#!/usr/bin/env bash
# Install what the tests need (Python packages into .venv, Debian's chromium for the
# browser test when it is missing), check lint and format, and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser test..."
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
source scripts/venv.sh requirements-dev.txt
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Two test processes (pytest-xdist), one file each at a time: module fixtures stay shared.
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
