//! Options and loading shared by several subcommands: the sweep, the output, the sandbox, the
//! compiled-module cache, and how a function file is loaded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use xyz::Format;
use xyz::harvest::Conflicts;
use xyz::load::{CacheDir, FunctionLoader, Loaded, WorkerCommand};
use xyz::output::{Sink, SinkError};

/// `--output`'s help, the formats listed from their table.
fn output_help() -> String {
    format!(
        "Where to write the dataset; its extension picks the format ({})\n[default: the \
         spec's `output`, else NAME.zarr in the current directory]",
        Format::extensions(|_| true).replace(" or ", ", ")
    )
}

/// `--format`'s help.
fn format_help() -> String {
    format!(
        "The format, whatever the output's extension: {}",
        Format::names()
    )
}

/// `--into`'s help.
fn into_help() -> String {
    format!(
        "Merge the results into this dataset ({}; made if it does not exist): coordinates are \
         united, new cells filled in; it is replaced only once the merged one is complete",
        Format::extensions(Format::is_self_describing)
    )
}

/// Where a dataset goes: a new output, or an existing dataset to merge into.
#[derive(Debug, clap::Args)]
pub(crate) struct OutputArgs {
    /// Where to write the dataset; its extension picks the format
    #[arg(short, long, value_name = "PATH", conflicts_with = "into", help = output_help())]
    output: Option<PathBuf>,

    /// The format, whatever the output's extension
    #[arg(long, value_name = "FORMAT", conflicts_with = "into", help = format_help())]
    format: Option<Format>,

    /// Replace the output if it exists (it is replaced only once the new one is complete)
    #[arg(long)]
    pub(crate) force: bool,

    /// Merge the results into this dataset
    #[arg(long, value_name = "DATA", help = into_help())]
    into: Option<PathBuf>,

    /// With --into: evaluate every cell of the sweep again and replace what the dataset holds
    /// (cells it lacks are added as ever)
    #[arg(long, requires = "into", conflicts_with = "keep_existing")]
    overwrite: bool,

    /// With --into: where a cell already holds a different value, the old value stays
    #[arg(long, requires = "into")]
    keep_existing: bool,

    /// How Zarr chunks and Parquet pages are compressed: zstd (level 3, the default),
    /// zstd:LEVEL (1 fastest to 22 smallest) or none
    #[arg(long, value_name = "HOW", default_value = "zstd")]
    compression: xyz_core::output::Compression,

    /// Store a Zarr array of many chunks in shards: chunks of at most 1 MiB, up to 64 a file
    /// (fewer files on a shared filesystem; small reads stay small)
    #[arg(long)]
    shards: bool,
}

impl OutputArgs {
    /// Where a dataset made beside `dest` goes: `STEM-TAG.EXT` in its directory, in its
    /// format, checked as `dest` was.
    pub(crate) fn beside(&self, dest: &Sink, tag: &str) -> anyhow::Result<Sink> {
        if dest.is_stdout() {
            anyhow::bail!("-o -: a second dataset ({tag}) cannot go to standard output too");
        }
        let path = dest.path();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = match path.extension() {
            Some(ext) => format!("{stem}-{tag}.{}", ext.to_string_lossy()),
            None => format!("{stem}-{tag}"),
        };
        Ok(Sink::output(
            &path.with_file_name(name),
            dest.format(),
            self.force,
            self.encoding(),
        )?)
    }

    /// Whether the results are merged into a dataset (`--into`).
    pub(crate) fn merges(&self) -> bool {
        self.into.is_some()
    }

    /// Merges into `into` when neither an output nor a dataset to merge into is given.
    pub(crate) fn default_into(&mut self, into: Option<&Path>) {
        if self.output.is_none() && self.into.is_none() {
            self.into = into.map(Path::to_path_buf);
        }
    }

    fn encoding(&self) -> xyz_core::output::Encoding {
        xyz_core::output::Encoding {
            compression: self.compression,
            shards: self.shards,
        }
    }

