//! The send-video pipeline on real V4L2 drivers, under QEMU: capture in the camera mode the room
//! would choose, encode with x264, decode the access units back with an independent decoder
//! (avdec_h264) and look at the pictures.
//!
//! `send_video_under_qemu` (the only test that runs on the host) boots Debian's kernel (see
//! tests/qemu/README.md) and runs this same test binary inside the guest with the `guest_` tests
//! included. Those tests are ignored anywhere else: they need the guest's video devices.
//!
//! - Raw: vivid (`/dev/video0`, "vivid-000-vid-cap") is a webcam-like capture device whose raw
//!   modes draw 75% colour bars.
//! - MJPEG: vivid has no compressed formats, so the guest also has v4l2loopback
//!   (`/dev/video10`, "salle-loopback", patched to offer JPEG as 'MJPG' only, like a UVC camera).
//!   It is an output device until a program writes to it, then a capture device in the writer's
//!   format: the test feeds it SMPTE bars as MJPEG with GStreamer (`jpegenc ! v4l2sink`).

mod common;

use common::media::{launch, run_through, Sending};
use common::qemu::{self, GuestTests};
use salle::hw::camera::{self, CameraInfo, Encoding, Mode, Wanted};
use salle::media;
use salle::media::encoder::Encoder;
use salle::media::send_video::{CaptureFormat, SendVideo, VideoSettings, VideoSource};
use salle::media::EncodedFrame;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;

const GUEST_TESTS: usize = 2;

#[test]
fn send_video_under_qemu() {
    GuestTests {
        pass_env: &["GST_DEBUG"],
        ..GuestTests::of_this_binary("guest_", GUEST_TESTS)
    }
    .run();
}

// ---- inside the guest -------------------------------------------------------------------

/// What the room asks of its camera by default.
const P720: Wanted = Wanted {
    width: 1280,
    height: 720,
    fps: 30,
};

/// Access units to collect from each capture, and how many of them must decode.
const FRAMES: usize = 45;
const DECODED_AT_LEAST: usize = 30;

fn in_guest() {
    qemu::assert_in_guest("guest tests capture from the guest's video devices");
    media::init().unwrap();
}

/// The video node whose sysfs name (the driver's card name) `matches`, e.g. /dev/video0.
fn video_node(matches: impl Fn(&str) -> bool) -> Option<PathBuf> {
    let mut nodes: Vec<_> = std::fs::read_dir("/sys/class/video4linux")
        .ok()?
        .flatten()
        .filter(|entry| {
            std::fs::read_to_string(entry.path().join("name"))
                .is_ok_and(|name| matches(name.trim()))
        })
        .map(|entry| Path::new("/dev").join(entry.file_name()))
        .collect();
    nodes.sort();
    nodes.into_iter().next()
}

/// The camera at `path` as salle describes it, and the mode salle chooses on it for 720p30.
fn describe_and_choose(path: &Path) -> (CameraInfo, Mode) {
    let info = camera::v4l2::describe(path)
        .unwrap_or_else(|e| panic!("describe {}: {e}", path.display()))
        .unwrap_or_else(|| panic!("{} is not a capture device", path.display()));
    let mode = camera::choose_mode(&info, P720)
        .unwrap_or_else(|| panic!("no usable mode on {}: {info:?}", path.display()));
    println!(
        "{}: driver {}, card {:?}, bus {}, {} formats; salle chooses {mode}",
        path.display(),
        info.driver,
        info.card,
        info.bus,
        info.formats.len()
    );
    (info, mode)
}

/// The device's current capture format, as `v4l2-ctl` reads it from another process (it is
/// the device's, not the file handle's): fourcc, width, height.
fn current_format(path: &Path) -> (String, u32, u32) {
    let out = std::process::Command::new("v4l2-ctl")
        .arg("-d")
        .arg(path)
        .arg("--get-fmt-video")
        .output()
        .expect("run v4l2-ctl");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim_start_matches([' ', ':']).trim().to_string())
            .unwrap_or_default()
    };
    let fourcc = field("Pixel Format");
    let fourcc = fourcc.split('\'').nth(1).unwrap_or(&fourcc).to_string();
    let size = field("Width/Height");
    let (w, h) = size
        .split_once('/')
        .unwrap_or_else(|| panic!("v4l2-ctl: {text}"));
    (fourcc, w.parse().unwrap(), h.parse().unwrap())
}

