//! Send-path benchmark: salle's video send pipeline against `gst-launch-1.0` running the same
//! graph, in the same run, on the same machine. Prints figures, asserts nothing.
//!
//!     cargo bench --bench media            # 720p30 and 1080p30, 10 s each
//!     SALLE_BENCH_SECS=30 cargo bench --bench media
//!
//! Each side runs in its own process so CPU time and peak RSS are its own: CPU seconds per
//! media second (user+system from /proc/<pid>/stat), capture-to-appsink latency p50/p99 (salle:
//! its appsink; gst-launch: GStreamer's latency tracer, source to sink), peak RSS (VmHWM).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SIZES: [(u32, u32); 2] = [(1280, 720), (1920, 1080)];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        return child(
            args[2].parse().unwrap(),
            args[3].parse().unwrap(),
            args[4].parse().unwrap(),
        );
    }
    let secs: u64 = std::env::var("SALLE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    println!("send path, x264 (zerolatency, ultrafast) at the step's default bitrate, test pattern, {secs} s each");
    println!(
        "{:<10} {:<10} {:>14} {:>12} {:>12} {:>10}",
        "size", "who", "cpu s/media s", "lat p50 ms", "lat p99 ms", "peak RSS MB"
    );
    for (w, h) in SIZES {
        let ours = measure_salle(w, h, secs);
        let bare = measure_gst_launch(w, h, secs);
        for (who, m) in [("salle", &ours), ("gst-launch", &bare)] {
            println!(
                "{:<10} {:<10} {:>14.3} {:>12.1} {:>12.1} {:>10.1}",
                format!("{h}p30"),
                who,
                m.cpu / secs as f64,
                m.p50,
                m.p99,
                m.rss_kb as f64 / 1024.0
            );
        }
        println!(
            "{:<10} {:<10} {:>14.2} {:>12.2} {:>12.2} {:>10.2}",
            "",
            "ratio",
            ours.cpu / bare.cpu,
            ours.p50 / bare.p50,
            ours.p99 / bare.p99,
            ours.rss_kb as f64 / bare.rss_kb as f64
        );
    }
}

struct Measure {
    cpu: f64,
    p50: f64,
    p99: f64,
    rss_kb: u64,
}

fn pipeline_caps(w: u32, h: u32) -> String {
    format!("video/x-raw,format=I420,width={w},height={h},framerate=30/1,pixel-aspect-ratio=1/1")
}

/// The child: salle's SendVideo for `secs`, consuming every access unit, then prints latency.
fn child(w: u32, h: u32, secs: u64) {
    use salle::media::send_video::{SendVideo, VideoSettings};
    salle::media::init().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
    let (etx, _erx) = tokio::sync::mpsc::unbounded_channel();
    let settings = VideoSettings {
        width: w,
        height: h,
        encoder: Some(salle::media::encoder::Encoder::X264),
        ..VideoSettings::default()
    };
    let video = SendVideo::start(&settings, tx, etx).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        while rx.try_recv().is_ok() {}
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut latencies: Vec<u32> = video
        .stats
        .latency_us
        .lock()
        .unwrap()
        .iter()
        .copied()
        .collect();
    video.stop();
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    // Capture timestamp to appsink, as the room's status reports it (includes the source's wait).
    println!("latency {} {}", pick(0.5), pick(0.99));
    // Wait to be measured and killed: CPU while sleeping is nil.
    std::thread::sleep(Duration::from_secs(3600));
}

fn measure_salle(w: u32, h: u32, secs: u64) -> Measure {
    let exe = std::env::current_exe().unwrap();
    let log = tracer_log("salle");
    let mut child = Command::new(exe)
        .args(["--child", &w.to_string(), &h.to_string(), &secs.to_string()])
        .envs(tracer_env(&log))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let numbers: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect();
    let (cpu, rss_kb) = proc_figures(&child);
    let _ = child.kill();
    let _ = child.wait();
    let (p50, p99) = tracer_latency(&log);
    println!(
        "  (salle's own capture-timestamp-to-appsink latency at {h}p: p50 {:.1} ms, p99 {:.1} ms)",
        numbers[0], numbers[1]
    );
    Measure {
        cpu,
        p50,
        p99,
        rss_kb,
    }
}

fn measure_gst_launch(w: u32, h: u32, secs: u64) -> Measure {
    let (sw, sh) = (w, h);
    let description = format!(
        "videotestsrc is-live=true pattern=ball ! video/x-raw,width={sw},height={sh},framerate=30/1 \
         ! videoconvert ! videoscale ! videorate ! {caps} ! tee name=t \
         t. ! queue leaky=downstream max-size-buffers=2 ! valve ! x264enc tune=zerolatency speed-preset=ultrafast \
            key-int-max=60 bframes=0 bitrate={kbps} ! video/x-h264,profile=constrained-baseline \
            ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! fakesink name=out sync=false \
         t. ! queue leaky=downstream max-size-buffers=2 ! videoscale ! video/x-raw,width=320,height=180 ! fakesink sync=false",
        caps = pipeline_caps(w, h),
        kbps = if h >= 1080 { 3500 } else { 1800 },
    );
    let log = tracer_log("gst-launch");
    let mut child = Command::new("gst-launch-1.0")
        .args(["-q"])
        .args(description.split_whitespace())
        .envs(tracer_env(&log))
        .stdout(Stdio::null())
        .spawn()
        .expect("gst-launch-1.0 (gstreamer1.0-tools)");
    std::thread::sleep(Duration::from_secs(secs));
    let (cpu, rss_kb) = proc_figures(&child);
    let _ = child.kill();
    let _ = child.wait();
    let (p50, p99) = tracer_latency(&log);
    Measure {
        cpu,
        p50,
        p99,
        rss_kb,
    }
}

fn tracer_log(who: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("salle-bench-{who}-{}.log", std::process::id()))
}

/// GStreamer's latency tracer, the same for both sides: source push to sink, per buffer.
fn tracer_env(log: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("GST_TRACERS", "latency".into()),
        ("GST_DEBUG", "GST_TRACER:7".into()),
        ("GST_DEBUG_FILE", log.display().to_string()),
        ("GST_DEBUG_NO_COLOR", "1".into()),
    ]
}

/// p50 and p99 in ms of the latency to the encoded-video sink (named `out` on both sides).
fn tracer_latency(log: &std::path::Path) -> (f64, f64) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let _ = std::fs::remove_file(log);
    let mut latencies: Vec<f64> = text
        .lines()
        .filter(|l| l.contains("latency,") && l.contains("sink-element=(string)out,"))
        .filter_map(|l| l.split("time=(guint64)").nth(1))
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map(|ns| ns / 1e6)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0).max(0.0) * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    (pick(0.5), pick(0.99))
}

/// (CPU seconds used so far, peak RSS in kB) of a child, from /proc.
fn proc_figures(child: &Child) -> (f64, u64) {
    let pid = child.id();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (ticks / hz, rss)
}
