//! `wasmq new NAME --lang rust|js|python`: a plugin project that builds
//! and runs as it is, so that writing a handler in any of the three
//! languages starts from something that works rather than from the docs.
//!
//! Each project holds a handler that greets its payload, a unit test of
//! its logic (run natively: `cargo test`, `node --test`, `python3 -m
//! unittest`), a manifest granting nothing (`NAME.toml`), a `build.sh`
//! that writes `NAME.wasm`, and a README saying how to build and
//! `wasmq call` it. The JS and Python projects carry their copy of the
//! WIT (`wit/`) and of the thin SDK, so they build anywhere; the Rust one
//! depends on this checkout's `plugin-sdk` by path (or `--sdk DIR`).
//!
//! Nothing is overwritten: an existing directory is refused.

mod js;
mod python;
mod rust;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `wasmq new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The plugin's task type: its directory, its file (`NAME.wasm`) and
    /// its queue; lowercase letters, digits and `-`, starting with a letter.
    pub name: String,
    /// The language of the handler.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// Where to create the project directory (default: here).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// With `--lang rust`: the `plugin-sdk` directory to depend on
    /// (default: the one of the checkout this wasmq was built from).
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

/// The languages a project can be scaffolded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Js,
    Python,
}

/// The WIT every JS and Python project carries (`wit/`), as in this
/// checkout.
const WIT: &[(&str, &str)] = &[
    ("wasmq.wit", include_str!("../../../wit/wasmq.wit")),
    (
        "deps/cli/cli.wit",
        include_str!("../../../wit/deps/cli/cli.wit"),
    ),
    (
        "deps/clocks/clocks.wit",
        include_str!("../../../wit/deps/clocks/clocks.wit"),
    ),
    (
        "deps/config/store.wit",
        include_str!("../../../wit/deps/config/store.wit"),
    ),
    (
        "deps/filesystem/filesystem.wit",
        include_str!("../../../wit/deps/filesystem/filesystem.wit"),
    ),
    (
        "deps/http/http.wit",
        include_str!("../../../wit/deps/http/http.wit"),
    ),
    (
        "deps/io/io.wit",
        include_str!("../../../wit/deps/io/io.wit"),
    ),
    (
        "deps/keyvalue/atomic.wit",
        include_str!("../../../wit/deps/keyvalue/atomic.wit"),
    ),
    (
        "deps/keyvalue/batch.wit",
        include_str!("../../../wit/deps/keyvalue/batch.wit"),
    ),
    (
        "deps/keyvalue/store.wit",
        include_str!("../../../wit/deps/keyvalue/store.wit"),
    ),
    (
        "deps/keyvalue/world.wit",
        include_str!("../../../wit/deps/keyvalue/world.wit"),
    ),
    (
        "deps/random/random.wit",
        include_str!("../../../wit/deps/random/random.wit"),
    ),
    (
        "deps/sockets/sockets.wit",
        include_str!("../../../wit/deps/sockets/sockets.wit"),
    ),
];

/// The manifest every project starts with: no grants.
fn manifest(name: &str) -> String {
    format!(
        "# The manifest of `{name}`: what it may do beyond log and progress.\n\
         # Everything is denied until granted here; see docs/plugins.md.\n\
         # [capabilities]\n\
         # http = [\"https://api.example.com\"]\n\
         # kv = [\"cache\"]\n\
         # [config]\n\
         # api = \"https://api.example.com/v1\"\n\
         # [secrets]\n\
         # token = \"env:API_TOKEN\"\n"
    )
}

/// Runs `wasmq new`: exit 0 once the project is written.
pub fn run(args: NewArgs) -> ExitCode {
    match scaffold(&args) {
        Ok(dir) => {
            println!(
                "created {} ({:?} plugin `{}`): see its README.md to build it and `wasmq call` it",
                dir.display(),
                args.lang,
                args.name
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Checks the name, then writes the project; returns its directory.
pub fn scaffold(args: &NewArgs) -> Result<PathBuf> {
    check_name(&args.name)?;
    let dir = args.dir.join(&args.name);
    if dir.exists() {
        bail!(
            "{} already exists: choose another NAME or --dir (nothing is overwritten)",
            dir.display()
        );
    }
    let mut files: Vec<(String, String)> =
        vec![(format!("{}.toml", args.name), manifest(&args.name))];
    match args.lang {
        Lang::Rust => {
            check_rust_name(&args.name)?;
            let sdk = match &args.sdk {
                Some(sdk) => sdk.clone(),
                None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk"),
            };
            let sdk = sdk.canonicalize().with_context(|| {
                format!(
                    "the Rust plugin SDK is not at {}: pass --sdk DIR (the plugin-sdk directory of a wasmq checkout)",
                    sdk.display()
                )
            })?;
            files.extend(rust::files(&args.name, &sdk));
        }
        Lang::Js => {
            files.extend(js::files(&args.name));
            files.extend(
                WIT.iter()
                    .map(|(p, t)| (format!("wit/{p}"), (*t).to_owned())),
            );
        }
        Lang::Python => {
            files.extend(python::files(&args.name));
            files.extend(
                WIT.iter()
                    .map(|(p, t)| (format!("wit/{p}"), (*t).to_owned())),
            );
        }
    }
    // Written into a temp directory renamed into place: a failure leaves
    // no half project behind.
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let temp = tempfile::Builder::new()
        .prefix(".wasmq-new-")
        .tempdir_in(&args.dir)
        .with_context(|| format!("cannot write in {}", args.dir.display()))?;
    for (path, text) in &files {
        let path = temp.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let temp = temp.keep();
    std::fs::rename(&temp, &dir)
        .with_context(|| format!("cannot move the project to {}", dir.display()))?;
    Ok(dir)
}

/// A task type usable as a directory, a file stem, a crate, a JS and a
/// Python module name.
fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !ok {
        bail!(
            "`{name}` is not a usable plugin name: use 1 to 64 lowercase letters, digits and `-`, \
             starting with a letter and not ending with `-` (e.g. `send-email`)"
        );
    }
    Ok(())
}

/// Names a Rust project cannot have: cargo refuses them as package (and
/// library) names, as `cargo new` would say.
fn check_rust_name(name: &str) -> Result<()> {
    const KEYWORDS: &[&str] = &[
        "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
        "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
        "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub",
        "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type",
        "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
    ];
    let why = if KEYWORDS.contains(&name) {
        "it is a Rust keyword"
    } else if ["test", "std", "core", "alloc", "proc-macro"].contains(&name) {
        "it conflicts with a crate built into Rust"
    } else if ["build", "deps", "examples", "incremental"].contains(&name) {
        "it conflicts with cargo's build directory names"
    } else if matches!(name, "con" | "prn" | "aux" | "nul")
        || (name.len() == 4
            && (name.starts_with("com") || name.starts_with("lpt"))
            && name.ends_with(|c: char| ('1'..='9').contains(&c)))
    {
        "it is a reserved file name on Windows"
    } else {
        return Ok(());
    };
    bail!(
        "`{name}` cannot be the name of a Rust plugin: cargo refuses it as a package name ({why}); \
         choose another NAME, e.g. `{name}-plugin`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_anything_is_written() {
        for good in ["a", "send-email", "resize2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Email",
            "2fa",
            "a_b",
            "a-",
            "a/b",
            "..",
            &"a".repeat(65),
        ] {
            let error = check_name(bad).unwrap_err().to_string();
            assert!(error.contains("not a usable plugin name"), "{bad}: {error}");
        }
    }

    #[test]
    fn rust_names_cargo_refuses_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        for bad in [
            "test",
            "fn",
            "self",
            "std",
            "proc-macro",
            "build",
            "nul",
            "com1",
        ] {
            let args = NewArgs {
                name: bad.into(),
                lang: Lang::Rust,
                dir: dir.path().to_owned(),
                sdk: None,
            };
            let error = scaffold(&args).unwrap_err().to_string();
            assert!(
                error.contains(&format!("`{bad}` cannot be the name of a Rust plugin"))
                    && error.contains(&format!("e.g. `{bad}-plugin`")),
                "{bad}: {error}"
            );
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        for good in ["tests", "testing", "fn-runner", "com0", "console"] {
            assert!(check_rust_name(good).is_ok(), "{good}");
        }
        // The other languages have no such rule.
        assert!(check_name("test").is_ok());
    }

    #[test]
    fn a_js_plugin_called_greet_keeps_its_handler() {
        let dir = tempfile::tempdir().unwrap();
        let args = NewArgs {
            name: "greet".into(),
            lang: Lang::Js,
            dir: dir.path().to_owned(),
            sdk: None,
        };
        let project = scaffold(&args).unwrap();
        let handler = std::fs::read_to_string(project.join("greet.js")).unwrap();
        assert!(
            handler.contains("export { handler_ as handler }"),
            "{handler}"
        );
        assert!(project.join(js::LOGIC).is_file() && project.join(js::TEST).is_file());
    }

    #[test]
    fn an_existing_directory_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("taken")).unwrap();
        let args = NewArgs {
            name: "taken".into(),
            lang: Lang::Python,
            dir: dir.path().to_owned(),
            sdk: None,
        };
        let error = scaffold(&args).unwrap_err().to_string();
        assert!(error.contains("already exists"), "{error}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("taken")).unwrap().count(),
            0
        );
    }

    #[test]
    fn each_language_writes_a_manifest_a_test_a_readme_and_a_build_script() {
        let dir = tempfile::tempdir().unwrap();
        for (lang, test) in [
            (Lang::Rust, "src/lib.rs"),
            (Lang::Js, js::TEST),
            (Lang::Python, "test_greet.py"),
        ] {
            let name = format!("hello-{lang:?}").to_lowercase();
            let args = NewArgs {
                name: name.clone(),
                lang,
                dir: dir.path().to_owned(),
                sdk: None,
            };
            let project = scaffold(&args).unwrap();
            for file in [
                format!("{name}.toml"),
                "README.md".into(),
                "build.sh".into(),
                test.into(),
            ] {
                assert!(project.join(&file).is_file(), "{lang:?}: {file}");
            }
            let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
            assert!(
                readme.contains(&format!("wasmq call {name}.wasm")),
                "{readme}"
            );
        }
    }
}