/// Runs salle's send-video pipeline on the V4L2 device at `path` (described as `info`) in
/// `mode`, with x264, and returns its first `FRAMES` access units. Also checks, while it runs,
/// that the device captures in the chosen mode.
fn send_from(path: &Path, info: &CameraInfo, mode: &Mode) -> Vec<EncodedFrame> {
    let format = match mode.encoding {
        Encoding::Raw => CaptureFormat::Raw,
        Encoding::Mjpeg => CaptureFormat::Mjpeg,
        Encoding::H264 => CaptureFormat::H264,
        Encoding::Other => panic!("salle chose a mode it cannot take: {mode}"),
    };
    let settings = VideoSettings {
        source: VideoSource::V4l2 {
            device: path.display().to_string(),
            format,
        },
        width: mode.width,
        height: mode.height,
        fps: mode.fps.round() as u32,
        encoder: Some(Encoder::X264),
        ..VideoSettings::default()
    };
    let started = Instant::now();
    let mut run = Sending::start(&settings, 1024, SendVideo::start);
    assert_eq!(run.send.encoder(), Encoder::X264);
    // Under TCG (no KVM) capture + decode + scale + x264 run at a few frames per second.
    let deadline = started + Duration::from_secs(120);
    let mut frames = Vec::new();
    let mut checked_format = false;
    while frames.len() < FRAMES {
        assert!(
            Instant::now() < deadline,
            "only {} of {FRAMES} access units from {} in 120 s",
            frames.len(),
            path.display()
        );
        run.no_errors();
        if let Some(frame) = run.next_within(Duration::from_millis(200)) {
            frames.push(frame);
        }
        if !checked_format && !frames.is_empty() {
            assert_captures_in(path, info, mode);
            checked_format = true;
        }
    }
    run.no_errors();
    let stats = &run.send.stats;
    println!(
        "{}: {FRAMES} access units ({} keyframes, {} kB) in {:.1} s, step {:?}",
        path.display(),
        frames.iter().filter(|f| f.keyframe).count(),
        frames.iter().map(|f| f.data.len()).sum::<usize>() / 1000,
        started.elapsed().as_secs_f64(),
        run.send.step(),
    );
    assert!(
        stats.frames.load(std::sync::atomic::Ordering::Relaxed) as usize >= FRAMES,
        "the pipeline counts what it sent"
    );
    assert!(frames[0].keyframe, "the stream starts with a keyframe");
    assert!(
        frames.windows(2).all(|w| w[1].pts > w[0].pts),
        "capture timestamps increase"
    );
    frames
}

/// Checks that the device at `path` captures at the size of `mode`, in its pixel format or, for
/// a raw mode, in another raw format the device offers at that size and rate.
///
/// `VideoSource::V4l2` says only raw, MJPEG or H.264, not which raw format: v4l2src picks one
/// itself (on vivid it takes YU12 over the YUYV salle chose, at the same size and rate).
fn assert_captures_in(path: &Path, info: &CameraInfo, mode: &Mode) {
    let (fourcc, width, height) = current_format(path);
    println!(
        "{}: capturing {fourcc} {width}x{height} (salle chose {mode})",
        path.display()
    );
    assert_eq!((width, height), (mode.width, mode.height), "capture size");
    if mode.encoding != Encoding::Raw {
        assert_eq!(fourcc, mode.fourcc, "capture format");
        return;
    }
    let offered = info.formats.iter().any(|f| {
        f.fourcc == fourcc
            && f.encoding == Encoding::Raw
            && f.sizes.iter().any(|s| {
                (s.width, s.height) == (width, height)
                    && s.fps.iter().any(|&fps| (fps - mode.fps).abs() < 0.5)
            })
    });
    assert!(
        offered,
        "{fourcc} {width}x{height}@{} is not a raw mode of the camera",
        mode.fps
    );
}

/// A decoded picture, RGB.
struct Picture {
    width: usize,
    height: usize,
    stride: usize,
    rgb: Vec<u8>,
}

