# Sourced by build.sh: installs the pinned JavaScript and Python component
# toolchains under plugins/.toolchains (git-ignored, kept between runs) and
# builds the plugins written in JavaScript, Python and Go into dist/.
#
# Why pinned and local: the components' bytes depend on the toolchain (a JS
# or Python component embeds its engine), so every machine and CI run must
# use the same one; installing into the tree needs no root and no global
# npm or pip state. A toolchain is installed once per pin (a stamp file
# names a hash of its pin files) and a plugin is rebuilt only when a file it is built from is
# newer than its dist/ file: these builds take 10-30 s each, and their
# output is not byte-for-byte reproducible, so rebuilding for nothing would
# also recompile it in every host's cache.
#
# Expects: $here (the plugins directory), dist/ as the current directory.

# The pins live in plugins/toolchains/: js/package.json with its
# package-lock.json (every sub-dependency locked, installed with `npm ci`),
# and py/requirements.txt. `wasmq new` writes the same versions into its
# projects (its unit tests read these files, so the two cannot drift).
pins="$here/toolchains"
COMPONENTIZE_JS_VERSION="$(sed -n 's/.*"@bytecodealliance\/componentize-js": *"\([^"]*\)".*/\1/p' "$pins/js/package.json")"
COMPONENTIZE_PY_VERSION="$(sed -n 's/^componentize-py==\([^ ]*\)$/\1/p' "$pins/py/requirements.txt")"
if [[ -z "$COMPONENTIZE_JS_VERSION" || -z "$COMPONENTIZE_PY_VERSION" ]]; then
    echo "build.sh: no componentize-js pin in plugins/toolchains/js/package.json or no componentize-py==VERSION line in plugins/toolchains/py/requirements.txt" >&2
    exit 1
fi
# componentize-js 0.23's dependencies (oxc-parser, jco) need Node 20.19+.
NODE_MIN_MAJOR=20 NODE_MIN_MINOR=19
toolchains="$here/.toolchains"
root="$(cd "$here/.." && pwd)"

polyglot_need() { # <command> <how to get it>
    if ! command -v "$1" >/dev/null; then
        echo "build.sh: \`$1\` is missing, and the JavaScript and Python plugins need it: $2" >&2
        exit 1
    fi
}

# The stamp of an installed toolchain: a hash of the files that pin it, so
# that a changed pin (or lock) reinstalls it.
pin_stamp() { # <pin file>...
    echo ".installed-$(cat "$@" | sha256sum | cut -c1-16)"
}

node_check() {
    local how="run \`bash tests/deps.sh\` (it installs Node.js 20 where the system's is older), or get Node.js 20.19+ from https://nodejs.org or NodeSource"
    polyglot_need node "$how"
    polyglot_need npm "$how"
    local version major minor
    version="$(node --version)"
    major="$(sed -n 's/^v\([0-9]*\)\..*/\1/p' <<<"$version")"
    minor="$(sed -n 's/^v[0-9]*\.\([0-9]*\)\..*/\1/p' <<<"$version")"
    if [[ -z "$major" || "$major" -lt "$NODE_MIN_MAJOR" ||
        ("$major" -eq "$NODE_MIN_MAJOR" && "$minor" -lt "$NODE_MIN_MINOR") ]]; then
        echo "build.sh: node is $version ($(command -v node)), and componentize-js $COMPONENTIZE_JS_VERSION needs Node.js $NODE_MIN_MAJOR.$NODE_MIN_MINOR or newer: $how" >&2
        exit 1
    fi
}

js_toolchain() {
    local dir="$toolchains/js" stamp
    stamp="$dir/$(pin_stamp "$pins/js/package.json" "$pins/js/package-lock.json")"
    [[ -f "$stamp" ]] && return
    node_check
    echo "build.sh: installing componentize-js $COMPONENTIZE_JS_VERSION (plugins/toolchains/js/package-lock.json) into plugins/.toolchains/js" >&2
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$pins/js/package.json" "$pins/js/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || {
        echo "build.sh: \`npm ci\` could not install plugins/toolchains/js/package-lock.json: is the npm registry reachable?" >&2
        exit 1
    }
    touch "$stamp"
}

py_toolchain() {
    local dir="$toolchains/py" stamp
    stamp="$dir/$(pin_stamp "$pins/py/requirements.txt")"
    [[ -f "$stamp" ]] && return
    polyglot_need python3 "install Python 3.10 or newer with venv (Debian: apt-get install python3 python3-venv)"
    echo "build.sh: installing componentize-py $COMPONENTIZE_PY_VERSION (plugins/toolchains/py/requirements.txt) into plugins/.toolchains/py" >&2
    rm -rf "$dir"
    python3 -m venv "$dir" || {
        echo "build.sh: python3 cannot create a venv: install python3-venv (Debian: apt-get install python3-venv)" >&2
        exit 1
    }
    "$dir/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$pins/py/requirements.txt" || {
        echo "build.sh: pip could not install plugins/toolchains/py/requirements.txt (componentize-py==$COMPONENTIZE_PY_VERSION): is PyPI reachable?" >&2
        exit 1
    }
    touch "$stamp"
}

# Whether dist/<type>.wasm exists and no file under the inputs is newer.
up_to_date() { # <dest> <input>...
    local dest="$1"
    shift
    [[ -f "$dest" ]] || return 1
    [[ -z "$(find "$@" -type f -newer "$dest" -not -path '*/__pycache__/*' -print -quit)" ]]
}

polyglot_install() { # <task type> <built file>
    mv "$2" "dist/$1.wasm"
    printf '%-14s %9d bytes  %s\n' "$1" "$(stat -c %s "dist/$1.wasm")" "plugins/dist/$1.wasm"
}

build_js() { # <task type> <entry, from the repository root> <world>
    local type="$1" entry="$2" world="$3" tmp="$here/dist/.$1.wasm.tmp"
    up_to_date "dist/$type.wasm" "$root/$(dirname "$entry")" "$root/plugin-sdk-js" "$root/wit" \
        "$pins/js" && return
    # componentize-js resolves the source and the WIT from its working
    # directory: run it at the root with relative paths.
    (cd "$root" && "$toolchains/js/node_modules/.bin/componentize-js" "$entry" --wit wit \
        --world-name "$world" --disable stdio fetch-event -o "$tmp" >/dev/null) || {
        echo "build.sh: componentize-js failed on $entry (world $world)" >&2
        exit 1
    }
    polyglot_install "$type" "$tmp"
}

build_py() { # <task type> <plugin directory, from the root> <module> <world>
    local type="$1" dir="$2" module="$3" world="$4" tmp="$here/dist/.$1.wasm.tmp"
    up_to_date "dist/$type.wasm" "$root/$dir" "$root/plugin-sdk-py" "$root/wit" \
        "$pins/py" && return
    (cd "$root" && PYTHONDONTWRITEBYTECODE=1 "$toolchains/py/bin/componentize-py" -d wit -w "$world" \
        componentize -p "$dir" -p plugin-sdk-py "$module" -o "$tmp" >/dev/null) || {
        echo "build.sh: componentize-py failed on $dir/$module.py (world $world)" >&2
        exit 1
    }
    polyglot_install "$type" "$tmp"
}

# A Go >= 1.21 (the first with GOOS=wasip1), or nothing.
go_command() {
    local go
    for go in go /usr/lib/go-1.2[1-9]/bin/go; do
        command -v "$go" >/dev/null || continue
        local minor
        minor="$("$go" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
        [[ -n "$minor" && "$minor" -ge 21 ]] && { echo "$go"; return; }
    done
}

build_go() { # <task type> <module directory, from the root>
    local type="$1" dir="$2" tmp="$here/dist/.$1.wasm.tmp" go
    go="$(go_command)"
    if [[ -z "$go" ]]; then
        echo "build.sh: skipping $type: it needs Go 1.21 or newer (GOOS=wasip1); Debian bookworm has it in bookworm-backports (apt-get install -t bookworm-backports golang-1.23-go)" >&2
        rm -f "dist/$type.wasm"
        return
    fi
    up_to_date "dist/$type.wasm" "$root/$dir" && return
    (cd "$root/$dir" && GOTOOLCHAIN=local GOOS=wasip1 GOARCH=wasm GOFLAGS=-mod=mod \
        "$go" build -trimpath -o "$tmp" .) || {
        echo "build.sh: go build failed in $dir" >&2
        exit 1
    }
    polyglot_install "$type" "$tmp"
}

js_toolchain
py_toolchain
build_js email-js plugins/js/email/email.js http-handler
build_py email-py plugins/python/email app http-handler
build_go upper-go plugins/go/upper
