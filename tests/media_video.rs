//! The send-video pipeline with real GStreamer: every encoder available here, decoded back.

mod common;

use common::media::{refusal, run_through, threads_and_fds, Sending};
use salle::media::encoder::{Encoder, Step};
use salle::media::send_video::{SendVideo, VideoSettings, VideoSource};
use salle::media::{self, EncodedFrame};
use std::time::Duration;

type Running = Sending<SendVideo>;

fn start(settings: VideoSettings) -> Running {
    media::init().unwrap();
    Sending::start(&settings, 1024, SendVideo::start)
}

fn software_encoders() -> Vec<Encoder> {
    media::init().unwrap();
    let list: Vec<Encoder> = [Encoder::X264, Encoder::OpenH264]
        .into_iter()
        .filter(|e| e.available(false))
        .collect();
    assert!(
        list.contains(&Encoder::X264),
        "x264enc must be installed (gstreamer1.0-plugins-ugly)"
    );
    list
}

fn settings(encoder: Encoder, width: u32, height: u32) -> VideoSettings {
    VideoSettings {
        encoder: Some(encoder),
        width,
        height,
        ..VideoSettings::default()
    }
}

/// Decodes access units with an independent decoder (avdec_h264) and returns each picture's size.
fn decode(frames: &[EncodedFrame]) -> Vec<(i32, i32)> {
    let pictures = run_through(
        "appsrc name=in format=time caps=video/x-h264,stream-format=byte-stream,alignment=au \
         ! h264parse ! avdec_h264 ! videoconvert ! appsink name=out sync=false",
        frames,
    );
    pictures
        .iter()
        .map(|sample| {
            let s = sample.caps().unwrap().structure(0).unwrap();
            (
                s.get::<i32>("width").unwrap(),
                s.get::<i32>("height").unwrap(),
            )
        })
        .collect()
}

/// NAL unit types in an Annex B access unit.
fn nal_types(data: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i + 3 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            types.push(data[i + 3] & 0x1f);
            i += 3;
        } else {
            i += 1;
        }
    }
    types
}

#[test]
fn every_encoder_output_decodes_at_the_sent_size_with_headers_on_keyframes() {
    for encoder in software_encoders() {
        let mut run = start(settings(encoder, 1280, 720));
        let frames = run.collect_n(45);
        assert!(
            frames[0].keyframe,
            "{encoder:?}: the stream starts with a keyframe"
        );
        for f in frames.iter().filter(|f| f.keyframe) {
            let types = nal_types(&f.data);
            assert!(
                types.contains(&7) && types.contains(&8) && types.contains(&5),
                "{encoder:?}: keyframe NALs {types:?}"
            );
        }
        assert!(
            frames.windows(2).all(|w| w[1].pts > w[0].pts),
            "{encoder:?}: capture timestamps increase"
        );
        let sizes = decode(&frames);
        assert!(
            sizes.len() >= 40,
            "{encoder:?}: decoded {} of 45",
            sizes.len()
        );
        assert!(
            sizes.iter().all(|&s| s == (1280, 720)),
            "{encoder:?}: {sizes:?}"
        );
    }
}

#[test]
fn camera_native_h264_is_passed_through() {
    let settings = VideoSettings {
        source: VideoSource::TestH264,
        width: 640,
        height: 360,
        ..VideoSettings::default()
    };
    let mut run = start(settings);
    assert_eq!(run.send.encoder(), Encoder::Camera);
    let frames = run.collect_n(30);
    let sizes = decode(&frames);
    assert!(
        sizes.len() >= 25 && sizes.iter().all(|&s| s == (640, 360)),
        "{sizes:?}"
    );
    assert!(
        run.send.set_step(Step::P180).is_err(),
        "pass-through cannot rescale live"
    );
}

fn kbps(frames: &[EncodedFrame], span: Duration) -> f64 {
    frames
        .iter()
        .map(|f| f.data.len() as f64 * 8.0)
        .sum::<f64>()
        / span.as_secs_f64()
        / 1000.0
}

