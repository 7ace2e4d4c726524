//! Files on a shared filesystem, where anything may have been put by someone else: reading
//! only what is a regular file, without blocking on what is not; and the host name, process
//! liveness and random tokens that name and judge what each writer leaves there.

mod host;
mod regular;

pub use host::{host_name, pid_alive, random_token};
pub use regular::{describe, open_regular, read_regular, read_regular_to_string};
