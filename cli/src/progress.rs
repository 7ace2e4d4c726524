//! The progress bar of long commands: on a terminal only, with rate and ETA.

use std::io::IsTerminal;

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

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
             ({{rate}}, {{left}})"
        ))
        .expect("the template is valid")
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", rate(s.pos(), s.elapsed()));
        })
        .with_key("left", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", left(s.pos(), s.len(), s.elapsed()));
        }),
    );
    bar
}

/// The average rate so far, in whole units a second (or a tenth, below 10 a second).
fn rate(done: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if done == 0 || secs <= 0.0 {
        return "…/s".into();
    }
    let r = done as f64 / secs;
    if r < 10.0 {
        format!("{r:.1}/s")
    } else {
        format!("{r:.0}/s")
    }
}

/// The time left at the average rate of all the work done so far (a recent rate misleads when
/// cases cost unevenly along the plan), said to be rough until a tenth of the work or 3
/// seconds are behind.
fn left(done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let Some(total) = total.filter(|_| done > 0) else {
        return "time left unknown yet".into();
    };
    let secs = elapsed.as_secs_f64() / done as f64 * total.saturating_sub(done) as f64;
    let rough = done * 10 < total || elapsed < Duration::from_secs(3);
    let text = human(Duration::from_secs_f64(secs.min(1e9)));
    if rough {
        format!("roughly {text} left")
    } else {
        format!("{text} left")
    }
}

/// `42s`, `3m 05s`, `2h 10m`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_times_left_read_as_a_person_would_say_them() {
        assert_eq!(rate(9549, Duration::from_secs(10)), "955/s");
        assert_eq!(rate(5, Duration::from_secs(2)), "2.5/s");
        assert_eq!(rate(0, Duration::from_secs(2)), "…/s");
        // A tenth done in 2 s: 18 s to go, but too early to be sure.
        assert_eq!(
            left(10, Some(100), Duration::from_secs(2)),
            "roughly 18s left"
        );
        assert_eq!(left(50, Some(100), Duration::from_secs(65)), "1m 05s left");
        assert_eq!(
            left(50, Some(100), Duration::from_secs(7300)),
            "2h 01m left"
        );
        assert_eq!(
            left(0, Some(100), Duration::from_secs(1)),
            "time left unknown yet"
        );
    }
}