#[test]
fn a_bitrate_change_takes_effect_within_30_percent() {
    for encoder in software_encoders() {
        let settings = VideoSettings {
            source: VideoSource::TestPattern("snow".into()),
            kbps: Some(1200),
            ..settings(encoder, 640, 360)
        };
        let mut run = start(settings);
        run.collect(Duration::from_secs(1)); // rate control settles
        let span = Duration::from_secs(5);
        let high = kbps(&run.collect(span), span);
        run.send.set_bitrate(400).unwrap();
        run.collect(Duration::from_secs(1));
        let low = kbps(&run.collect(span), span);
        println!("{encoder:?}: target 1200 -> {high:.0} kbit/s, target 400 -> {low:.0} kbit/s");
        assert!(
            (high - 1200.0).abs() <= 0.3 * 1200.0,
            "{encoder:?}: {high:.0} kbit/s for 1200"
        );
        assert!(
            (low - 400.0).abs() <= 0.3 * 400.0,
            "{encoder:?}: {low:.0} kbit/s for 400"
        );
    }
}

#[test]
fn a_keyframe_arrives_within_2_frames_of_the_request() {
    for encoder in software_encoders() {
        let mut run = start(settings(encoder, 640, 360));
        run.collect_n(15);
        for _ in 0..3 {
            run.drain();
            run.send.force_keyframe();
            let frames = run.collect_n(10);
            let first = frames.iter().position(|f| f.keyframe);
            assert!(
                first.is_some_and(|i| i <= 2),
                "{encoder:?}: keyframe at {first:?} after the request"
            );
        }
    }
}

#[test]
fn resolution_steps_produce_the_new_size() {
    for encoder in software_encoders() {
        let mut run = start(settings(encoder, 1280, 720));
        for (step, size) in [
            (Step::P360, (640, 360)),
            (Step::P180, (320, 180)),
            (Step::P1080, (1280, 720)),
        ] {
            let applied = run.send.set_step(step).unwrap();
            run.collect(Duration::from_millis(500));
            run.send.force_keyframe();
            let mut frames = run.collect_n(20);
            let start = frames.iter().position(|f| f.keyframe).expect("a keyframe");
            frames.drain(..start);
            let sizes = decode(&frames);
            assert!(
                !sizes.is_empty() && sizes.iter().all(|&s| s == size),
                "{encoder:?} {step:?}: {sizes:?}"
            );
            // Never above what the camera captures: 1080p on a 720p camera stays 720p.
            assert!(applied <= Step::P720);
        }
    }
}

#[test]
fn camera_off_sends_nothing_and_shows_the_privacy_card() {
    let mut run = start(settings(Encoder::X264, 640, 360));
    run.collect_n(10);
    run.send.set_camera_off(true);
    run.collect(Duration::from_millis(300));
    assert!(
        run.collect(Duration::from_secs(1)).is_empty(),
        "no video while the camera is off"
    );
    std::thread::sleep(Duration::from_millis(200));
    let sample = run
        .send
        .preview_frame(Duration::from_secs(2))
        .expect("a preview frame");
    let buffer = sample.buffer().unwrap().map_readable().unwrap();
    // I420 at 320x180: the card is black with white text in the middle.
    let luma = &buffer[..320 * 180];
    let bright = luma.iter().filter(|&&y| y > 128).count();
    let dark = luma.iter().filter(|&&y| y < 30).count();
    assert!(
        dark > luma.len() * 8 / 10 && bright > 50,
        "privacy card: {dark} dark, {bright} bright"
    );
    run.send.set_camera_off(false);
    let frames = run.collect_n(5);
    assert!(frames[0].keyframe, "sending resumes with a keyframe");
}

#[test]
fn restarting_the_pipeline_100_times_leaks_no_threads_or_fds() {
    media::init().unwrap();
    let warm = start(settings(Encoder::X264, 320, 180));
    drop(warm);
    std::thread::sleep(Duration::from_millis(200));
    let (threads, fds) = threads_and_fds();
    for _ in 0..100 {
        let mut run = start(settings(Encoder::X264, 320, 180));
        run.collect_n(1);
    }
    std::thread::sleep(Duration::from_millis(500));
    let (threads_after, fds_after) = threads_and_fds();
    println!("threads {threads} -> {threads_after}, fds {fds} -> {fds_after}");
    assert!(
        threads_after <= threads + 4,
        "threads {threads} -> {threads_after}"
    );
    assert!(fds_after <= fds + 4, "fds {fds} -> {fds_after}");
}

#[test]
fn a_missing_camera_is_a_clear_error() {
    media::init().unwrap();
    let settings = VideoSettings {
        source: VideoSource::V4l2 {
            device: "/dev/video-none".into(),
            format: salle::media::send_video::CaptureFormat::Raw,
        },
        ..VideoSettings::default()
    };
    let error = refusal(&settings, SendVideo::start);
    assert!(error.contains("/dev/video-none"), "{error}");
}
