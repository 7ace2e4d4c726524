//! The formats, as one table: a row per format gives its names, what it can do and the
//! [`Backend`] (a folder of its own under `output/`) that writes and reads it. Everything that
//! names or lists formats (parsing `--format`, telling a format from an extension, the lists
//! in help texts and messages) reads the table, so a new format is a folder and a row.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::backend::Backend;
use crate::dataset::Dataset;

/// The on-disk forms a dataset can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Zarr v3 store (a directory), readable by `xarray.open_zarr`.
    Zarr,
    /// Comma-separated values, one row per case.
    Csv,
    /// A JSON array of one object per case (pandas `orient="records"`).
    Json,
    /// Apache Parquet, one row per case, readable by `pandas.read_parquet`.
    Parquet,
    /// A netCDF file (64-bit data format, CDF-5), readable by `xarray.open_dataset`.
    Netcdf,
}

/// What one format is and can do: a row of [`TABLE`].
pub(crate) struct Row {
    /// The format.
    pub format: Format,
    /// Its name, as `--format` takes it and messages print it.
    pub name: &'static str,
    /// Its extension (also taken by `--format`), without the dot.
    pub extension: &'static str,
    /// Other names `--format` and extensions take.
    pub aliases: &'static [&'static str],
    /// Its name in prose.
    pub title: &'static str,
    /// Whether it keeps dims, coordinates and attributes, so that it reads back as written
    /// and can be merged into.
    pub self_describing: bool,
    /// Whether it can be written a window of the grid at a time ([`Backend::windows`]).
    pub windows: bool,
    /// Whether it can be written to standard output ([`Backend::stream`]).
    pub streams: bool,
    /// What writes and reads it.
    pub backend: &'static dyn Backend,
}

/// Every format, in the order the docs list them.
pub(crate) const TABLE: [Row; 5] = [
    Row {
        format: Format::Zarr,
        name: "zarr",
        extension: "zarr",
        aliases: &[],
        title: "Zarr",
        self_describing: true,
        windows: true,
        streams: false,
        backend: &super::zarr::Zarr,
    },
    Row {
        format: Format::Netcdf,
        name: "netcdf",
        extension: "nc",
        aliases: &["nc4", "cdf"],
        title: "netCDF",
        self_describing: true,
        windows: true,
        streams: false,
        backend: &super::netcdf::Netcdf,
    },
    Row {
        format: Format::Parquet,
        name: "parquet",
        extension: "parquet",
        aliases: &["pq"],
        title: "Parquet",
        self_describing: true,
        windows: true,
        streams: false,
        backend: &super::parquet::Parquet,
    },
    Row {
        format: Format::Csv,
        name: "csv",
        extension: "csv",
        aliases: &[],
        title: "CSV",
        self_describing: false,
        windows: true,
        streams: true,
        backend: &super::csv::Csv,
    },
    Row {
        format: Format::Json,
        name: "json",
        extension: "json",
        aliases: &[],
        title: "JSON",
        self_describing: false,
        windows: true,
        streams: true,
        backend: &super::json::Records,
    },
];

impl Format {
    /// Every format, in the order the docs list them.
    pub const ALL: [Format; 5] = [
        Format::Zarr,
        Format::Netcdf,
        Format::Parquet,
        Format::Csv,
        Format::Json,
    ];