    /// Where the dataset goes (`--into`, else `-o`, else `fallback`, else `default`) and its
    /// format, checked before any work is done: an existing output only with `--force`; a
    /// dataset to merge into must be one xyz can read.
    pub(crate) fn resolve(
        &self,
        fallback: Option<&Path>,
        default: impl FnOnce() -> PathBuf,
    ) -> anyhow::Result<Sink> {
        if let Some(into) = &self.into {
            let conflicts = if self.overwrite {
                Conflicts::Overwrite
            } else if self.keep_existing {
                Conflicts::KeepExisting
            } else {
                Conflicts::Refuse
            };
            // Merges into one dataset serialize: each reads it, adds to it and replaces it.
            return Sink::merge_into(into, conflicts, self.encoding(), |holder| {
                eprintln!(
                    "waiting for pid {} on {} to finish merging into {}",
                    holder.pid,
                    holder.host,
                    into.display()
                );
            })
            .map_err(|e| match e {
                SinkError::NotMergeable { .. } => anyhow::anyhow!("--into {e}"),
                e => e.into(),
            });
        }
        let out = self
            .output
            .clone()
            .or_else(|| fallback.map(Path::to_path_buf))
            .unwrap_or_else(default);
        let format = if xyz_core::output::is_stdout(&out) {
            self.format.unwrap_or(Format::Csv)
        } else {
            format_of(&out, self.format)?
        };
        Sink::output(&out, format, self.force, self.encoding()).map_err(|e| match e {
            SinkError::CannotStream { .. } => anyhow::anyhow!("-o -: {e}"),
            e => e.into(),
        })
    }
}

/// Where a command's summary goes: stdout, unless the dataset itself goes there (`-o -`), in
/// which case stderr.
pub(crate) fn summary_out(sink: &Sink) -> Box<dyn std::io::Write> {
    if sink.is_stdout() {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    }
}

/// Refuses a dataset laid out as `layout` for `path`, in `format`, if the format cannot hold
/// it (complex values in netCDF), naming the file and what it cannot hold.
pub(crate) fn check_holds(
    path: &Path,
    format: Format,
    layout: &xyz_core::Dataset,
) -> anyhow::Result<()> {
    match format.refuses(layout) {
        Some(why) => anyhow::bail!("{}: {why}", path.display()),
        None => Ok(()),
    }
}

/// The format of the dataset at `path`: `explicit` (`--format`), else its extension's.
pub(crate) fn format_of(path: &Path, explicit: Option<Format>) -> anyhow::Result<Format> {
    explicit
        .or_else(|| Format::from_path(path))
        .with_context(|| {
            format!(
                "cannot tell the format of {} from its extension: use {}, or --format",
                path.display(),
                Format::extensions(|_| true)
            )
        })
}

/// `1 case`, `2 cases`.
pub(crate) fn count_of(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Parses a count: a whole number of at least 1.
pub(crate) fn count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "expected a whole number of at least 1, not `{text}`"
        )),
    }
}

/// The sweep: a spec and what the command line changes in it.
#[derive(Debug, clap::Args)]
pub(crate) struct SweepArgs {
    /// The sweep spec, a TOML file naming the function and its combos, cases and constants
    pub(crate) spec: Option<PathBuf>,

    /// The function, a WebAssembly module (.wasm) or a native library (.so), instead of the
    /// spec's `function`
    #[arg(long, value_name = "MODULE")]
    function: Option<PathBuf>,

    /// Sweep NAME over VALUES: a list (1,2,3 or [1, 2, 3]) or a generator
    /// ({ range = [0, 10, 2] }, { linspace = [0, 1, 11] }, { logspace = [-3, 0, 4] });
    /// replaces any combo or constant of that name
    #[arg(long = "combo", value_name = "NAME=VALUES")]
    combos: Vec<String>,

    /// Fix NAME to VALUE for every case; replaces any combo or constant of that name
    #[arg(long = "constant", value_name = "NAME=VALUE")]
    constants: Vec<String>,
}

