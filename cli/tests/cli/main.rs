//! End-to-end tests: the real `xyz` binary on example guests built from source, with the
//! outputs read back by Python's xarray and pandas.

mod adaptive;
mod adaptive_crops;
mod attrs;
mod bad_input;
mod bigger_than_memory;
mod clusters;
mod complex;
mod crops;
mod distributed;
mod faulty;
mod first_hour;
mod formats;
mod fresh_machine;
mod harvest;
mod hostile;
mod launcher;
mod native;
mod new;
mod plot;
mod run;
mod samples;
mod show;
mod trust;
mod util;
mod verify;
mod wasi;
mod watch;
mod workers;
