//! Files on a shared filesystem, where anything may have been put by someone else: reading
//! only what is a regular file, without blocking on what is not.

mod regular;

pub use regular::{describe, open_regular, read_regular, read_regular_to_string};
