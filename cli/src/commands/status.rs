//! `xyz status`: how far crops have grown.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;

use xyz_core::Crop;
use xyz_core::crop::JobRecord;
use xyz_core::crop::Status;

use crate::exit_codes;
use xyz::scheduler::{self, Queue};

const AFTER_HELP: &str = "EXAMPLES:
  Every crop in the current directory:
    xyz status

  One crop, as JSON:
    xyz status mandel --json

  Watch a crop fill in, redrawn every 5 seconds until it is complete:
    xyz status mandel --watch --interval 5s";

/// Show how far crops have grown: batches and cases done, failures, throughput and ETA, the
/// workers at work, and the jobs submitted with what their scheduler's queue holds of them.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct StatusCommand {
    /// The crop's name (or the path of its .xyz-NAME directory) [default: every crop in the
    /// directory]
    name: Option<String>,

    /// The directory holding the crops [default: the current directory]
    #[arg(long, value_name = "DIR")]
    parent_dir: Option<PathBuf>,

    #[command(flatten)]
    trust: super::key::TrustArgs,

    /// Print JSON instead of text
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    watch: super::source::WatchArgs,
}

/// A bar of `width` cells, `done` of `total` full.
fn bar(done: u64, total: u64, width: usize) -> String {
    let full = if total == 0 {
        width
    } else {
        ((done as u128 * width as u128) / total as u128) as usize
    };
    format!("[{}{}]", "#".repeat(full), "-".repeat(width - full))
}

fn duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// What the schedulers' queues hold, for each scheduler the jobs of the crops shown went to:
/// `None` where one cannot be asked.
struct Queues(HashMap<String, Option<Queue>>);

impl Queues {
    fn ask(statuses: &[Status]) -> Queues {
        let mut queues = HashMap::new();
        for job in statuses.iter().flat_map(|st| &st.jobs) {
            queues
                .entry(job.scheduler.clone())
                .or_insert_with(|| scheduler::by_name(&job.scheduler).and_then(|s| s.queue()));
        }
        Queues(queues)
    }

    /// The tasks of `job` in its scheduler's queue (none once it has left it); `None` when
    /// the scheduler could not be asked.
    fn of(&self, job: &JobRecord) -> Option<scheduler::Tasks> {
        let queue = self.0.get(&job.scheduler)?.as_ref()?;
        Some(queue.get(&job.job_id).cloned().unwrap_or_default())
    }
}

/// The statuses of `statuses`, a blank line between two crops.
fn render_all(statuses: &[Status], queues: &Queues) -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    for (i, st) in statuses.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        render(st, queues, &mut text)?;
    }
    Ok(text)
}

/// An adaptive study's state on one line: its rounds, points and loss, and whether it is
/// finished.
fn study_line(s: &xyz_core::crop::StudyStatus) -> String {
    let points = match s.n {
        Some(n) => format!("{}/{n} points", s.points),
        None => format!("{} points", s.points),
    };
    let loss = match (s.loss, s.loss_goal) {
        (Some(l), Some(goal)) => format!(", loss {l:.4} (goal {goal})"),
        (Some(l), None) => format!(", loss {l:.4}"),
        (None, _) => String::new(),
    };
    let state = match s.finished {
        Some(why) => format!("; finished: {why}"),
        None => "; the next rounds are chosen as these are grown".into(),
    };
    format!("{} rounds, {points}{loss}{state}", s.rounds)
}

/// A failure on one line: the case's arguments and the first line of its message.
fn failure(f: &xyz_core::CaseFailure) -> String {
    let args: Vec<String> = f.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let message = f.message.lines().next().unwrap_or_default();
    format!("{}: {message}", args.join(", "))
}

