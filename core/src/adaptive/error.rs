//! Why an adaptive study cannot be run, sown or added to.

use xyz_abi::ScalarType;

use crate::runner::RunError;
use crate::space::SpaceError;

/// An adaptive study that cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdaptiveError {
    /// The space around the adaptive arguments is not one a learner can sweep.
    #[error(
        "[adaptive] goes with [combos] and [constants]; [[cases]] and [samples] cannot be \
         combined with it"
    )]
    Combined,
    /// An adaptive argument that is not a float.
    #[error("`{name}` in adaptive: an adaptive argument must be a float (f64), but it is {ty}")]
    NotFloat {
        /// The argument.
        name: String,
        /// Its type in the signature.
        ty: ScalarType,
    },
    /// The output to learn from is not one the function has, or not a number.
    #[error("`adaptive.output`: {0}")]
    Output(String),
    /// A dataset to add points to that is not one of this study's.
    #[error("the dataset to add points to {0}")]
    OtherStudy(String),
    /// The space does not fit the function.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// A round could not be evaluated.
    #[error(transparent)]
    Run(#[from] RunError),
}