impl SweepArgs {
    /// The spec with the command line's changes, and the function's module. A `--combo` or
    /// `--constant` that cannot be used, or no function at all, is a usage error.
    pub(crate) fn load(&self) -> anyhow::Result<(xyz_core::Spec, PathBuf)> {
        let usage = |m: String| anyhow::Error::new(crate::UsageError(m));
        let mut spec = match &self.spec {
            Some(path) => xyz_core::Spec::from_file(path)?,
            None => xyz_core::Spec::default(),
        };
        let mut given: Vec<(String, &str)> = Vec::new();
        let mut once = |name: &str, flag: &'static str| {
            if let Some((_, first)) = given.iter().find(|(n, _)| n == name) {
                return Err(usage(format!(
                    "`{name}` is given twice on the command line, by {first} and by {flag}"
                )));
            }
            given.push((name.to_string(), flag));
            Ok(())
        };
        for arg in &self.combos {
            let (name, values) = xyz_core::spec::parse_combo_arg(arg).map_err(usage)?;
            once(&name, "--combo")?;
            spec.space.combo(name, values);
        }
        for arg in &self.constants {
            let (name, value) = xyz_core::spec::parse_constant_arg(arg).map_err(usage)?;
            once(&name, "--constant")?;
            spec.space.constant(name, value);
        }
        let Some(module) = self.function.clone().or(spec.function.clone()) else {
            return Err(usage(
                "no function to run: name one with `function = \"...\"` in the spec or with \
                 --function"
                    .into(),
            ));
        };
        Ok((spec, module))
    }

    /// The sweep's name: the spec's file name without its extension, else `function`.
    pub(crate) fn name(&self, function: &str) -> String {
        self.spec
            .as_deref()
            .and_then(|s| s.file_stem())
            .map_or_else(
                || function.to_string(),
                |s| s.to_string_lossy().into_owned(),
            )
    }

    /// The spec's space bound to `sig`; errors name the spec, or the flag that gave the
    /// value at fault (a usage error).
    pub(crate) fn bind(
        &self,
        spec: &xyz_core::Spec,
        sig: &xyz_abi::Signature,
    ) -> anyhow::Result<xyz_core::BoundSpace> {
        spec.space.bind(sig).map_err(|e| {
            let named = |args: &[String]| {
                e.name().is_some_and(|n| {
                    args.iter()
                        .any(|a| a.split_once('=').is_some_and(|(k, _)| k.trim() == n))
                })
            };
            if named(&self.combos) {
                anyhow::Error::new(crate::UsageError(format!("--combo: {e}")))
            } else if named(&self.constants) {
                anyhow::Error::new(crate::UsageError(format!("--constant: {e}")))
            } else {
                match &self.spec {
                    Some(path) => anyhow::anyhow!("{}: {e}", path.display()),
                    None => anyhow::anyhow!("{e}"),
                }
            }
        })
    }
}

/// Options for loading WebAssembly functions, shared by the commands that load one.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Sandbox")]
pub(crate) struct WasmOpts {
    /// Most linear memory one instance may use, such as 256MiB [default: spec's
    /// limits.memory, else 1GiB]
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// Longest one call may run, such as 30s or 2h [default: spec's limits.deadline, else 10m]
    #[arg(long, value_name = "DURATION", conflicts_with = "no_deadline")]
    deadline: Option<String>,
    /// Run without deadlines, in this process: an endless loop is never stopped
    #[arg(long)]
    no_deadline: bool,
    /// How the deadline is enforced: `process` runs the function in worker processes that are
    /// killed at the deadline, at no cost to the function's speed; `epoch` runs it in this
    /// process with interruption checks compiled into its loops, which makes tight loops up to
    /// twice as slow
    #[arg(long, value_name = "HOW", default_value = "process")]
    watchdog: Watchdog,
    /// Run the function in this process, not in worker processes: a WebAssembly deadline is
    /// then enforced by epoch checks; a native library gets no deadline and no memory cap, and
    /// a crash in it ends xyz
    #[arg(long)]
    no_isolate: bool,
    #[command(flatten)]
    cache: EngineOpts,
    /// Where workers are started, when not on this machine.
    #[arg(skip)]
    launcher: Option<super::launcher::Launcher>,
}

