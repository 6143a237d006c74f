# Sourced by run.sh and test.sh: create .venv with Python 3.11 if missing and install
# the given requirements file plus finml itself (editable). Quiet when nothing changed.
req="$1"
py=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    py="$candidate"; break
  fi
done
if [ -z "$py" ]; then
  echo "finml needs Python 3.11 (python3.11 or python3 on PATH)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "finml: creating the virtual environment .venv ($py)"
  "$py" -m venv .venv
fi
stamp=".venv/.installed-$(cat "$req" requirements.txt pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "finml: installing $req into .venv (the first time takes a few minutes: TensorFlow, MLflow...)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$req" -e .
  echo "finml: installed"
  touch "$stamp"
fi