impl Picture {
    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = y * self.stride + x * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// The mean colour of the 9x9 square around (x, y).
    fn mean(&self, x: usize, y: usize) -> [u8; 3] {
        let mut sum = [0u32; 3];
        let mut n = 0;
        for yy in y.saturating_sub(4)..=(y + 4).min(self.height - 1) {
            for xx in x.saturating_sub(4)..=(x + 4).min(self.width - 1) {
                let p = self.pixel(xx, yy);
                for c in 0..3 {
                    sum[c] += u32::from(p[c]);
                }
                n += 1;
            }
        }
        sum.map(|s| (s / n) as u8)
    }

    /// Colours (3 bits per channel) that cover at least 2% of the picture each (counted on
    /// every 4th pixel of every 4th row: this test binary is unoptimised and runs under TCG).
    fn main_colours(&self) -> usize {
        let mut bins = [0usize; 512];
        let mut total = 0;
        for y in (0..self.height).step_by(4) {
            for x in (0..self.width).step_by(4) {
                let [r, g, b] = self.pixel(x, y).map(|c| usize::from(c >> 5));
                bins[r << 6 | g << 3 | b] += 1;
                total += 1;
            }
        }
        bins.iter().filter(|&&n| n * 50 >= total).count()
    }
}

/// Decodes access units with avdec_h264 (not salle's code) into RGB pictures.
fn decode(frames: &[EncodedFrame]) -> Vec<Picture> {
    run_through(
        "appsrc name=in format=time caps=video/x-h264,stream-format=byte-stream,alignment=au \
         ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=RGB \
         ! appsink name=out sync=false",
        frames,
    )
    .iter()
    .map(|sample| {
        let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
        let map = sample.buffer().unwrap().map_readable().unwrap();
        Picture {
            width: info.width() as usize,
            height: info.height() as usize,
            stride: info.stride()[0] as usize,
            rgb: map.as_slice().to_vec(),
        }
    })
    .collect()
}