/// Writes the status of one crop, as `xyz status` shows it.
fn render(st: &Status, queues: &Queues, out: &mut impl Write) -> std::fmt::Result {
    let pct = 100.0 * st.grown as f64 / st.batches.max(1) as f64;
    writeln!(out, "{} ({})", st.name, st.dir.display())?;
    writeln!(out, "  function  {}", st.function)?;
    writeln!(
        out,
        "  batches   {} {}/{} ({pct:.1}%)",
        bar(st.grown, st.batches, 30),
        st.grown,
        st.batches
    )?;
    writeln!(
        out,
        "  cases     {}/{} grown, {} failed",
        st.cases_grown, st.cases, st.failed_cases
    )?;
    if let Some(study) = &st.study {
        writeln!(out, "  study     {}", study_line(study))?;
    }
    for (i, f) in st.recent_failures.iter().enumerate() {
        writeln!(
            out,
            "  {:<9} {}",
            if i == 0 { "failures" } else { "" },
            failure(f)
        )?;
    }
    // The recent rate where there is one: it follows growers joining and leaving.
    match (
        st.recent_cases_per_second.or(st.cases_per_second),
        st.eta_seconds,
    ) {
        (Some(rate), Some(eta)) if !st.is_complete() => {
            writeln!(
                out,
                "  rate      {rate:.0} cases/s, about {} to go",
                duration(eta)
            )?;
        }
        (Some(rate), _) => writeln!(out, "  rate      {rate:.0} cases/s")?,
        _ => {}
    }
    for (i, g) in st.growers.iter().take(8).enumerate() {
        let who = match (&g.grower, &g.id) {
            (Some(w), _) => format!(
                "{} ({}-{}, pid {}, xyz {})",
                w.host, w.arch, w.os, w.pid, w.xyz
            ),
            (None, Some(id)) => format!("grower {id} (its record is missing)"),
            (None, None) => "growers that name themselves in no result".to_string(),
        };
        writeln!(
            out,
            "  {:<9} {who}: {} batch{}, {}",
            if i == 0 { "grown by" } else { "" },
            g.batches,
            if g.batches == 1 { "" } else { "es" },
            super::args::count_of(g.cases, "case")
        )?;
    }
    if st.growers.len() > 8 {
        writeln!(out, "            and {} more growers", st.growers.len() - 8)?;
    }
    let live: Vec<_> = st.claims.iter().filter(|c| !c.expired()).collect();
    if !live.is_empty() {
        let mut hosts: Vec<&str> = live.iter().map(|c| c.host.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        writeln!(
            out,
            "  workers   {} batches claimed on {} host{}: {}",
            live.len(),
            hosts.len(),
            if hosts.len() == 1 { "" } else { "s" },
            hosts.join(", ")
        )?;
        for c in live.iter().take(8) {
            writeln!(
                out,
                "            batch {} by {} pid {}, lease renewed {} ago (lease {})",
                c.batch,
                c.host,
                c.pid,
                duration(c.lease_age_ms as f64 / 1000.0),
                duration(c.lease_ms as f64 / 1000.0)
            )?;
        }
        if live.len() > 8 {
            writeln!(out, "            and {} more", live.len() - 8)?;
        }
    }
    if !st.jobs.is_empty() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let shown = &st.jobs[st.jobs.len().saturating_sub(6)..];
        for (i, j) in shown.iter().enumerate() {
            let queued = match queues.of(j) {
                Some(tasks) if tasks.is_empty() => "; no longer queued".to_string(),
                Some(tasks) => format!("; queued: {}", scheduler::words(&tasks)),
                None => String::new(),
            };
            writeln!(
                out,
                "  {:<9} {} job {}: {}, submitted {} ago{queued}",
                if i == 0 { "jobs" } else { "" },
                j.scheduler,
                j.job_id,
                j.tasks_text(),
                duration(now.saturating_sub(j.submitted_ms) as f64 / 1000.0)
            )?;
        }
        if st.jobs.len() > shown.len() {
            writeln!(
                out,
                "            and {} earlier jobs",
                st.jobs.len() - shown.len()
            )?;
        }
    }
    let expired = st.claims.len() - live.len();
    if expired > 0 {
        writeln!(
            out,
            "  expired   {expired} claims whose workers stopped renewing; the next worker takes \
             their batches over"
        )?;
    }
    if st.writing > 0 {
        writeln!(
            out,
            "  writing   {} results in progress (or left by dead growers)",
            st.writing
        )?;
    }
    if st.untrusted > 0 {
        writeln!(
            out,
            "  untrusted {} result files sealed by keys not trusted here, not counted (their \
             batches grow again; a colleague's key is trusted with --trust-key FILE)",
            st.untrusted
        )?;
    }
    Ok(())
}

