//! The daemon's main loop never waits for GStreamer: a session whose media takes 10 s to start
//! (a real state change that blocks, `filesrc` opening a FIFO nobody writes to, through the
//! daemon's test hook SALLE_TEST_SLOW_START_FIFO) leaves `salle status` answering at once and
//! the systemd watchdog fed (a notify socket of the test's own, as systemd's would be).

mod common;

use common::{simulated_room, wait_for, Daemon};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the media start is held.
const HELD: Duration = Duration::from_secs(10);

/// One status request on the control socket; returns the answer and how long it took.
fn timed_status(socket: &std::path::Path) -> (serde_json::Value, Duration) {
    let asked = Instant::now();
    let mut stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"{\"request\":\"status\"}\n").unwrap();
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).unwrap();
    let took = asked.elapsed();
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    (answer["status"].clone(), took)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() - 1) * p / 100]
}

#[test]
fn a_pipeline_that_takes_10_s_to_start_holds_neither_status_nor_the_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("media-start.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // systemd's side of sd_notify: a datagram socket; every WATCHDOG=1 is counted with its
    // time.
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let pings: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = {
        let (pings, done) = (pings.clone(), done.clone());
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(n) = notify.recv(&mut buffer) {
                    let message = String::from_utf8_lossy(&buffer[..n]);
                    if message.lines().any(|l| l == "WATCHDOG=1") {
                        pings.lock().unwrap().push(Instant::now());
                    }
                }
            }
        })
    };
    let config = simulated_room("Salle Test", "test://demo?connect_ms=100");
    let daemon = Daemon::start_with(&config, |command| {
        command
            .env("SALLE_TEST_SLOW_START_FIFO", &fifo)
            .env("NOTIFY_SOCKET", &notify_path)
            // A 200 ms watchdog: fed every 100 ms.
            .env("WATCHDOG_USEC", "200000")
            .env_remove("WATCHDOG_PID");
    });

    let join = daemon.cli(&["join"]);
    assert!(join.status.success(), "{}", common::text(&join.stderr));
    let held_from = Instant::now();
    wait_for("the media worker held", Duration::from_secs(10), || {
        daemon.log().contains("held by").then_some(())
    });
    // While the start is held: status every 50 ms, each timed.
    let mut latencies = Vec::new();
    while held_from.elapsed() < HELD {
        let (status, took) = timed_status(&daemon.socket);
        assert_eq!(status["call"]["state"], "joining", "{status}");
        latencies.push(took);
        std::thread::sleep(Duration::from_millis(50));
    }
    let pings_while_held = pings
        .lock()
        .unwrap()
        .iter()
        .filter(|&&at| at > held_from)
        .count();
    assert!(
        !daemon.log().contains("released"),
        "the start was not held all along"
    );
    // Release the start: a writer opens the FIFO, then closes it (filesrc reads its end).
    drop(std::fs::OpenOptions::new().write(true).open(&fifo).unwrap());
    daemon.wait_state("in-call", Duration::from_secs(20));
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    listener.join().unwrap();

    latencies.sort();
    let (p50, p90, max) = (
        percentile(&latencies, 50),
        percentile(&latencies, 90),
        *latencies.last().unwrap(),
    );
    eprintln!(
        "media start held {HELD:?}: {} status requests answered, median {p50:?}, 90th \
         percentile {p90:?}, slowest {max:?}; {pings_while_held} watchdog pings meanwhile",
        latencies.len()
    );
    // The bound, on the median of many (a loaded 2-core machine has outliers).
    assert!(p50 < Duration::from_millis(100), "median {p50:?}");
    // Fed every 100 ms: about 100 pings in 10 s; a loop held by the pipeline would send none.
    assert!(
        pings_while_held >= 20,
        "{pings_while_held} watchdog pings in {HELD:?}"
    );
}
