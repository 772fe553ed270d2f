#!/usr/bin/env bash
# Builds every plugin in release mode and copies it to dist/<task type>.wasm.
#
# Components (WASI 0.2, the wasmq contract) are built for wasm32-wasip2; the
# `upper` plugin is a plain WASI command built for wasm32-wasip1. A plugin is
# copied only when its bytes changed, with one line giving its size, so an
# up-to-date tree builds in a second and prints only cargo's "Finished".
#
#   bash plugins/build.sh              # every plugin (Rust, JS, Python, Go)
#   bash plugins/build.sh --rust-only  # the Rust ones (the demo needs no more)
set -euo pipefail

rust_only=
case "${1:-}" in
    "") ;;
    --rust-only) rust_only=1 ;;
    *) echo "build.sh: unknown argument '$1'; use --rust-only or nothing" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
# Our own target directory, whatever the caller's (tests may set another).
export CARGO_TARGET_DIR="$here/target"

# task type -> cargo crate. Cargo turns `-` into `_` in output file names, so
# the mapping is explicit rather than guessed from directory names.
declare -A components=(
    [noop]=noop
    [echo]=echo
    [echo-v2]=echo-v2
    [email]=email
    [image]=image
    [cpu50]=cpu50
    [counter]=counter
    [loop]=loop
    [fuel-hog]=fuel-hog
    [membomb]=membomb
    [recurse]=recurse
    [escape]=escape
    [bigout]=bigout
    [panic]=panic
    [wrong-world]=wrong-world
    [future-major]=future-major
    [sleeper]=sleeper
    [fetch]=fetch
    [settings]=settings
    [tally]=tally
    [sleep200]=sleep200
    [stall]=stall
    [fanout]=fanout
    [fanin]=fanin
    [contract-v01]=contract-v01
)
declare -A commands=(
    [upper]=upper
    [stall-cmd]=stall-cmd
)

if command -v rustup >/dev/null; then
    installed="$(rustup target list --installed)"
    for target in wasm32-wasip1 wasm32-wasip2; do
        grep -qx "$target" <<<"$installed" || rustup target add "$target"
    done
fi

build() { # <target> <crate>...
    local target="$1" args=()
    shift
    for crate in "$@"; do args+=(-p "$crate"); done
    # Not --quiet: a first build takes minutes, and its progress shows.
    cargo build --release --locked --target "$target" "${args[@]}"
}
build wasm32-wasip2 "${components[@]}"
build wasm32-wasip1 "${commands[@]}"

mkdir -p dist
install_plugin() { # <task type> <built file>
    local type="$1" built="$2" dest="dist/$1.wasm"
    if [[ ! -f "$built" ]]; then
        echo "build.sh: $built is missing after the build: does the crate for '$type' still exist?" >&2
        exit 1
    fi
    if ! cmp -s "$built" "$dest"; then
        cp "$built" "$dest.tmp"
        mv "$dest.tmp" "$dest"
        printf '%-14s %9d bytes  %s\n' "$type" "$(stat -c %s "$dest")" "plugins/$dest"
    fi
}
while read -r type; do
    install_plugin "$type" "target/wasm32-wasip2/release/${components[$type]//-/_}.wasm"
done < <(printf '%s\n' "${!components[@]}" | sort)
while read -r type; do
    install_plugin "$type" "target/wasm32-wasip1/release/${commands[$type]}.wasm"
done < <(printf '%s\n' "${!commands[@]}" | sort)

# JavaScript, Python and Go plugins (toolchains pinned and cached there).
[[ -n "$rust_only" ]] || source "$here/polyglot.sh"
