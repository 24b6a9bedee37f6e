//! The receive pipeline on real GStreamer: real H.264, VP8, VP9 and Opus made here by real
//! encoders, pushed in as the WebRTC layer will, and the composed screen read back from the
//! appsink. Cell positions are computed here from the grid rule, not taken from layout.rs.
//!
//! Snapshots of the screen go to target/test-output/*.png for a reviewer to look at. The room
//! screen's own content (idle screen, messages, badges, captions) is tested in tests/screen.rs.

mod common;

use common::media::{
    close, encode, h264, join, launch, save_png, solid, stream, threads_and_fds, wait_for_screen,
    Sender,
};
use gstreamer as gst;
use gstreamer::prelude::*;
use salle::media::layout::Size;
use salle::media::receive::{
    AudioOutput, Frame, Receive, ReceiveSettings, RemoteVideo, SelfViewSource, VideoCodec,
    VideoOutput,
};
use salle::media::EncodedFrame;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;

/// Distinct colours (RGB), one per participant, far enough apart to tell after encoding.
const COLOURS: [[u8; 3]; 9] = [
    [220, 40, 40],   // red
    [40, 180, 60],   // green
    [40, 80, 220],   // blue
    [230, 210, 40],  // yellow
    [40, 200, 210],  // cyan
    [200, 50, 200],  // magenta
    [240, 240, 240], // white
    [240, 130, 20],  // orange
    [120, 70, 30],   // brown
];

const NAMES: [&str; 9] = [
    "Alice Martin",
    "Bruno Petit",
    "Chloé Durand",
    "David Leroy",
    "Emma Moreau",
    "Farid Haddad",
    "Gaëlle Roux",
    "Hugo Fournier",
    "Inès Garnier",
];

/// The tests share two cores and count the process's threads: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn settings() -> ReceiveSettings {
    ReceiveSettings {
        screen: Size::new(WIDTH, HEIGHT),
        fps: 30,
        video_output: VideoOutput::AppSink,
        audio_output: AudioOutput::Discard,
        ..ReceiveSettings::default()
    }
}

fn receive() -> Receive {
    Receive::new(settings()).expect("receive pipeline")
}

fn vp8(colour: [u8; 3]) -> Vec<EncodedFrame> {
    encode(&format!(
        "{} ! vp8enc deadline=1 ! appsink name=out sync=false",
        solid(colour, 10)
    ))
}

fn vp9(colour: [u8; 3]) -> Vec<EncodedFrame> {
    encode(&format!(
        "{} ! vp9enc deadline=1 cpu-used=8 ! appsink name=out sync=false",
        solid(colour, 10)
    ))
}

/// The centre of cell `i` of an n-person grid: 1 = full, 2 = side by side, 3-4 = 2x2,
/// 5-6 = 3x2, 7-9 = 3x3, filled in reading order.
fn cell_centre(n: usize, i: usize) -> (u32, u32) {
    let (cols, rows) = match n {
        1 => (1, 1),
        2 => (2, 1),
        3 | 4 => (2, 2),
        5 | 6 => (3, 2),
        _ => (3, 3),
    };
    let (col, row) = ((i % cols) as u32, (i / cols) as u32);
    (
        (2 * col + 1) * WIDTH / (2 * cols as u32),
        (2 * row + 1) * HEIGHT / (2 * rows as u32),
    )
}

fn grid(n: usize) {
    let _serial = serial();
    let receive = receive();
    let encoded: Vec<_> = COLOURS[..n].iter().map(|&c| h264(c)).collect();
    let _senders: Vec<Sender> = encoded
        .into_iter()
        .enumerate()
        .map(|(i, frames)| {
            let id = format!("p{i}");
            stream(&receive, &id, NAMES[i], VideoCodec::H264, frames)
        })
        .collect();
    let frame = wait_for_screen(&receive, &format!("{n} people in their cells"), |f| {
        (0..n).all(|i| {
            let (x, y) = cell_centre(n, i);
            close(f.pixel(x, y), COLOURS[i])
        })
    });
    save_png(&frame, &format!("compositor-{n}.png"));
    // One compositor input per person (and the background's), no more.
    let compositor = receive.pipeline().by_name("compositor").unwrap();
    assert_eq!(compositor.sink_pads().len(), 1 + n);
}

