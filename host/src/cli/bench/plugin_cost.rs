//! `wasmq bench --plugin PATH`: what one plugin file costs the host, in
//! any language, with no Redis: the figures of the per-language table in
//! docs/benchmarks.md.
//!
//! 1. **compile**: a runtime with an empty cache loads the file (Cranelift
//!    compile, checks, linking), as a host's first start does;
//! 2. **cache load**: a second runtime on that cache loads it again, as
//!    every later start does; the artifact's size is reported too;
//! 3. **per task**: `--runs` runs, one after the other, each a fresh
//!    instance and one call with `--payload` (instantiate + call, the cost
//!    every task pays), after one unmeasured warm-up run;
//! 4. **concurrent**: `--concurrency` runs (default 8) at once, which must
//!    all end as the sequential ones did: proof that the pool, sized as a
//!    host of that concurrency sizes it, holds that many instances; the
//!    resident memory they add at the peak, sampled while they run, per
//!    instance, is reported beside their linear memory.
//!
//! The manifest beside the file (`<stem>.toml`), if any, or the one named
//! by `--manifest`, grants it what it imports, as on a host.

use super::sample::Percentiles;
use crate::config::{Limits, PluginManifest};
use crate::runtime::{
    CancelToken, DEFAULT_MAX_PLUGIN_SIZE, Invocation, OutcomeKind, Plugin, PluginFile, Runtime,
    RuntimeOptions,
};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;
use std::time::Instant;

/// What `--plugin PATH` measured.
#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    pub plugin: String,
    pub kind: String,
    pub file_bytes: u64,
    /// Load with an empty cache, milliseconds.
    pub compile_ms: f64,
    /// Load from the compile cache, milliseconds.
    pub cache_load_ms: f64,
    /// The size of the compiled artifact in the cache.
    pub artifact_bytes: u64,
    /// How each run ended (`success`, `permanent error`, ...).
    pub outcome: String,
    pub runs: u32,
    /// Instantiate + call, one run at a time, milliseconds.
    pub per_task_ms: Percentiles,
    pub per_task_mean_ms: f64,
    pub fuel_per_task: u64,
    /// Linear memory per instance (the largest reached), bytes.
    pub memory_per_instance: u64,
    pub concurrent: u32,
    /// Resident memory the process gained at the peak while `concurrent`
    /// instances ran at once, per instance, bytes (0 where /proc is
    /// unavailable).
    pub rss_per_concurrent_instance: u64,
}

