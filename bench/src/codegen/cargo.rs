//! Running cargo: building the plugin, and the cleaned-then-timed builds of the generated
//! crates, each checked to have really regenerated and recompiled the code.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

/// cargo as the bench was started with it: `CARGO` under `cargo run`, so the same toolchain
/// builds everything, else whatever `cargo` is on the PATH.
pub fn command() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

/// Runs `cmd`, failing with `what` and the end of its stderr unless it exits successfully.
pub fn run(cmd: &mut Command, what: &str) -> Result<Output> {
    let output = cmd
        .output()
        .with_context(|| format!("{what}: starting {cmd:?}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}",
            output.status,
            stderr_tail(&output.stderr)
        );
    }
    Ok(output)
}

/// The last lines of a tool's stderr: where cargo and protoc put the error that matters.
pub fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The JSON messages cargo wrote to stdout under `--message-format=json-*`.
fn messages(stdout: &[u8]) -> impl Iterator<Item = Value> + '_ {
    stdout
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
}

/// Builds protoc-gen-micro (release) in the workspace and returns the executable cargo reports,
/// which is right wherever `CARGO_TARGET_DIR` or a config puts the target directory.
pub fn build_plugin(workspace_root: &Path) -> Result<PathBuf> {
    let output = run(
        command()
            .current_dir(workspace_root)
            .args(["build", "--release", "-p", "protoc-gen-micro"])
            .arg("--message-format=json-render-diagnostics"),
        "building protoc-gen-micro",
    )?;
    messages(&output.stdout)
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "protoc-gen-micro")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo reported no protoc-gen-micro executable")
}

/// One generated crate, and the target directory it shares with the other.
pub struct Crate<'a> {
    /// The package name (`gen-micro`).
    pub name: &'a str,
    /// The directory holding its Cargo.toml.
    pub dir: &'a Path,
    /// The shared `CARGO_TARGET_DIR`.
    pub target_dir: &'a Path,
}

/// What one build of a crate showed.
pub struct Build {
    /// Wall time of `cargo build`.
    pub seconds: f64,
    /// The build script's `OUT_DIR`, where the generated code is.
    pub out_dir: PathBuf,
    /// Whether the crate's library was compiled rather than found fresh.
    pub compiled: bool,
    /// Other packages that were compiled (not found fresh) along the way.
    pub others: Vec<String>,
}

/// Attempts at a clean build before giving up on sources that keep changing under the bench.
const ATTEMPTS: usize = 3;

impl Crate<'_> {
    fn cargo(&self, args: &[&str]) -> Command {
        let mut cmd = command();
        cmd.current_dir(self.dir)
            .env("CARGO_TARGET_DIR", self.target_dir)
            .args(args)
            .arg("--manifest-path")
            .arg(self.dir.join("Cargo.toml"));
        cmd
    }

    /// `cargo build` (debug, as a user iterating on protos runs it), timed.
    pub fn build(&self) -> Result<Build> {
        let mut cmd = self.cargo(&["build", "--message-format=json-render-diagnostics"]);
        let start = Instant::now();
        let output = run(&mut cmd, &format!("cargo build of {}", self.name))?;
        let seconds = start.elapsed().as_secs_f64();
        let manifest = self.dir.join("Cargo.toml");
        let messages: Vec<Value> = messages(&output.stdout).collect();
        // Build script runs name the package only by id, which artifacts pair with a manifest.
        let ours = |m: &&Value| m["manifest_path"].as_str().map(Path::new) == Some(&manifest);
        let id = messages.iter().find(ours).map(|m| m["package_id"].clone());
        let out_dir = messages
            .iter()
            .filter(|m| {
                m["reason"] == "build-script-executed" && Some(&m["package_id"]) == id.as_ref()
            })
            .find_map(|m| m["out_dir"].as_str().map(PathBuf::from));
        let compiled = messages.iter().filter(ours).any(|m| {
            let kinds = m["target"]["kind"].as_array();
            m["reason"] == "compiler-artifact"
                && m["fresh"] == false
                && kinds.is_some_and(|k| k.iter().any(|k| k == "lib"))
        });
        let others = messages
            .iter()
            .filter(|m| m["reason"] == "compiler-artifact" && m["fresh"] == false)
            .filter(|m| !ours(m))
            .filter_map(|m| m["target"]["name"].as_str().map(str::to_owned))
            .collect();
        let out_dir =
            out_dir.with_context(|| format!("{}: no build script output reported", self.name))?;
        Ok(Build {
            seconds,
            out_dir,
            compiled,
            others,
        })
    }

    /// `cargo build` after `cargo clean -p`, timed: what a user pays on every proto change.
    ///
    /// Checked to measure just that. An untimed build first brings every dependency up to date;
    /// the clean must remove the generated code, so the build script has to run again; the
    /// library must be compiled, and nothing else may be. A dependency compiled in the timed
    /// build means its sources changed meanwhile (micro's own crates are path dependencies
    /// that may be under edit), so the round is run again.
    pub fn clean_build(&self) -> Result<Build> {
        for attempt in 1..=ATTEMPTS {
            let out_dir = self.build()?.out_dir;
            let clean = format!("cargo clean -p {}", self.name);
            run(&mut self.cargo(&["clean", "-p", self.name]), &clean)?;
            if out_dir.exists() {
                bail!("`{clean}` left the generated code in {}", out_dir.display());
            }
            let build = self.build()?;
            if !build.compiled || !build.out_dir.join("svc0.rs").exists() {
                bail!(
                    "{}: the build after `{clean}` did not regenerate",
                    self.name
                );
            }
            if build.others.is_empty() {
                return Ok(build);
            }
            eprintln!(
                "codegen_build: {} changed during attempt {attempt}/{ATTEMPTS} ({}); again",
                build.others.join(", "),
                self.name
            );
        }
        bail!("{}: dependencies kept changing during the bench", self.name)
    }
}
