//! Mode and device choice on descriptions captured from real cameras (tests/data/cameras).

use super::*;

fn camera(file: &str) -> CameraInfo {
    let path = format!("{}/tests/data/cameras/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

const P720: Wanted = Wanted {
    width: 1280,
    height: 720,
    fps: 30,
};
const P1080: Wanted = Wanted {
    width: 1920,
    height: 1080,
    fps: 30,
};

#[test]
fn c920_prefers_its_h264_at_the_wanted_size() {
    let mode = choose_mode(&camera("logitech-c920.json"), P720).unwrap();
    assert_eq!(
        (mode.fourcc.as_str(), mode.width, mode.height, mode.fps),
        ("H264", 1280, 720, 30.0)
    );
    let mode = choose_mode(&camera("logitech-c920.json"), P1080).unwrap();
    assert_eq!(
        (mode.fourcc.as_str(), mode.width, mode.height),
        ("H264", 1920, 1080)
    );
}

#[test]
fn raw_is_never_chosen_when_it_cannot_keep_the_rate() {
    // The C920's YUYV 1280x720 runs at 10 fps only: a compressed 30 fps mode must win.
    let mut c920 = camera("logitech-c920.json");
    c920.formats.retain(|f| f.fourcc != "H264");
    let mode = choose_mode(&c920, P720).unwrap();
    assert_eq!(
        (mode.fourcc.as_str(), mode.width, mode.fps),
        ("MJPG", 1280, 30.0)
    );
}

#[test]
fn mjpeg_only_webcam_gets_mjpeg() {
    let mode = choose_mode(&camera("uvc-mjpeg-only.json"), P720).unwrap();
    assert_eq!(mode.to_string(), "MJPG 1280x720@30");
}

#[test]
fn the_smallest_size_that_covers_the_wish_is_taken() {
    let mode = choose_mode(
        &camera("uvc-mjpeg-only.json"),
        Wanted {
            width: 640,
            height: 360,
            fps: 30,
        },
    )
    .unwrap();
    assert_eq!((mode.width, mode.height), (640, 480));
}

#[test]
fn when_nothing_is_big_enough_the_closest_mode_is_taken() {
    let mode = choose_mode(
        &camera("uvc-mjpeg-only.json"),
        Wanted {
            width: 3840,
            height: 2160,
            fps: 30,
        },
    )
    .unwrap();
    assert_eq!(
        (mode.fourcc.as_str(), mode.width, mode.height, mode.fps),
        ("MJPG", 1920, 1080, 30.0)
    );
}

#[test]
fn a_usb_camera_wins_over_a_platform_test_device() {
    let mut vivid_like = camera("uvc-mjpeg-only.json");
    vivid_like.path = "/dev/video0".into();
    vivid_like.bus = "platform:vivid-000".into();
    let mut usb = camera("uvc-mjpeg-only.json");
    usb.path = "/dev/video4".into();
    let choice = choose_camera(&[vivid_like, usb], P720).unwrap();
    assert_eq!(choice.path, "/dev/video4");
    assert!(choice.reason.starts_with("USB camera"), "{}", choice.reason);
    assert!(choice.reason.contains("best of 2"), "{}", choice.reason);
}

#[test]
fn no_usable_format_means_no_camera() {
    let mut odd = camera("uvc-mjpeg-only.json");
    for f in &mut odd.formats {
        f.encoding = Encoding::Other;
    }
    assert_eq!(choose_camera(&[odd], P720), None);
    assert_eq!(choose_camera(&[], P720), None);
}

#[test]
fn simulated_camera_follows_the_same_rules() {
    let mode = choose_mode(&simulated::describe(), P720).unwrap();
    assert_eq!((mode.width, mode.height, mode.fps), (1280, 720, 30.0));
}

#[test]
fn control_names_become_config_keys() {
    assert_eq!(control_key("Power Line Frequency"), "power_line_frequency");
    assert_eq!(
        control_key("White Balance Temperature, Auto"),
        "white_balance_temperature_auto"
    );
    assert_eq!(
        control_key("Focus, Automatic Continuous"),
        "focus_automatic_continuous"
    );
}

#[test]
fn configured_controls_are_checked_by_name_and_range() {
    let c920 = camera("logitech-c920.json");
    let wanted = [
        ("power_line_frequency".to_string(), 1),
        ("brightness".into(), 999),
        ("zoom".into(), 1),
    ]
    .into_iter()
    .collect();
    let (settings, problems) = resolve_controls(&c920.controls, &wanted);
    assert_eq!(
        settings,
        vec![ControlSetting {
            id: 9963800,
            boolean: false,
            value: 1
        }]
    );
    assert_eq!(problems.len(), 2);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("brightness = 999 is outside 0..=255")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("no control named \"zoom\"")),
        "{problems:?}"
    );
}

#[test]
fn vivid_captured_in_the_qemu_tier_keeps_the_frame_rate_over_the_size() {
    // vivid limits the rate by bandwidth: 720p only reaches 12.5 fps, 4K 2 fps.
    let vivid = camera("vivid.json");
    assert_eq!(vivid.driver, "vivid");
    let mode = choose_mode(&vivid, P720).unwrap();
    assert_eq!(mode.to_string(), "YUYV 640x360@30");
    let slow = choose_mode(
        &vivid,
        Wanted {
            width: 320,
            height: 180,
            fps: 120,
        },
    )
    .unwrap();
    assert_eq!((slow.width, slow.fps), (320, 60.0));
    let choice = choose_camera(&[vivid], P720).unwrap();
    assert!(
        choice.reason.starts_with("non-USB camera \"vivid"),
        "{}",
        choice.reason
    );
}