/// How WebAssembly is compiled: where compiled modules are cached, and NaNs.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct EngineOpts {
    /// Directory of the compiled-module cache [default: ~/.cache/xyz/modules; for a crop, its
    /// own cache/ directory]
    #[arg(long, value_name = "DIR", env = "XYZ_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Do not read or write the compiled-module cache
    #[arg(long)]
    no_cache: bool,
    /// Make every NaN a float operation gives the canonical NaN, so results are bit for bit
    /// the same on every CPU (always on when growing a crop)
    #[arg(long)]
    canonicalize_nans: bool,
    /// Longest loading a function may take: compiling and checking a module (its start code
    /// and signature), or a native library's initialisers, such as 30s or 5m
    #[arg(long, value_name = "DURATION", default_value = "2m")]
    load_timeout: String,
}

impl EngineOpts {
    /// A loader with these cache, NaN and load-timeout settings, and the defaults otherwise.
    pub(crate) fn loader(&self) -> anyhow::Result<FunctionLoader> {
        let mut loader = FunctionLoader::new();
        loader
            .cache(if self.no_cache {
                CacheDir::Off
            } else {
                match &self.cache_dir {
                    Some(dir) => CacheDir::At(dir.clone()),
                    None => CacheDir::User,
                }
            })
            .canonicalize_nans(self.canonicalize_nans)
            .load_timeout(
                xyz_core::spec::parse_duration(&self.load_timeout).context("--load-timeout")?,
            );
        Ok(loader)
    }

    /// The signature of `module`, whose file must have SHA-256 `sha256`: loaded and checked
    /// within `--load-timeout` in a worker process, never in this one.
    pub(crate) fn probe(&self, module: &Path, sha256: &str) -> anyhow::Result<xyz_abi::Signature> {
        Ok(self.loader()?.probe(module, sha256)?)
    }

    /// The same settings as arguments, for a child `xyz`.
    fn args(&self, args: &mut Vec<std::ffi::OsString>) {
        if self.canonicalize_nans {
            args.push("--canonicalize-nans".into());
        }
        if self.no_cache {
            args.push("--no-cache".into());
        } else if let Some(dir) = &self.cache_dir {
            args.extend(["--cache-dir".into(), dir.into()]);
        }
    }
}

/// How xyz starts itself: the program to run and the arguments before xyz's own — its own
/// executable, behind the command in `XYZ_EXEC_PREFIX` if set.
pub(crate) fn self_command() -> anyhow::Result<(PathBuf, Vec<std::ffi::OsString>)> {
    let command = WorkerCommand::current().context("finding the xyz executable")?;
    Ok((command.program, command.args))
}

/// A loader's error, with the flags that settle it where flags do.
fn flag_hint(err: xyz::load::LoadError) -> anyhow::Error {
    match err {
        xyz::load::LoadError::NativeLimitsNeedWorkers => anyhow::anyhow!(
            "--deadline and --memory need worker processes for a native library: drop \
             --no-isolate"
        ),
        xyz::load::LoadError::LauncherNeedsWorkers => {
            anyhow::anyhow!("--launcher runs the function in workers it starts: drop --no-isolate")
        }
        xyz::load::LoadError::Launch { slots, source } => anyhow::Error::new(source).context(
            format!("starting workers with --launcher ({slots} at most)"),
        ),
        other => other.into(),
    }
}

/// How a deadline is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Watchdog {
    /// Worker processes, killed at the deadline.
    Process,
    /// Epoch checks compiled into the function.
    Epoch,
}

impl WasmOpts {
    fn memory(&self, limits: &xyz_core::Limits) -> anyhow::Result<Option<u64>> {
        use anyhow::Context as _;
        Ok(match &self.memory {
            Some(m) => Some(xyz_core::spec::parse_size(m).context("--memory")?),
            None => limits.memory,
        })
    }