/// Decodes `frames` and checks the pictures: at least `DECODED_AT_LEAST`, all at the sent size
/// `size`, and showing the source's colour bars rather than a flat or garbled picture. `bars`
/// are the bars' colours left to right (equal widths, sampled at `row` of the height), each
/// channel on (true) or off: levels vary (vivid draws 75% bars; a jpegenc ! jpegdec round trip
/// turns videotestsrc's 255 into 220-255 and its 0 into 0-35), the pattern does not.
fn assert_decodes_to_bars(
    frames: &[EncodedFrame],
    size: (usize, usize),
    bars: &[[bool; 3]],
    row: f64,
) {
    let started = Instant::now();
    let pictures = decode(frames);
    println!("decoding took {:.1} s", started.elapsed().as_secs_f64());
    let sizes: Vec<_> = pictures.iter().map(|p| (p.width, p.height)).collect();
    println!(
        "decoded {} of {} access units",
        pictures.len(),
        frames.len()
    );
    assert!(
        pictures.len() >= DECODED_AT_LEAST,
        "decoded only {} pictures of {} access units",
        pictures.len(),
        frames.len()
    );
    assert!(
        sizes.iter().all(|&s| s == size),
        "decoded sizes {sizes:?}, sent {size:?}"
    );
    let y = (size.1 as f64 * row) as usize;
    let started = Instant::now();
    for (i, picture) in pictures.iter().enumerate() {
        let colours = picture.main_colours();
        let seen: Vec<[u8; 3]> = (0..bars.len())
            .map(|bar| picture.mean((2 * bar + 1) * picture.width / (2 * bars.len()), y))
            .collect();
        if i == 0 || i == pictures.len() - 1 {
            println!("picture {i}: {colours} main colours; bars at y={y}: {seen:?}");
        }
        assert!(
            colours >= bars.len() - 1,
            "picture {i}: only {colours} colours cover 2% of the picture each (bars {seen:?})"
        );
        for (bar, (on, got)) in bars.iter().zip(&seen).enumerate() {
            assert!(
                on.iter()
                    .zip(got)
                    .all(|(&on, &level)| if on { level >= 150 } else { level <= 60 }),
                "picture {i}: bar {bar} is {got:?}, the source draws {on:?} (all bars: {seen:?})"
            );
        }
    }
    println!(
        "checking the pictures took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Colour bars (vivid's default pattern, and the top of SMPTE bars): which of R, G, B is on.
const WHITE: [bool; 3] = [true, true, true];
const YELLOW: [bool; 3] = [true, true, false];
const CYAN: [bool; 3] = [false, true, true];
const GREEN: [bool; 3] = [false, true, false];
const MAGENTA: [bool; 3] = [true, false, true];
const RED: [bool; 3] = [true, false, false];
const BLUE: [bool; 3] = [false, false, true];
const BLACK: [bool; 3] = [false, false, false];

#[test]
#[ignore = "runs in the QEMU guest: see send_video_under_qemu"]
fn guest_raw_capture_from_vivid_encodes_and_decodes_at_the_captured_size() {
    in_guest();
    let path = video_node(|name| name.starts_with("vivid-") && name.ends_with("-vid-cap"))
        .expect("a vivid capture node");
    let (info, mode) = describe_and_choose(&path);
    assert_eq!(info.driver, "vivid");
    assert_eq!(mode.encoding, Encoding::Raw, "vivid only has raw formats");
    let frames = send_from(&path, &info, &mode);
    assert_decodes_to_bars(
        &frames,
        (mode.width as usize, mode.height as usize),
        &[WHITE, YELLOW, CYAN, GREEN, MAGENTA, RED, BLUE, BLACK],
        0.6,
    );
}

/// A GStreamer pipeline writing to a V4L2 output device; stopped when dropped.
struct Producer(gst::Pipeline);

impl Producer {
    fn start(description: &str) -> Producer {
        let pipeline = launch(description);
        pipeline.set_state(gst::State::Playing).unwrap();
        Producer(pipeline)
    }

    /// Panics with the producer's error, if it had one.
    fn assert_healthy(&self) {
        let bus = self.0.bus().unwrap();
        if let Some(message) = bus.pop_filtered(&[gst::MessageType::Error]) {
            panic!(
                "the MJPEG producer failed: {}",
                media::bus_error(&message).unwrap()
            );
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

#[test]
#[ignore = "runs in the QEMU guest: see send_video_under_qemu"]
fn guest_mjpeg_capture_from_v4l2loopback_encodes_and_decodes_at_the_captured_size() {
    in_guest();
    let path = video_node(|name| name == "salle-loopback").expect("the v4l2loopback node");
    // Until something writes to it, the loopback is an output device: not a camera for salle.
    assert_eq!(
        camera::v4l2::describe(&path).unwrap(),
        None,
        "an idle loopback is no camera"
    );
    // A UVC-like MJPEG camera: 720p30 JPEG pictures of SMPTE bars. v4l2sink only takes parsed
    // JPEG with the colorimetry it probed (2:4:7:1); jpegparse drops jpegenc's, so set it again.
    let producer = Producer::start(&format!(
        "videotestsrc is-live=true pattern=smpte \
         ! video/x-raw,width=1280,height=720,framerate=30/1 \
         ! jpegenc quality=85 ! jpegparse ! image/jpeg,colorimetry=2:4:7:1 \
         ! v4l2sink device={} sync=false",
        path.display()
    ));
    let limit = Instant::now() + Duration::from_secs(30);
    while camera::v4l2::describe(&path).ok().flatten().is_none() {
        producer.assert_healthy();
        assert!(Instant::now() < limit, "the loopback never became a camera");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (info, mode) = describe_and_choose(&path);
    assert_eq!(
        info.formats
            .iter()
            .map(|f| f.fourcc.as_str())
            .collect::<Vec<_>>(),
        ["MJPG"],
        "{info:?}"
    );
    assert_eq!(mode.to_string(), "MJPG 1280x720@30");
    let frames = send_from(&path, &info, &mode);
    producer.assert_healthy();
    drop(producer);
    assert_decodes_to_bars(
        &frames,
        (mode.width as usize, mode.height as usize),
        &[WHITE, YELLOW, CYAN, GREEN, MAGENTA, RED, BLUE],
        0.33,
    );
}
