# Sourced by bench/*.sh (after `cd` to the repository): the checks and the build each benchmark
# script starts with. SKIP_BUILD=1 uses the existing build; BUILD_DIR=DIR builds into DIR
# instead of dist/ (a second checkout's benchmark must not overwrite another's build).

# bench_need_root NAME WHY: refuses to go on unless run as root.
bench_need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "$1: run as root ($2)" >&2
    exit 1
  fi
}

# bench_need_tools NAME PACKAGES TOOL...: refuses to go on unless every TOOL is on PATH.
bench_need_tools() {
  local name="$1" packages="$2"
  shift 2
  for tool in "$@"; do
    command -v "$tool" >/dev/null || {
      echo "$name: $tool not found (apt-get install $packages)" >&2
      exit 1
    }
  done
}

# bench_run SCRIPT.js ARGS...: builds (unless SKIP_BUILD) and replaces this shell with
# node BUILD_DIR/bench/SCRIPT.js ARGS...
bench_run() {
  local script="$1"
  shift
  local build_dir="${BUILD_DIR:-dist}"
  if [ -z "${SKIP_BUILD:-}" ]; then
    npx tsc -p . --outDir "$build_dir"
  fi
  exec node "$build_dir/bench/$script" "$@"
}
