#!/usr/bin/env bash
# Builds the Go-built servers and tools the project needs (one Go module per tool, pinned in
# scripts/tools/<tool>/go.mod) and caches each binary outside the clone, keyed by version:
#   ${KRE_CACHE_DIR:-~/.cache/kre}/bin/<tool>-<version>/<tool>
# A cached binary is reused, so a second run (or CI's fresh clone on the same machine) takes seconds.
#
# usage: scripts/tools/build.sh [tool...]   (default: every tool under scripts/tools)
#        scripts/tools/build.sh --path <tool>   prints the cached binary's path (builds it if missing)
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_DIR="${KRE_CACHE_DIR:-$HOME/.cache/kre}"

die() { printf 'scripts/tools: %s\n' "$*" >&2; exit 1; }

# The version of the module that provides the tool, read from its go.mod.
tool_version() {
  local dir="$TOOLS_DIR/$1" pkg mod
  pkg=$(awk '$1 == "tool" { print $2; exit }' "$dir/go.mod")
  [ -n "$pkg" ] || die "$dir/go.mod declares no tool"
  # The longest module path in the require block that is a prefix of the tool's package.
  mod=$(awk -v pkg="$pkg" '
    /^\t/ && (index(pkg, $1) == 1) && (length(pkg) == length($1) || substr(pkg, length($1) + 1, 1) == "/") {
      if (length($1) > best) { best = length($1); ver = $2 }
    }
    END { print ver }' "$dir/go.mod")
  [ -n "$mod" ] || die "cannot find the version of $pkg in $dir/go.mod"
  printf '%s\n' "$mod"
}

tool_bin() { printf '%s/bin/%s-%s/%s\n' "$CACHE_DIR" "$1" "$(tool_version "$1")" "$1"; }

# Builds in a scratch copy of the tool's module. Files under scripts/tools/<tool>/overlay/ are laid
# over a copy of the module that provides the tool (FerretDB, for one, needs a generated
# build/version/version.txt that its published module lacks), wired in with a `replace`.
build_in_workdir() {
  local tool="$1" dir="$2" pkg="$3" out="$4" work mod modver src
  work=$(mktemp -d "$CACHE_DIR/work-$tool.XXXXXX")
  cp "$dir/go.mod" "$dir/go.sum" "$work/"
  if [ -d "$dir/overlay" ]; then
    modver=$(tool_version "$tool")
    mod=$(cd "$work" && go list -m -f '{{.Path}}' all | awk -v pkg="$pkg" 'index(pkg, $0) == 1 { print }' | awk '{ print length, $0 }' | sort -rn | head -n1 | cut -d' ' -f2-)
    (cd "$work" && go mod download "$mod@$modver")
    src=$(cd "$work" && go list -m -f '{{.Dir}}' "$mod")
    cp -r "$src" "$work/patched"
    chmod -R u+w "$work/patched"
    cp -r "$dir/overlay/." "$work/patched/"
    (cd "$work" && go mod edit -replace "$mod=./patched")
  fi
  # scripts/tools/<tool>/ldflags: extra linker flags (the -X version stamps a project's Makefile sets);
  # {{version}}, {{major}} and {{minor}} stand for the tool's version from go.mod (v1.35.4, 1, 35).
  local ldflags='-s -w' version
  if [ -f "$dir/ldflags" ]; then
    version=$(tool_version "$tool")
    ldflags="$ldflags $(grep -v '^#' "$dir/ldflags" | tr '\n' ' ' | sed -e "s/{{version}}/$version/g" \
      -e "s/{{major}}/$(echo "$version" | cut -d. -f1 | tr -d v)/g" -e "s/{{minor}}/$(echo "$version" | cut -d. -f2)/g")"
  fi
  local status=0
  (cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags="$ldflags" -o "$out" "$pkg") || status=$?
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
  return "$status"
}

build_tool() {
  local tool="$1" dir="$TOOLS_DIR/$1" bin pkg tmp
  [ -f "$dir/go.mod" ] || die "unknown tool '$tool' (no $dir/go.mod)"
  bin=$(tool_bin "$tool")
  if [ -x "$bin" ]; then
    printf 'tools: %s cached at %s\n' "$tool" "$bin"
    return 0
  fi
  command -v go >/dev/null || die "Go is required to build $tool; install Go 1.26 (apt-get install golang or the machine's Go)"
  pkg=$(awk '$1 == "tool" { print $2; exit }' "$dir/go.mod")
  printf 'tools: building %s (%s) ...\n' "$tool" "$pkg"
  mkdir -p "$(dirname "$bin")"
  tmp="$bin.tmp.$$"
  local started=$SECONDS
  if ! build_in_workdir "$tool" "$dir" "$pkg" "$tmp" >"$CACHE_DIR/build-$tool.log" 2>&1; then
    rm -f "$tmp"
    tail -n 30 "$CACHE_DIR/build-$tool.log" >&2
    die "building $tool failed; full log: $CACHE_DIR/build-$tool.log"
  fi
  # `go build -o` of a package that is not `main` writes an archive, not a program.
  if [ ! -x "$tmp" ]; then
    rm -f "$tmp"
    die "$pkg (scripts/tools/$tool/go.mod's tool) is not a main package: nothing to run"
  fi
  mv "$tmp" "$bin" # atomic: a concurrent reader never sees a half-written binary
  printf 'tools: built %s in %ss -> %s\n' "$tool" "$((SECONDS - started))" "$bin"
}

if [ "${1:-}" = "--path" ]; then
  [ -n "${2:-}" ] || die "usage: $0 --path <tool>"
  bin=$(tool_bin "$2")
  [ -x "$bin" ] || build_tool "$2" >&2
  printf '%s\n' "$bin"
  exit 0
fi

mkdir -p "$CACHE_DIR"
if [ $# -eq 0 ]; then
  set -- $(cd "$TOOLS_DIR" && for d in */; do [ -f "$d/go.mod" ] && printf '%s ' "${d%/}"; done)
fi

# Build in parallel; fail if any build fails.
pids=()
for tool in "$@"; do
  build_tool "$tool" &
  pids+=("$!")
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit "$status"
