//! What /proc says about the processes being measured: CPU time, peak and proportional memory,
//! and process trees (Chromium is many processes).

use std::time::{Duration, Instant};

/// Clock ticks per second (the unit of utime/stime in /proc/PID/stat).
fn ticks_per_second() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64
}

/// The fields of /proc/PID/stat after the command name (field 3, the state, is index 0).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.rsplit(')')
            .next()?
            .split_whitespace()
            .map(String::from)
            .collect(),
    )
}

/// User + system CPU seconds a process used so far (its own threads, not its children).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let fields = stat_fields(pid)?;
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / ticks_per_second())
}

fn parent(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// A `kB` line of /proc/PID/status or smaps_rollup.
fn kb_field(path: &str, name: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Peak resident set size (VmHWM), kB.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    kb_field(&format!("/proc/{pid}/status"), "VmHWM:")
}

/// Proportional set size now, kB: shared pages divided among the processes sharing them, so
/// that a process tree's sum counts each page once.
pub fn pss_kb(pid: u32) -> Option<u64> {
    kb_field(&format!("/proc/{pid}/smaps_rollup"), "Pss:")
}

/// Starts a new peak for VmHWM (the kernel's `clear_refs` 5), so the peak is the window's.
pub fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// The executable's file name (`chromium`, `chromedriver`, `python3.11`...).
pub fn exe_name(pid: u32) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    Some(exe.file_name()?.to_string_lossy().into_owned())
}

/// `root` and every process under it.
pub fn tree(root: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|pid| Some((pid, parent(pid)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(all.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found
}

/// What one side cost over the measured window.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    /// CPU seconds (user + system) over the window, summed over the processes.
    pub cpu_s: f64,
    /// Length of the window, seconds.
    pub window_s: f64,
    /// Peak RSS in the window (VmHWM after a reset at its start), summed over the processes
    /// (an over-count for a tree: shared pages count once per process).
    pub rss_kb: u64,
    /// The highest sum of PSS over the processes, sampled every half second.
    pub pss_kb: u64,
    /// How many processes were measured (at the end of the window).
    pub processes: usize,
}

/// Measures the processes `pids()` names (asked again at every sample: a tree changes) for
/// `length`, calling `each_second` once a second (for the caller's own figures).
pub fn measure(
    length: Duration,
    pids: impl Fn() -> Vec<u32>,
    mut each_second: impl FnMut(),
) -> Usage {
    let start_pids = pids();
    let start_cpu: Vec<(u32, f64)> = start_pids
        .iter()
        .filter_map(|&p| Some((p, cpu_seconds(p)?)))
        .collect();
    for &p in &start_pids {
        reset_peak_rss(p);
    }
    let started = Instant::now();
    let mut pss_peak = 0;
    let mut next_second = Duration::from_secs(1);
    let mut last_pids = start_pids;
    loop {
        let elapsed = started.elapsed();
        if elapsed >= length {
            break;
        }
        last_pids = pids();
        pss_peak = pss_peak.max(last_pids.iter().filter_map(|&p| pss_kb(p)).sum::<u64>());
        if elapsed >= next_second {
            next_second += Duration::from_secs(1);
            each_second();
        }
        std::thread::sleep(Duration::from_millis(500).min(length.saturating_sub(elapsed)));
    }
    let window_s = started.elapsed().as_secs_f64();
    let end_pids = pids();
    let end_pids = if end_pids.is_empty() {
        last_pids
    } else {
        end_pids
    };
    // Processes that ended inside the window are not counted (none should, for these peers).
    let cpu_s = end_pids
        .iter()
        .filter_map(|&p| {
            let now = cpu_seconds(p)?;
            let before = start_cpu
                .iter()
                .find(|(q, _)| *q == p)
                .map_or(0.0, |(_, c)| *c);
            Some(now - before)
        })
        .sum();
    let rss_kb = end_pids.iter().filter_map(|&p| peak_rss_kb(p)).sum();
    Usage {
        cpu_s,
        window_s,
        rss_kb,
        pss_kb: pss_peak,
        processes: end_pids.len(),
    }
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg says them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPU seconds so far of each thread of `pid`, summed by thread name (`/proc/PID/task/*/stat`:
/// GStreamer names its streaming threads after their element or pad, tokio its workers).
pub fn cpu_by_thread_name(pid: u32) -> Vec<(String, f64)> {
    let mut by_name: Vec<(String, f64)> = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let seconds = (ticks(11) + ticks(12)) / ticks_per_second();
        match by_name.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += seconds,
            None => by_name.push((name, seconds)),
        }
    }
    by_name
}

/// The threads (by name) that used the most CPU between two `cpu_by_thread_name` looks, as
/// "name 12%" (of one core over `window_s`), the busiest first.
pub fn busiest_threads(
    before: &[(String, f64)],
    after: &[(String, f64)],
    window_s: f64,
    count: usize,
) -> String {
    let mut used: Vec<(String, f64)> = after
        .iter()
        .map(|(name, now)| {
            let then = before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0.0, |(_, t)| *t);
            (name.clone(), now - then)
        })
        .collect();
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    used.iter()
        .take(count)
        .map(|(name, s)| format!("{name} {:.0}%", 100.0 * s / window_s.max(1e-9)))
        .collect::<Vec<_>>()
        .join(", ")
}
