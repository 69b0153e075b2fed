#!/usr/bin/env bash
# Creates (or refreshes) the Python runner's dev virtualenv at <repo>/.data/python/runner-venv:
# the runner installed editable, plus pytest. Idempotent: when the venv exists and pyproject.toml
# has not changed since it was built, it returns at once. Prints the venv's path.
#   runners/python/scripts/venv.sh            # create / refresh
#   PYTHON=python3.12 runners/python/scripts/venv.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${KRE_RUNNER_VENV:-$repo/.data/python/runner-venv}"
python="${PYTHON:-python3}"
stamp="$venv/.kre-runner-stamp"
want="$(cat "$here/pyproject.toml" | sha256sum | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$venv"
  exit 0
fi

if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "venv.sh: $python is missing or older than 3.11 (set PYTHON=/path/to/python3.11+)" >&2
  exit 1
fi
mkdir -p "$(dirname "$venv")"
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here[dev]" >&2
echo "$want" >"$stamp"
echo "$venv"
