//! The codegen scenarios: what micro's generator costs a developer, next to tonic's.
//!
//! - `codegen_plugin`: protoc running protoc-gen-micro over one large proto (100 services of
//!   10 methods; 10 services when quick), the wall time of one `protoc` invocation.
//! - `codegen_build`: a clean `cargo build` of a crate generated from 50 protos, once with
//!   micro-build and once with tonic-prost-build: what each proto change costs, dependencies
//!   already built.
//!
//! Both build real crates with cargo, in a work directory that persists across runs so that
//! dependencies are compiled once.
//!
//! ## Layout
//! - `protos`: the proto sources; `crates`: the two generated crates; `cargo`: running cargo.

mod cargo;
mod crates;
mod protos;

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::record::{Record, median};

/// Where and how the codegen scenarios run.
pub struct CodegenOptions {
    /// Smoke-test sizes: 10 services instead of 100 for the plugin, 5 protos instead of 50 for
    /// the build.
    pub quick: bool,
    /// Timed repetitions; each record holds their median.
    pub reps: usize,
    /// micro's workspace: holds `Cargo.toml`, `Cargo.lock`, `micro-runtime/` and `micro-build/`.
    pub workspace_root: PathBuf,
    /// Scratch directory kept across runs (e.g. `<target>/micro-bench`), so dependencies of
    /// the generated crates are built once.
    pub work_dir: PathBuf,
}

/// Services (of 10 methods each) in the `codegen_plugin` proto. The generated code grows by
/// about 9,000 lines per service and protoc-gen-micro takes seconds for all 100, so quick mode
/// runs a tenth of that.
const PLUGIN_SERVICES: usize = 100;

/// Services in quick mode: well under a second.
const PLUGIN_SERVICES_QUICK: usize = 10;

/// Methods per service in the `codegen_plugin` proto.
const PLUGIN_METHODS: usize = 10;

/// `codegen_plugin`: builds protoc-gen-micro (release) and times protoc running it over a
/// proto of 100 services × 10 methods (10 services when quick), each method with its own
/// request and response.
pub fn plugin(opts: &CodegenOptions) -> Result<Vec<Record>> {
    check_reps(opts.reps)?;
    let dir = opts.work_dir.join("codegen-plugin");
    let proto = dir.join("proto/bench.proto");
    let services = if opts.quick {
        PLUGIN_SERVICES_QUICK
    } else {
        PLUGIN_SERVICES
    };
    crates::write_if_changed(&proto, &protos::file("bench", 0..services, PLUGIN_METHODS))?;
    eprintln!("codegen_plugin: building protoc-gen-micro (release)");
    let plugin = cargo::build_plugin(&opts.workspace_root)?;
    let protoc = protoc_bin_vendored::protoc_bin_path().context("finding the vendored protoc")?;

    let run_once = || -> Result<f64> {
        // A fresh output directory each time, so every run writes its files anew.
        let out = tempfile::Builder::new().prefix("out-").tempdir_in(&dir)?;
        let mut cmd = Command::new(&protoc);
        cmd.arg(format!("--plugin=protoc-gen-micro={}", plugin.display()))
            .arg(format!("--micro_out={}", out.path().display()))
            .arg("-I")
            .arg(proto.parent().context("proto has a directory")?)
            .arg(&proto);
        let start = Instant::now();
        cargo::run(&mut cmd, "protoc with protoc-gen-micro")?;
        let seconds = start.elapsed().as_secs_f64();
        let written = fs::metadata(out.path().join("bench.rs")).map_or(0, |m| m.len());
        if written == 0 {
            bail!(
                "protoc-gen-micro wrote no bench.rs into {}",
                out.path().display()
            );
        }
        Ok(seconds)
    };

    run_once().context("warm-up run")?;
    let mut times = Vec::with_capacity(opts.reps);
    for rep in 1..=opts.reps {
        let seconds = run_once()?;
        eprintln!(
            "codegen_plugin micro rep {rep}/{}: {seconds:.3} s",
            opts.reps
        );
        times.push(seconds);
    }
    Ok(vec![record("codegen_plugin", "micro", &mut times)])
}

/// `codegen_build`: a clean `cargo build` of a crate generated from 50 protos (5 when quick),
/// one service of 10 methods each, by micro-build and by tonic-prost-build, interleaved.
pub fn build(opts: &CodegenOptions) -> Result<Vec<Record>> {
    check_reps(opts.reps)?;
    let files = if opts.quick { 5 } else { 50 };
    // The generated manifests name micro's crates by path, which must not depend on where
    // cargo is run from.
    let workspace_root = fs::canonicalize(&opts.workspace_root)
        .with_context(|| format!("finding {}", opts.workspace_root.display()))?;
    let root = opts.work_dir.join("codegen-build");
    let generated = crates::write(&root, &workspace_root, files)?;
    // One target directory, so the dependencies both crates share are compiled once.
    let target_dir = opts.work_dir.join("target-codegen");
    let systems = [
        ("micro", "gen-micro", generated.micro.as_path()),
        ("tonic", "gen-tonic", generated.tonic.as_path()),
    ];
    let crates: Vec<cargo::Crate<'_>> = systems
        .iter()
        .map(|&(_, name, dir)| cargo::Crate {
            name,
            dir,
            target_dir: &target_dir,
        })
        .collect();

    // Untimed: compiles the dependencies.
    for krate in &crates {
        eprintln!(
            "codegen_build: warm-up build of {} ({files} protos)",
            krate.name
        );
        krate.build()?;
    }

    let mut times = vec![Vec::with_capacity(opts.reps); crates.len()];
    for rep in 1..=opts.reps {
        // Interleaved, so a slow spell on the machine hits both systems alike.
        for (i, krate) in crates.iter().enumerate() {
            let seconds = krate.clean_build()?.seconds;
            eprintln!(
                "codegen_build {} rep {rep}/{}: {seconds:.1} s",
                systems[i].0, opts.reps
            );
            times[i].push(seconds);
        }
    }
    Ok(systems
        .iter()
        .zip(&mut times)
        .map(|(&(system, _, _), times)| record("codegen_build", system, times))
        .collect())
}

fn check_reps(reps: usize) -> Result<()> {
    if reps == 0 {
        bail!("codegen scenarios need at least one repetition");
    }
    Ok(())
}

fn record(scenario: &str, system: &str, times: &mut [f64]) -> Record {
    Record {
        seconds: median(times),
        ..Record::new(scenario, system)
    }
}