    fn deadline(&self, limits: &xyz_core::Limits) -> anyhow::Result<Option<Duration>> {
        use anyhow::Context as _;
        if self.no_deadline {
            return Ok(None);
        }
        Ok(Some(match &self.deadline {
            Some(d) => xyz_core::spec::parse_duration(d).context("--deadline")?,
            None => limits.deadline.unwrap_or(xyz::load::DEFAULT_DEADLINE),
        }))
    }

    /// These options with workers started by `launcher`, if any.
    pub(crate) fn launched(mut self, launcher: Option<super::launcher::Launcher>) -> WasmOpts {
        self.launcher = launcher;
        self
    }

    /// The loader these options (and the command's `--launcher`) ask for, checked: a
    /// launcher's workers, and a native library's limits, need isolation.
    fn loader(&self) -> anyhow::Result<FunctionLoader> {
        anyhow::ensure!(
            !(self.no_isolate && self.launcher.is_some()),
            "--launcher runs the function in workers it starts: drop --no-isolate"
        );
        let mut loader = self.cache.loader()?;
        loader
            .memory(self.memory(&xyz_core::Limits::default())?)
            .watchdog(match self.watchdog {
                Watchdog::Process => xyz::load::Watchdog::Process,
                Watchdog::Epoch => xyz::load::Watchdog::Epoch,
            })
            .isolate(!self.no_isolate)
            .launcher(
                self.launcher
                    .clone()
                    .map(|l| std::sync::Arc::new(l) as std::sync::Arc<dyn xyz::load::Launcher>),
            );
        if self.no_deadline {
            loader.deadline(None);
        } else if self.deadline.is_some() {
            loader.deadline(self.deadline(&xyz_core::Limits::default())?);
        }
        Ok(loader)
    }

    /// These options for growing the crop in `crop_dir`, as the flags of a child `xyz grow`
    /// give them: its own module cache unless `--no-cache`, and canonical NaNs (as
    /// [`FunctionLoader::for_crop`] loads).
    pub(crate) fn for_crop(&self, crop_dir: &Path) -> WasmOpts {
        let mut opts = self.clone();
        if !opts.cache.no_cache {
            let dir = std::path::absolute(crop_dir).unwrap_or_else(|_| crop_dir.to_path_buf());
            opts.cache.cache_dir = Some(dir.join("cache"));
        }
        opts.cache.canonicalize_nans = true;
        opts
    }

    /// Loads the function of `crop` to grow it, under these options for the crop (its own
    /// module cache, canonical NaNs), expecting the crop's signature and sha256.
    pub(crate) fn load_for_crop(&self, crop: &xyz_core::Crop) -> anyhow::Result<Loaded> {
        self.loader()?.load_for_crop(crop).map_err(flag_hint)
    }

    /// These options as arguments, for a child `xyz` of the same command.
    pub(crate) fn args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        if let Some(m) = &self.memory {
            args.extend(["--memory".into(), m.into()]);
        }
        if let Some(d) = &self.deadline {
            args.extend(["--deadline".into(), d.into()]);
        }
        if self.no_deadline {
            args.push("--no-deadline".into());
        }
        let watchdog = match self.watchdog {
            Watchdog::Process => "process",
            Watchdog::Epoch => "epoch",
        };
        args.extend(["--watchdog".into(), watchdog.into()]);
        if self.no_isolate {
            args.push("--no-isolate".into());
        }
        self.cache.args(&mut args);
        args
    }

    /// Loads `module` (a WebAssembly module or a native library) under these options and the
    /// spec's `limits`: in worker processes unless `--no-isolate` (see
    /// [`FunctionLoader::load`]).
    pub(crate) fn load(&self, module: &Path, limits: &xyz_core::Limits) -> anyhow::Result<Loaded> {
        self.loader()?.load(module, limits).map_err(flag_hint)
    }
}
