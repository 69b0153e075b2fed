#!/usr/bin/env bash
# Runs the runner's tests against several protobuf releases (the runner supports 3.20 to 7.x),
# each in its own virtualenv under <repo>/.data/python/pb-<version>.
#   runners/python/scripts/protobuf-matrix.sh [3.20.3 4.21.12 5.29.6 6.33.6 ...] [-- pytest args]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
versions=()
while [[ $# -gt 0 && "$1" != "--" ]]; do versions+=("$1"); shift; done
[[ "${1:-}" == "--" ]] && shift
[[ ${#versions[@]} -gt 0 ]] || versions=(3.20.3 4.21.12 5.29.6 6.33.6)
status=0
for v in "${versions[@]}"; do
  venv="$repo/.data/python/pb-$v"
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  # Every run: the runner's dependencies may have changed (pip is quick when nothing has).
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here[dev]" "protobuf==$v" >&2
  echo "== protobuf $v"
  (cd "$here" && "$venv/bin/python" -m pytest "$@") || status=1
done
exit $status