    /// This format's row of the table.
    pub(crate) fn row(self) -> &'static Row {
        TABLE
            .iter()
            .find(|r| r.format == self)
            .expect("every format has a row")
    }

    pub(crate) fn backend(self) -> &'static dyn Backend {
        self.row().backend
    }

    /// Whether a dataset can be written in this format a [`Window`](crate::dataset::Window) of its grid at a time
    /// ([`WindowWriter`](super::WindowWriter)): all of them (netCDF through a spill).
    pub fn writes_windows(self) -> bool {
        self.row().windows
    }

    /// Whether this format can be written to standard output (`-o -`): CSV and JSON.
    pub fn streams(self) -> bool {
        self.row().streams
    }

    /// The format a path's extension names: `.zarr`, `.nc`, `.parquet`, `.csv` or `.json`.
    pub fn from_path(path: &Path) -> Option<Format> {
        path.extension()?.to_str()?.parse().ok()
    }

    /// Whether a dataset in this format keeps its dims, coordinates and attributes, so reading
    /// it back gives the dataset that was written (and results can merge into it). CSV and
    /// JSON keep rows only.
    pub fn is_self_describing(self) -> bool {
        self.row().self_describing
    }

    /// Why this format cannot hold `dataset` (or a dataset of its layout), if it cannot:
    /// netCDF, in the classic formats xyz writes, has no complex type, so it refuses complex
    /// variables and coordinates (complex constants it keeps as text attributes, as Zarr
    /// does). Checked before a run, so that no work is lost to it.
    pub fn refuses(self, dataset: &Dataset) -> Option<String> {
        self.backend().refuses(dataset)
    }

    /// The names `--format` takes, for a help text: `zarr, netcdf, parquet, csv or json`.
    pub fn names() -> String {
        or_list(TABLE.iter().map(|r| r.name.to_string()))
    }

    /// The extensions of the formats `which` picks, for a message: `.zarr, .nc or .parquet`.
    pub fn extensions(which: impl Fn(Format) -> bool) -> String {
        or_list(
            TABLE
                .iter()
                .filter(|r| which(r.format))
                .map(|r| format!(".{}", r.extension)),
        )
    }

    /// The formats `which` picks in prose, for a message: `Zarr (.zarr), netCDF (.nc) or
    /// Parquet (.parquet)`.
    pub fn titles(which: impl Fn(Format) -> bool) -> String {
        or_list(
            TABLE
                .iter()
                .filter(|r| which(r.format))
                .map(|r| format!("{} (.{})", r.title, r.extension)),
        )
    }
}

/// `a, b or c`.
fn or_list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        let s = s.to_ascii_lowercase();
        TABLE
            .iter()
            .find(|r| r.name == s || r.extension == s || r.aliases.contains(&s.as_str()))
            .map(|r| r.format)
            .ok_or_else(|| {
                let expected = or_list(TABLE.iter().map(|r| match r.extension == r.name {
                    true => r.name.to_string(),
                    false => format!("{} ({})", r.extension, r.name),
                }));
                format!("unknown format `{s}`: expected {expected}")
            })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.row().name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_has_one_row_and_its_names_parse_back() {
        for format in Format::ALL {
            let rows = TABLE.iter().filter(|r| r.format == format).count();
            assert_eq!(rows, 1, "{format:?}");
            let row = format.row();
            for name in [row.name, row.extension].iter().chain(row.aliases) {
                assert_eq!(name.parse::<Format>(), Ok(format), "{name}");
                assert_eq!(name.to_uppercase().parse::<Format>(), Ok(format), "{name}");
            }
            assert_eq!(format.to_string().parse::<Format>(), Ok(format));
        }
        assert_eq!(
            Format::ALL.to_vec(),
            TABLE.iter().map(|r| r.format).collect::<Vec<_>>()
        );
    }

    #[test]
    fn lists_come_from_the_table() {
        assert_eq!(Format::names(), "zarr, netcdf, parquet, csv or json");
        assert_eq!(
            Format::extensions(Format::is_self_describing),
            ".zarr, .nc or .parquet"
        );
        assert_eq!(
            Format::titles(Format::is_self_describing),
            "Zarr (.zarr), netCDF (.nc) or Parquet (.parquet)"
        );
        assert_eq!(
            "txt".parse::<Format>().unwrap_err(),
            "unknown format `txt`: expected zarr, nc (netcdf), parquet, csv or json"
        );
    }

    #[test]
    fn formats_come_from_extensions() {
        assert_eq!(Format::from_path(Path::new("a/b.zarr")), Some(Format::Zarr));
        assert_eq!(Format::from_path(Path::new("b.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("b.json")), Some(Format::Json));
        assert_eq!(
            Format::from_path(Path::new("b.parquet")),
            Some(Format::Parquet)
        );
        assert_eq!(Format::from_path(Path::new("b.nc")), Some(Format::Netcdf));
        assert_eq!(Format::from_path(Path::new("b.txt")), None);
        assert_eq!(Format::from_path(Path::new("b")), None);
    }
}
