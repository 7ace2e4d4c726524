//! What `show` and `plot` read: a dataset file, or a crop, grown or still growing, whose results
//! so far make the dataset.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use xyz_core::{Crop, Dataset, Format};

use super::args::format_of;

/// Where the dataset of `show` or `plot` comes from.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SourceArgs {
    /// The dataset (.zarr, .nc, .parquet, .csv or .json), or the name of a crop (or the path
    /// of its .xyz-NAME directory): the results there so far, even while it grows
    #[arg(value_name = "DATA|CROP")]
    pub(crate) data: PathBuf,

    /// The dataset's format, whatever its extension: zarr, netcdf, parquet, csv or json
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: Option<Format>,

    /// The directory holding the crop named [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub(crate) parent_dir: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) trust: super::key::TrustArgs,
}

/// A dataset file, or a crop.
pub(crate) enum Source {
    /// A dataset file, in `format`.
    File(PathBuf, Format),
    /// A crop: its dataset is what its results hold so far.
    Crop(Box<Crop>),
}

/// A dataset as read, with how far it has grown when it comes from a crop.
pub(crate) struct Read {
    /// The dataset: for a crop, the cells of batches not grown yet are not evaluated.
    pub(crate) dataset: Dataset,
    /// For a crop: batches grown and in all.
    pub(crate) grown: Option<(u64, u64)>,
}

impl SourceArgs {
    /// The file or crop `data` names. A path that exists and is no crop's directory is a
    /// dataset file; a name of a crop found in `--parent-dir` (or here) is that crop; a name
    /// that is neither is refused saying both were looked for.
    pub(crate) fn open(&self) -> anyhow::Result<Source> {
        let data = &self.data;
        let is_crop_dir = xyz_core::crop::CropDir::new(data).manifest().is_file();
        if self.parent_dir.is_none() && data.exists() && !is_crop_dir {
            return Ok(Source::File(data.clone(), format_of(data, self.format)?));
        }
        let name = data.to_string_lossy();
        match Crop::locate(&name, self.parent_dir.as_deref()) {
            Ok(crop) => Ok(Source::Crop(Box::new(self.trust.apply(crop)?))),
            // A name with a dataset's extension, or a path, names a file: reading it says what
            // is wrong with it.
            Err(_) if self.parent_dir.is_none() && looks_like_file(data, self.format) => {
                Ok(Source::File(data.clone(), format_of(data, self.format)?))
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!(
                "{}: no dataset of that name, and no crop either",
                data.display()
            ))),
        }
    }
}

/// Whether `data` reads as the path of a dataset file rather than a crop's name.
fn looks_like_file(data: &Path, format: Option<Format>) -> bool {
    format.is_some() || Format::from_path(data).is_some() || data.components().count() > 1
}

impl Source {
    /// Reads the dataset: a file whole, or a crop's results there so far (taking no lock, so
    /// its growers never wait on it).
    pub(crate) fn read(&self) -> anyhow::Result<Read> {
        match self {
            Source::File(path, format) => Ok(Read {
                dataset: xyz_core::output::read(path, *format)?,
                grown: None,
            }),
            Source::Crop(crop) => {
                // An adaptive study's crop gains rounds as it grows.
                let fresh = match crop.adaptive() {
                    Some(_) => Some(crop.reopened()?),
                    None => None,
                };
                let crop = fresh.as_ref().unwrap_or(crop);
                let reaped = crop.partial()?;
                let batches = crop.plan().batches();
                let grown = batches - reaped.missing.len() as u64;
                Ok(Read {
                    dataset: reaped.dataset,
                    grown: Some((grown, batches)),
                })
            }
        }
    }

    /// What the dataset is called in messages: the file's path, or `crop NAME`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Source::File(path, _) => path.display().to_string(),
            Source::Crop(crop) => format!("crop {}", crop.name()),
        }
    }

    /// Waits until the crop has more (or fewer) batches grown than `grown`, looking every
    /// `interval`, and gives the new count; `None` once it is complete with `grown` batches,
    /// or for a file (which does not grow).
    pub(crate) fn wait_for_change(
        &self,
        grown: u64,
        interval: Duration,
    ) -> anyhow::Result<Option<u64>> {
        let Source::Crop(crop) = self else {
            return Ok(None);
        };
        // An adaptive study's crop gains rounds, and batches, until its study is finished.
        let now = |crop: &Crop| -> anyhow::Result<Option<Crop>> {
            crop.check_still_sown()?;
            Ok(match crop.adaptive() {
                Some(_) => Some(crop.reopened()?),
                None => None,
            })
        };
        let fresh = now(crop)?;
        let current = fresh.as_ref().unwrap_or(crop);
        let finished = current.study_status().is_none_or(|s| s.finished.is_some());
        if grown >= current.plan().batches() && finished {
            return Ok(None);
        }
        loop {
            std::thread::sleep(interval);
            let fresh = now(crop)?;
            let current = fresh.as_ref().unwrap_or(crop);
            let missing = current
                .missing()
                .with_context(|| format!("watching crop {}", crop.name()))?;
            let now = current.plan().batches() - missing.len() as u64;
            if now != grown {
                return Ok(Some(now));
            }
        }
    }
}

/// `--watch` and `--interval`, for the commands that show a crop as it grows.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WatchArgs {
    /// Show it again as batches land, until the crop is complete: redrawn in place on a
    /// terminal (`status` into a pipe or a file: a line per crop and interval)
    #[arg(long)]
    pub(crate) watch: bool,

    /// How often --watch looks at the crop
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "2s",
        requires = "watch"
    )]
    pub(crate) interval: String,
}

impl WatchArgs {
    /// The interval, checked: a duration of at least 100 ms.
    pub(crate) fn interval(&self) -> anyhow::Result<Duration> {
        let interval = xyz_core::spec::parse_duration(&self.interval).context("--interval")?;
        if interval < Duration::from_millis(100) {
            anyhow::bail!("--interval {}: at least 100ms", self.interval);
        }
        Ok(interval)
    }
}
