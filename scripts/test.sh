#!/usr/bin/env bash
# Install what the tests need (Python packages into .venv; Debian's chromium for the
# browser tests and postgresql for the system tests when missing), check lint and format,
# and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"  # the browser tests
# the PDF report (WeasyPrint lays it out with Pango)
ldconfig -p | grep -q libpangoft2-1.0 || missing="$missing libpango-1.0-0 libpangoft2-1.0-0"
# the system tests start a throwaway PostgreSQL cluster under an mlflow server
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
if [ -n "$missing" ]; then
  echo "Installing from Debian:$missing"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi
source scripts/venv.sh requirements-dev.txt
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Two test processes (pytest-xdist), one file each at a time: module fixtures stay shared.
# One thread each for OpenMP, BLAS and TensorFlow (their workers and servers inherit it):
# two processes of two spinning OpenMP threads on 2 cores made boosting 4x slower.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