#[test]
fn one_person_fills_the_screen() {
    grid(1);
}

#[test]
fn two_people_side_by_side() {
    grid(2);
}

#[test]
fn four_people_in_a_2x2_grid() {
    grid(4);
}

#[test]
fn nine_people_in_a_3x3_grid() {
    grid(9);
}

#[test]
fn vp8_and_vp9_decode_too() {
    let _serial = serial();
    let receive = receive();
    join(&receive, "a", "VP8", VideoCodec::Vp8, vp8(COLOURS[1]));
    join(&receive, "b", "VP9", VideoCodec::Vp9, vp9(COLOURS[5]));
    wait_for_screen(&receive, "VP8 left and VP9 right", |f| {
        let ((lx, ly), (rx, ry)) = (cell_centre(2, 0), cell_centre(2, 1));
        close(f.pixel(lx, ly), COLOURS[1]) && close(f.pixel(rx, ry), COLOURS[5])
    });
}

#[test]
fn removing_a_participant_lays_out_the_rest_and_frees_its_pad() {
    let _serial = serial();
    let receive = receive();
    let compositor = receive.pipeline().by_name("compositor").unwrap();
    let [red, green, blue] = [COLOURS[0], COLOURS[1], COLOURS[2]];
    let (red_frames, green_frames, blue_frames) = (h264(red), h264(green), h264(blue));
    let leaving = receive.add_video("red", "Red", VideoCodec::H264).unwrap();
    let _red = Sender::start(leaving.clone(), red_frames.clone());
    let _green = stream(&receive, "green", "Green", VideoCodec::H264, green_frames);
    let _blue = stream(&receive, "blue", "Blue", VideoCodec::H264, blue_frames);
    wait_for_screen(&receive, "three people in a 2x2 grid", |f| {
        let at = |i| {
            let (x, y) = cell_centre(3, i);
            f.pixel(x, y)
        };
        close(at(0), red) && close(at(1), green) && close(at(2), blue)
    });
    assert_eq!(compositor.sink_pads().len(), 1 + 3);

    receive.remove_video("red").unwrap();
    assert_eq!(compositor.sink_pads().len(), 1 + 2);
    assert!(receive.pipeline().by_name("video1-red-decode").is_none());
    // Green moves from the top right to the left half, blue from the bottom left to the right.
    wait_for_screen(&receive, "two people side by side, red gone", |f| {
        let ((lx, ly), (rx, ry)) = (cell_centre(2, 0), cell_centre(2, 1));
        let (old_x, old_y) = cell_centre(3, 0);
        close(f.pixel(lx, ly), green)
            && close(f.pixel(rx, ry), blue)
            && !close(f.pixel(old_x, old_y), red)
    });
    assert!(leaving.push(red_frames[0].clone()).is_err());
    assert!(receive.remove_video("red").is_err());

    // The same person can come back.
    let _red_again = stream(&receive, "red", "Red", VideoCodec::H264, red_frames);
    wait_for_screen(&receive, "red back in the third cell", |f| {
        let (x, y) = cell_centre(3, 2);
        close(f.pixel(x, y), red)
    });
}

#[test]
fn the_name_label_is_drawn_bottom_left() {
    let _serial = serial();
    let receive = receive();
    let colour = COLOURS[3];
    join(
        &receive,
        "alice",
        "Alice Martin",
        VideoCodec::H264,
        h264(colour),
    );
    let frame = wait_for_screen(&receive, "one person", |f| {
        close(f.pixel(WIDTH / 2, HEIGHT / 2), colour)
    });
    let tile = receive.layout().placement("alice").unwrap().rect;
    // Pixels not of the solid colour, in a 300x50 box in the tile's bottom-left corner and in
    // the same box in its top-left corner.
    let off = |top: u32| {
        let mut count = 0;
        for y in top..top + 50 {
            for x in tile.x..tile.x + 300 {
                if !close(frame.pixel(x, y), colour) {
                    count += 1;
                }
            }
        }
        count
    };
    let (label, clean) = (off(tile.bottom() - 50), off(tile.y));
    assert!(label > 1500, "label area: only {label} pixels differ");
    assert_eq!(clean, 0, "top-left corner should be plain");
    save_png(&frame, "label.png");
}