impl StatusCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        if self.watch.watch && self.json {
            bail!("--watch redraws the text view, --json prints once: give one or the other");
        }
        let interval = self.watch.interval()?;
        let crops = self.crops()?;
        if self.watch.watch {
            return self.watch(&crops, interval);
        }
        let statuses: Vec<Status> = crops.iter().map(Crop::status).collect::<Result<_, _>>()?;
        let queues = Queues::ask(&statuses);
        if self.json {
            // Each job with its tasks in the queue by state: `{}` once it has left it, `null`
            // when its scheduler could not be asked.
            let mut values = Vec::with_capacity(statuses.len());
            for st in &statuses {
                let mut value = serde_json::to_value(st)?;
                if let Some(jobs) = value["jobs"].as_array_mut() {
                    for (job, record) in jobs.iter_mut().zip(&st.jobs) {
                        job["queue"] = serde_json::to_value(queues.of(record))?;
                    }
                }
                values.push(value);
            }
            let value = match &self.name {
                Some(_) => values.swap_remove(0),
                None => serde_json::Value::Array(values),
            };
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else if statuses.is_empty() {
            println!("no crops in {}", self.parent().display());
        } else {
            print!("{}", render_all(&statuses, &queues)?);
        }
        Ok(exit_codes::OK)
    }

    fn parent(&self) -> PathBuf {
        self.parent_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// The crop named, or every crop in the directory.
    fn crops(&self) -> anyhow::Result<Vec<Crop>> {
        match &self.name {
            Some(name) => Ok(vec![
                self.trust
                    .apply(Crop::locate(name, self.parent_dir.as_deref())?)?,
            ]),
            None => Crop::list(&self.parent())?
                .iter()
                .map(|dir| self.trust.apply(Crop::open(dir)?))
                .collect(),
        }
    }

    /// Shows the status of `crops` every `interval` until all are complete: redrawn in place
    /// on a terminal, a line per crop and interval (and one per new failure) otherwise.
    fn watch(&self, crops: &[Crop], interval: Duration) -> anyhow::Result<u8> {
        if crops.is_empty() {
            bail!("no crops in {} to watch", self.parent().display());
        }
        let term = console::Term::stdout();
        let live = term.is_term();
        let started = Instant::now();
        let mut drawn = 0;
        let mut seen = HashSet::new();
        loop {
            // An adaptive study's crop gains rounds as it grows.
            let statuses: Vec<Status> = crops
                .iter()
                .map(|c| match c.adaptive() {
                    Some(_) => c.reopened()?.status(),
                    None => c.status(),
                })
                .collect::<Result<_, _>>()?;
            let done = statuses.iter().all(Status::is_complete);
            let elapsed = duration(started.elapsed().as_secs_f64());
            if live {
                let mut text = render_all(&statuses, &Queues::ask(&statuses))?;
                if done {
                    writeln!(text, "  complete; watched for {elapsed}")?;
                } else {
                    writeln!(
                        text,
                        "  watching every {}, for {elapsed}; Ctrl-C stops watching (the growers go on)",
                        self.watch.interval
                    )?;
                }
                // Only what fits, so that the next redraw finds its first line.
                let (rows, cols) = term.size();
                let lines: Vec<String> = text
                    .lines()
                    .take(usize::from(rows.max(2)) - 1)
                    .map(|l| console::truncate_str(l, usize::from(cols), "").into_owned())
                    .collect();
                term.clear_last_lines(drawn)?;
                term.write_line(&lines.join("\n"))?;
                drawn = lines.len();
            } else {
                for st in &statuses {
                    println!("{elapsed} {}", line(st));
                    // The new ones, oldest first.
                    for f in st.recent_failures.iter().rev() {
                        if seen.insert((st.name.clone(), f.case)) {
                            println!("{elapsed} {}: failed at {}", st.name, failure(f));
                        }
                    }
                }
            }
            if done {
                return Ok(exit_codes::OK);
            }
            std::thread::sleep(interval);
        }
    }
}

/// One crop's progress on one line, for `--watch` into a pipe or a file.
fn line(st: &Status) -> String {
    let mut text = format!(
        "{}: {}/{} batches, {}/{} cases, {} failed",
        st.name, st.grown, st.batches, st.cases_grown, st.cases, st.failed_cases
    );
    if let Some(study) = &st.study {
        text += &format!(", {} rounds", study.rounds);
        if let Some(loss) = study.loss {
            text += &format!(", loss {loss:.4}");
        }
    }
    if let Some(rate) = st.recent_cases_per_second.or(st.cases_per_second) {
        text += &format!(", {rate:.0} cases/s");
    }
    match st.eta_seconds {
        _ if st.is_complete() => text += ", complete",
        Some(eta) => text += &format!(", about {} to go", duration(eta)),
        None => {}
    }
    text
}
