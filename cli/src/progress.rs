//! The progress bar of long commands: on a terminal only, with rate and ETA.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over `total` cases, drawn on stderr when it is a terminal and `show` is set;
/// hidden otherwise.
pub(crate) fn cases_bar(total: u64, show: bool) -> ProgressBar {
    bar(total, "cases", show)
}

/// A progress bar over `total` things called `unit`; see [`cases_bar`].
pub(crate) fn bar(total: u64, unit: &str, show: bool) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {unit} \
             ({{per_sec}}, ETA {{eta}})"
        ))
        .expect("the template is valid"),
    );
    bar
}