#[test]
fn a_screen_share_is_large() {
    let _serial = serial();
    let receive = receive();
    let [alice, screen, bruno] = [COLOURS[0], COLOURS[6], COLOURS[2]];
    let frames = [h264(alice), h264(screen), h264(bruno)];
    let [a, s, b] = frames;
    let _senders = [
        stream(&receive, "alice", "Alice", VideoCodec::H264, a),
        stream(&receive, "screen", "Bruno's screen", VideoCodec::H264, s),
        stream(&receive, "bruno", "Bruno", VideoCodec::H264, b),
    ];
    receive.set_screen_share("screen", true).unwrap();
    let share_covers_most = |f: &Frame| {
        let covered = (0..HEIGHT)
            .step_by(4)
            .flat_map(|y| (0..WIDTH).step_by(4).map(move |x| (x, y)))
            .filter(|&(x, y)| close(f.pixel(x, y), screen))
            .count();
        covered * 16 * 100 / (WIDTH * HEIGHT) as usize >= 55
    };
    // The two people are in a strip on the right: look down its middle.
    let in_strip =
        |f: &Frame, colour| (0..HEIGHT).any(|y| close(f.pixel(WIDTH * 9 / 10, y), colour));
    let frame = wait_for_screen(&receive, "a large screen share", |f| {
        share_covers_most(f)
            && close(f.pixel(WIDTH * 2 / 5, HEIGHT / 2), screen)
            && in_strip(f, alice)
            && in_strip(f, bruno)
    });
    save_png(&frame, "screen-share.png");

    // Back to a camera: a 2x2 grid again.
    receive.set_screen_share("screen", false).unwrap();
    wait_for_screen(&receive, "the grid again", |f| {
        let (x, y) = cell_centre(3, 1);
        close(f.pixel(x, y), screen) && !share_covers_most(f)
    });
}

#[test]
fn the_self_view_is_a_picture_in_picture_on_top() {
    let _serial = serial();
    let receive = receive();
    let _senders: Vec<Sender> = (0..4)
        .map(|i| {
            let id = format!("p{i}");
            stream(&receive, &id, NAMES[i], VideoCodec::H264, h264(COLOURS[i]))
        })
        .collect();
    // The send pipeline's side of the channel: a camera stand-in in another pipeline.
    let camera = launch(&format!(
        "{} ! intervideosink channel=test-self-view",
        solid(COLOURS[8], 100_000).replace("videotestsrc", "videotestsrc is-live=true")
    ));
    camera.set_state(gst::State::Playing).unwrap();
    receive
        .set_self_view(Some(SelfViewSource::Channel("test-self-view".into())))
        .unwrap();
    let pip = receive.layout().self_view;
    let frame = wait_for_screen(&receive, "the self-view over the last tile", |f| {
        let (x, y) = pip.centre();
        let (bx, by) = cell_centre(4, 3);
        close(f.pixel(x, y), COLOURS[8])
            && close(f.pixel(pip.x - 8, pip.y - 8), COLOURS[3])
            && close(f.pixel(bx - 100, by), COLOURS[3])
    });
    assert!(pip.width == WIDTH / 5 && pip.right() < WIDTH && pip.bottom() < HEIGHT);
    save_png(&frame, "self-view.png");

    receive.set_self_view(None).unwrap();
    wait_for_screen(&receive, "the self-view gone", |f| {
        let (x, y) = pip.centre();
        !close(f.pixel(x, y), COLOURS[8])
    });
    camera.set_state(gst::State::Null).unwrap();
}