/// Runs the four measurements on `path`.
pub async fn measure(
    path: &Path,
    manifest: Option<&Path>,
    payload: &str,
    runs: u32,
    concurrent: u32,
) -> Result<CostReport> {
    let task_type = path
        .file_stem()
        .and_then(|s| s.to_str())
        .with_context(|| format!("{} has no usable file name", path.display()))?
        .to_owned();
    let mut file = PluginFile::read(path, DEFAULT_MAX_PLUGIN_SIZE, None)
        .with_context(|| format!("cannot read plugin {}", path.display()))?;
    if let Some(manifest) = manifest {
        let text = PluginManifest::read_text(manifest, None)?
            .with_context(|| format!("--manifest {}: no such file", manifest.display()))?;
        let parsed = PluginManifest::parse(&text, manifest)?;
        file = PluginFile::new(path, file.bytes().to_vec(), Some(parsed));
    }
    let cache = tempfile::Builder::new()
        .prefix("wasmq-bench-cache-")
        .tempdir()
        .context("creating a temp cache dir")?;
    let options = RuntimeOptions {
        cache_dir: Some(cache.path().to_owned()),
        // As a host of this concurrency sizes its pool.
        max_instances: concurrent + 8,
        ..RuntimeOptions::default()
    };
    let load = |runtime: &Runtime| -> Result<Plugin> {
        runtime
            .load_file(&task_type, &file, Limits::default())
            .with_context(|| format!("cannot load plugin {}", path.display()))
    };
    let compiled = load(&Runtime::new(options.clone())?)?;
    let runtime = Runtime::new(options)?;
    let plugin = load(&runtime)?;
    if !plugin.from_cache() {
        bail!(
            "the second load did not come from the cache in {}",
            cache.path().display()
        );
    }
    let artifact_bytes = std::fs::read_dir(cache.path())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();

    let invocation = |n: u32| {
        Invocation::new(
            format!("{task_type}:bench-{n}"),
            &task_type,
            payload.as_bytes().to_vec(),
        )
    };
    let cancel = CancelToken::new();
    let first = plugin.run(invocation(0), &cancel).await;
    let outcome = first.kind.label();
    if !matches!(
        first.kind,
        OutcomeKind::Success { .. } | OutcomeKind::Retryable { .. } | OutcomeKind::Permanent { .. }
    ) {
        bail!(
            "the plugin does not run: {}\n{}",
            first.kind.describe(),
            first.log
        );
    }
    let (mut samples, mut total_us, mut fuel, mut memory) =
        (Vec::new(), 0u64, 0, first.peak_memory);
    for n in 1..=runs {
        let started = Instant::now();
        let run = plugin.run(invocation(n), &cancel).await;
        let us = started.elapsed().as_micros() as u64;
        if run.kind.label() != outcome {
            bail!(
                "run {n} ended differently: {} (the first: {outcome})",
                run.kind.describe()
            );
        }
        samples.push(us);
        total_us += us;
        fuel = run.fuel_used;
        memory = memory.max(run.peak_memory);
    }
    // Resident memory is sampled while the runs are in flight (they yield
    // at each epoch tick), not after: by then their pages are released.
    let rss_before = resident_bytes();
    let peak = std::cell::Cell::new(rss_before);
    let sample = async {
        loop {
            peak.set(peak.get().max(resident_bytes()));
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    };
    let runs_at_once = futures::future::join_all(
        (0..concurrent).map(|n| plugin.run(invocation(runs + 1 + n), &cancel)),
    );
    let together = tokio::select! {
        together = runs_at_once => together,
        never = sample => never,
    };
    let rss_peak = peak.get().max(resident_bytes());
    for run in &together {
        if run.kind.label() != outcome {
            bail!(
                "{concurrent} runs at once: one ended {} (alone: {outcome})",
                run.kind.describe()
            );
        }
    }
    Ok(CostReport {
        plugin: task_type,
        kind: plugin.kind().to_string(),
        file_bytes: file.bytes().len() as u64,
        compile_ms: compiled.load_time().as_secs_f64() * 1000.0,
        cache_load_ms: plugin.load_time().as_secs_f64() * 1000.0,
        artifact_bytes,
        outcome: outcome.to_owned(),
        runs,
        per_task_ms: Percentiles::of_micros(&mut samples).context("no runs")?,
        per_task_mean_ms: total_us as f64 / f64::from(runs.max(1)) / 1000.0,
        fuel_per_task: fuel,
        memory_per_instance: memory,
        concurrent,
        rss_per_concurrent_instance: rss_peak.saturating_sub(rss_before)
            / u64::from(concurrent.max(1)),
    })
}

/// The process's resident set, from /proc/self/statm (0 elsewhere).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

impl CostReport {
    /// One JSON line.
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The figures for people.
    pub fn summary(&self) -> String {
        let size = |b: u64| crate::config::units::format_size(b);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "plugin {} ({}, {})",
            self.plugin,
            self.kind,
            size(self.file_bytes)
        );
        let _ = writeln!(out, "  compile        {:>10.1} ms", self.compile_ms);
        let _ = writeln!(
            out,
            "  cache load     {:>10.1} ms  (artifact {})",
            self.cache_load_ms,
            size(self.artifact_bytes)
        );
        let _ = writeln!(
            out,
            "  per task       {:>10.3} ms  mean, p50 {:.3}, p99 {:.3} ms over {} runs ({})",
            self.per_task_mean_ms,
            self.per_task_ms.p50,
            self.per_task_ms.p99,
            self.runs,
            self.outcome
        );
        let _ = writeln!(
            out,
            "  memory         {:>10}  linear per instance; {} resident per instance with {} at once",
            size(self.memory_per_instance),
            size(self.rss_per_concurrent_instance),
            self.concurrent
        );
        out
    }
}
