# Sourced by build.sh: installs the pinned JavaScript and Python component
# toolchains under plugins/.toolchains (git-ignored, kept between runs) and
# builds the plugins written in JavaScript, Python and Go into dist/.
#
# Why pinned and local: the components' bytes depend on the toolchain (a JS
# or Python component embeds its engine), so every machine and CI run must
# use the same one; installing into the tree needs no root and no global
# npm or pip state. A toolchain is installed once per version (a stamp file
# names it) and a plugin is rebuilt only when a file it is built from is
# newer than its dist/ file: these builds take 10-30 s each, and their
# output is not byte-for-byte reproducible, so rebuilding for nothing would
# also recompile it in every host's cache.
#
# Expects: $here (the plugins directory), dist/ as the current directory.

COMPONENTIZE_JS_VERSION=0.23.0
COMPONENTIZE_PY_VERSION=0.25.1
toolchains="$here/.toolchains"
root="$(cd "$here/.." && pwd)"

polyglot_need() { # <command> <how to get it>
    if ! command -v "$1" >/dev/null; then
        echo "build.sh: \`$1\` is missing, and the JavaScript and Python plugins need it: $2" >&2
        exit 1
    fi
}

js_toolchain() {
    local dir="$toolchains/js" stamp="$toolchains/js/.installed-$COMPONENTIZE_JS_VERSION"
    [[ -f "$stamp" ]] && return
    polyglot_need node "install Node.js 18 or newer (Debian: apt-get install nodejs npm)"
    polyglot_need npm "install npm (Debian: apt-get install npm)"
    echo "build.sh: installing componentize-js $COMPONENTIZE_JS_VERSION into plugins/.toolchains/js" >&2
    rm -rf "$dir" && mkdir -p "$dir"
    printf '{ "private": true, "dependencies": { "@bytecodealliance/componentize-js": "%s" } }\n' \
        "$COMPONENTIZE_JS_VERSION" >"$dir/package.json"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null) || {
        echo "build.sh: npm could not install @bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION: is the npm registry reachable?" >&2
        exit 1
    }
    touch "$stamp"
}

py_toolchain() {
    local dir="$toolchains/py" stamp="$toolchains/py/.installed-$COMPONENTIZE_PY_VERSION"
    [[ -f "$stamp" ]] && return
    polyglot_need python3 "install Python 3.10 or newer with venv (Debian: apt-get install python3 python3-venv)"
    echo "build.sh: installing componentize-py $COMPONENTIZE_PY_VERSION into plugins/.toolchains/py" >&2
    rm -rf "$dir"
    python3 -m venv "$dir" || {
        echo "build.sh: python3 cannot create a venv: install python3-venv (Debian: apt-get install python3-venv)" >&2
        exit 1
    }
    "$dir/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION" || {
        echo "build.sh: pip could not install componentize-py==$COMPONENTIZE_PY_VERSION: is PyPI reachable?" >&2
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
        "$toolchains/js/.installed-$COMPONENTIZE_JS_VERSION" && return
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
        "$toolchains/py/.installed-$COMPONENTIZE_PY_VERSION" && return
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