#[test]
fn the_self_view_shows_what_the_camera_sends_and_the_privacy_card() {
    use salle::media::send_video::{SendVideo, VideoSettings, VideoSource};
    let _serial = serial();
    let receive = receive();
    // The daemon's wiring: the send pipeline's preview on a channel, the screen's self-view on it.
    let settings = VideoSettings {
        source: VideoSource::TestPattern("red".into()),
        width: 640,
        height: 360,
        encoder: Some(salle::media::encoder::Encoder::X264),
        self_view_channel: Some("test-daemon-self-view".into()),
        ..VideoSettings::default()
    };
    let (frames, _keep) = tokio::sync::mpsc::channel(64);
    let (errors, _errors) = tokio::sync::mpsc::unbounded_channel();
    let mut camera = SendVideo::start(&settings, frames, errors).expect("send video");
    receive
        .set_self_view(Some(SelfViewSource::Channel(
            "test-daemon-self-view".into(),
        )))
        .unwrap();
    let pip = receive.layout().self_view;
    let (x, y) = pip.centre();
    wait_for_screen(&receive, "the camera in the self-view", |f| {
        close(f.pixel(x, y), [255, 0, 0])
    });
    // Camera privacy: the self-view shows the dark "Camera off" card, never the picture.
    camera.set_camera_off(true);
    let frame = wait_for_screen(&receive, "the privacy card in the self-view", |f| {
        let [r, g, b, _] = f.pixel(pip.x + 4, pip.y + 4);
        r < 40 && g < 40 && b < 40
    });
    save_png(&frame, "self-view-camera-off.png");
    camera.set_camera_off(false);
    wait_for_screen(&receive, "the camera back in the self-view", |f| {
        close(f.pixel(x, y), [255, 0, 0])
    });
}

/// RMS of interleaved samples, as a fraction of full scale.
fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len().max(1) as f64).sqrt() / 32768.0
}

#[test]
fn remote_opus_audio_is_mixed_to_the_speaker() {
    let _serial = serial();
    let receive = Receive::new(ReceiveSettings {
        audio_output: AudioOutput::AppSink,
        ..settings()
    })
    .unwrap();
    // Nobody talks yet: silence, but a continuous stream (the echo probe needs one).
    let mut quiet = Vec::new();
    while quiet.len() < 48000 * 2 / 5 {
        let chunk = receive.pull_audio(Duration::from_secs(2)).expect("silence");
        assert_eq!((chunk.rate, chunk.channels), (48000, 2));
        quiet.extend(chunk.samples);
    }
    assert!(rms(&quiet) < 0.001, "silence has energy {}", rms(&quiet));

    // One second of a 440 Hz tone at half scale, Opus in 20 ms packets.
    let packets = encode(
        "audiotestsrc wave=sine freq=440 volume=0.5 num-buffers=50 samplesperbuffer=960 \
         ! audio/x-raw,rate=48000,channels=2 ! opusenc frame-size=20 ! appsink name=out sync=false",
    );
    let audio = receive.add_audio("alice").unwrap();
    // Forget the silence queued while encoding: what follows is the mix with the tone.
    while receive.pull_audio(Duration::ZERO).is_some() {}
    for packet in packets {
        audio.push(packet).unwrap();
    }
    let mut heard = Vec::new();
    while heard.len() < 48000 * 2 * 3 / 2 {
        heard.extend(receive.pull_audio(Duration::from_secs(2)).unwrap().samples);
    }
    // The loudest 200 ms: a sine at half scale has an RMS of 0.35.
    let window = 48000 * 2 / 5;
    let (start, loudest) = (0..heard.len() - window)
        .step_by(960)
        .map(|s| (s, rms(&heard[s..s + window])))
        .fold((0, 0.0), |best, x| if x.1 > best.1 { x } else { best });
    assert!(
        (0.25..0.45).contains(&loudest),
        "the tone's RMS in the mix is {loudest}"
    );
    // Its pitch: zero crossings of the left channel.
    let left: Vec<i16> = heard[start..start + window]
        .iter()
        .step_by(2)
        .copied()
        .collect();
    let crossings = left.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    let hz = crossings as f64 / 2.0 / 0.2;
    assert!((hz - 440.0).abs() < 20.0, "the tone is at {hz} Hz");

    receive.remove_audio("alice").unwrap();
    assert!(audio
        .push(EncodedFrame {
            data: vec![0xf8, 0xff, 0xfe],
            pts: Duration::ZERO,
            duration: None,
            keyframe: true,
            audio_level: None,
        })
        .is_err());
    let mixer = receive.pipeline().by_name("audiomixer").unwrap();
    assert_eq!(mixer.sink_pads().len(), 1, "only the silence is left");
}

/// `frames` again, `by` later: the same stream going on.
fn later(frames: &[EncodedFrame], by: Duration) -> Vec<EncodedFrame> {
    frames
        .iter()
        .map(|f| EncodedFrame {
            pts: f.pts + by,
            ..f.clone()
        })
        .collect()
}

