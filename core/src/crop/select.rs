//! Which batches to grow, as a person writes them: ids and ranges (`1-10,15`), `missing` (those
//! not grown yet) or `all`.

use std::collections::BTreeSet;
use std::str::FromStr;

use super::{Crop, CropError};

/// Batches chosen by their ids or their state: ids and ranges (`1-10,15`), `missing` (those
/// not grown yet) or `all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchSelection {
    /// Those not grown yet.
    Missing,
    /// Every batch.
    All,
    /// Inclusive ranges of ids (a single id is a range of one).
    Ranges(Vec<(u64, u64)>),
}

/// A selection that does not name batches of the crop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SelectionError {
    /// A part that is not an id or a range.
    #[error(
        "`{part}` is not a batch id or range: use ids and ranges such as 1-10,15{}, `missing` \
         or `all`",
        total.map(|t| format!(" (the crop has batches 1 to {t})")).unwrap_or_default()
    )]
    NotARange {
        /// The part.
        part: String,
        /// The crop's batches, when known.
        total: Option<u64>,
    },
    /// An id past the crop's last batch.
    #[error("there is no batch {id}: the crop has batches 1 to {total}")]
    NoSuchBatch {
        /// The id.
        id: u64,
        /// The crop's batches.
        total: u64,
    },
    /// The crop could not tell which batches are missing.
    #[error(transparent)]
    Crop(#[from] CropError),
}

impl FromStr for BatchSelection {
    type Err = SelectionError;

    fn from_str(text: &str) -> Result<BatchSelection, SelectionError> {
        match text.trim() {
            "missing" => return Ok(BatchSelection::Missing),
            "all" => return Ok(BatchSelection::All),
            _ => {}
        }
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            let bad = || SelectionError::NotARange {
                part: part.to_string(),
                total: None,
            };
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let a: u64 = a.trim().parse().map_err(|_| bad())?;
            let b: u64 = b.trim().parse().map_err(|_| bad())?;
            if a == 0 || a > b {
                return Err(bad());
            }
            ranges.push((a, b));
        }
        Ok(BatchSelection::Ranges(ranges))
    }
}

impl Crop {
    /// The ids of the batches `selection` names, in order and without repeats.
    pub fn select(&self, selection: &BatchSelection) -> Result<Vec<u64>, SelectionError> {
        let total = self.plan().batches();
        match selection {
            BatchSelection::Missing => Ok(self.missing()?),
            BatchSelection::All => Ok((1..=total).collect()),
            BatchSelection::Ranges(ranges) => {
                let mut ids = BTreeSet::new();
                for &(a, b) in ranges {
                    if b > total {
                        return Err(SelectionError::NoSuchBatch { id: b, total });
                    }
                    ids.extend(a..=b);
                }
                Ok(ids.into_iter().collect())
            }
        }
    }

    /// The ids of the batches `text` names (`1-10,15`, `missing`, `all`), in order and
    /// without repeats.
    pub fn select_text(&self, text: &str) -> Result<Vec<u64>, SelectionError> {
        let selection = text.parse().map_err(|e| match e {
            SelectionError::NotARange { part, .. } => SelectionError::NotARange {
                part,
                total: Some(self.plan().batches()),
            },
            e => e,
        })?;
        self.select(&selection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_ranges_parse_and_nonsense_is_refused() {
        assert_eq!(
            "missing".parse::<BatchSelection>().unwrap(),
            BatchSelection::Missing
        );
        assert_eq!(
            " all ".parse::<BatchSelection>().unwrap(),
            BatchSelection::All
        );
        assert_eq!(
            "1-3, 7".parse::<BatchSelection>().unwrap(),
            BatchSelection::Ranges(vec![(1, 3), (7, 7)])
        );
        for bad in ["", "0", "3-1", "a", "1-", "-2", "1,,2"] {
            let err = bad.parse::<BatchSelection>().unwrap_err();
            assert!(
                err.to_string().contains("is not a batch id or range"),
                "{bad}: {err}"
            );
        }
    }
}