#[test]
fn a_missing_keyframe_is_asked_for_and_corrupt_frames_do_not_stop_the_track() {
    let _serial = serial();
    let receive = receive();
    let mut errors = receive.take_errors().unwrap();
    assert!(receive.take_errors().is_none());
    let tracks = [
        (VideoCodec::Vp8, vp8(COLOURS[4])),
        (VideoCodec::H264, h264(COLOURS[7])),
    ];
    let mut videos = Vec::new();
    for (codec, frames) in &tracks {
        let id = format!("{codec:?}");
        let video = receive.add_video(&id, &id, *codec).unwrap();
        assert!(!video.take_keyframe_request());
        // Joining mid-stream: deltas first, as after a lost keyframe.
        for frame in frames.iter().skip(1) {
            video.push(frame.clone()).unwrap();
        }
        assert!(video.take_keyframe_request(), "{id}: no keyframe request");
        assert!(
            !video.take_keyframe_request(),
            "{id}: a request is taken once"
        );
        // Keyframes with scrambled contents: errors inside the decoder, which goes on.
        for (i, frame) in later(&frames[..1], Duration::from_millis(400))
            .into_iter()
            .cycle()
            .take(15)
            .enumerate()
        {
            let mut data = frame.data.clone();
            data.iter_mut().skip(40).for_each(|b| *b ^= 0x5a);
            video
                .push(EncodedFrame {
                    data,
                    pts: frame.pts + Duration::from_millis(33 * i as u64),
                    ..frame
                })
                .unwrap();
        }
        // This time the decoder itself asks.
        let start = Instant::now();
        while !video.take_keyframe_request() {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "{id}: the decoder did not ask for a keyframe"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        videos.push(video);
    }
    // The stream goes on, good again, in real time as a sender keeps sending (a decoder may
    // take a few frames to get over garbage): both show (VP8 left, H.264 right).
    let _senders: Vec<Sender> = videos
        .into_iter()
        .zip(&tracks)
        .map(|(video, (_, frames))| {
            Sender::start(video, later(frames, Duration::from_millis(1000)))
        })
        .collect();
    wait_for_screen(&receive, "both tracks after corrupt frames", |f| {
        let ((lx, ly), (rx, ry)) = (cell_centre(2, 0), cell_centre(2, 1));
        close(f.pixel(lx, ly), COLOURS[4]) && close(f.pixel(rx, ry), COLOURS[7])
    });
    assert!(
        errors.try_recv().is_err(),
        "corrupt frames are not pipeline errors"
    );
}

#[test]
fn a_screen_or_speaker_that_cannot_open_is_reported_by_name() {
    let _serial = serial();
    let error = Receive::new(ReceiveSettings {
        video_output: VideoOutput::Kms {
            connector_id: Some(9999),
            driver: None,
        },
        ..settings()
    })
    .err()
    .expect("no such connector");
    assert!(
        error.starts_with("/GstPipeline:receive/GstKMSSink:screen:"),
        "{error}"
    );
    let error = Receive::new(ReceiveSettings {
        audio_output: AudioOutput::Alsa {
            device: "hw:CARD=SalleNoSuchCard".into(),
        },
        ..settings()
    })
    .err()
    .expect("no such sound card");
    assert!(error.contains("speaker"), "{error}");
}

#[test]
fn duplicate_and_unknown_ids_are_refused() {
    let _serial = serial();
    let receive = receive();
    let _a = receive.add_video("a", "A", VideoCodec::H264).unwrap();
    assert!(receive.add_video("a", "A", VideoCodec::Vp8).is_err());
    assert!(receive.remove_video("b").is_err());
    assert!(receive.set_screen_share("b", true).is_err());
    let _x = receive.add_audio("a").unwrap();
    assert!(receive.add_audio("a").is_err());
    assert!(receive.remove_audio("b").is_err());
    // Names with markup characters are shown as typed, not parsed.
    receive.set_name("a", "R&D <room 2>").unwrap();
    let label = receive.pipeline().by_name("video1-a-label").unwrap();
    assert_eq!(label.property::<String>("text"), "R&amp;D &lt;room 2&gt;");
}

#[test]
fn a_tenth_person_is_hidden_until_they_speak() {
    let _serial = serial();
    let receive = receive();
    let _videos: Vec<RemoteVideo> = (0..10)
        .map(|i| {
            let id = format!("p{i}");
            receive.add_video(&id, &id, VideoCodec::H264).unwrap()
        })
        .collect();
    // Compositor pads are numbered in the order they came: sink_0 is the background's, sink_10
    // is p9's.
    let compositor = receive.pipeline().by_name("compositor").unwrap();
    let alpha = |pad: &str| compositor.static_pad(pad).unwrap().property::<f64>("alpha");
    assert_eq!(receive.layout().hidden, ["p9"]);
    assert_eq!((alpha("sink_9"), alpha("sink_10")), (1.0, 0.0));

    receive.set_speaking("p9", true).unwrap();
    assert_eq!(receive.layout().hidden, ["p8"]);
    assert_eq!((alpha("sink_9"), alpha("sink_10")), (0.0, 1.0));
    let p9 = receive.layout().placement("p9").unwrap().rect;
    let pad = compositor.static_pad("sink_10").unwrap();
    assert_eq!(pad.property::<i32>("xpos"), p9.x as i32);
    assert_eq!(pad.property::<i32>("width"), p9.width as i32);
}

#[test]
fn a_hundred_joins_and_leaves_leak_no_threads_or_fds() {
    let _serial = serial();
    let video = h264(COLOURS[0]);
    let audio = encode(
        "audiotestsrc num-buffers=5 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 \
         ! opusenc frame-size=20 ! appsink name=out sync=false",
    );
    let cycle = |receive: &Receive| {
        let v = receive.add_video("p", "Someone", VideoCodec::H264).unwrap();
        let a = receive.add_audio("p").unwrap();
        for frame in &video[..3] {
            v.push(frame.clone()).unwrap();
        }
        for packet in &audio {
            a.push(packet.clone()).unwrap();
        }
        // Let the decoders start their own threads before tearing down.
        std::thread::sleep(Duration::from_millis(5));
        receive.remove_video("p").unwrap();
        receive.remove_audio("p").unwrap();
    };
    let settle = || std::thread::sleep(Duration::from_millis(300));

    // Warm up: GStreamer's registry, thread pools and the like are made once per process.
    drop({
        let r = receive();
        cycle(&r);
        r
    });
    settle();
    let (threads_before, fds_before) = threads_and_fds();

    let receive = receive();
    for _ in 0..3 {
        cycle(&receive);
    }
    settle();
    let (threads, fds) = threads_and_fds();
    for _ in 0..100 {
        cycle(&receive);
    }
    settle();
    let (threads_after, fds_after) = threads_and_fds();
    assert!(
        threads_after <= threads + 3,
        "threads: {threads} before 100 cycles, {threads_after} after"
    );
    assert!(
        fds_after <= fds + 3,
        "fds: {fds} before 100 cycles, {fds_after} after"
    );
    // The screen is still live.
    assert!(receive.pull_frame(Duration::from_secs(2)).is_some());

    drop(receive);
    settle();
    let (threads_end, fds_end) = threads_and_fds();
    assert!(
        threads_end <= threads_before + 3,
        "threads: {threads_before} before the pipeline, {threads_end} after dropping it"
    );
    assert!(
        fds_end <= fds_before + 3,
        "fds: {fds_before} before the pipeline, {fds_end} after dropping it"
    );
    eprintln!(
        "threads {threads_before} -> {threads} -> {threads_after} -> {threads_end}; \
         fds {fds_before} -> {fds} -> {fds_after} -> {fds_end}"
    );
}

#[test]
fn the_screen_keeps_its_frame_rate_on_the_shared_echo_timeline() {
    let _serial = serial();
    // The echo timeline is the process's: let it be older than the next pipeline.
    drop(receive());
    std::thread::sleep(Duration::from_millis(1500));
    let receive = receive();
    let frames = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = frames.clone();
    let sink = receive.pipeline().by_name("screen").unwrap();
    sink.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counted.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    std::thread::sleep(Duration::from_secs(1));
    // 30 frames a second, not a burst catching up from the timeline's start.
    let frames = frames.load(Ordering::Relaxed);
    assert!((25..=35).contains(&frames), "{frames} frames in one second");
}
