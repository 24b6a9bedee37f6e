//! The simulated camera: a test pattern the media engine generates (`videotestsrc`).

use super::{CameraInfo, Encoding, FrameSize, PixelFormat};

/// The path the simulated camera is known by in status and `salle devices`.
pub const PATH: &str = "test-pattern";

/// Describes the test-pattern camera like a real one, so the same mode choice applies.
pub fn describe() -> CameraInfo {
    let sizes = [(1920, 1080), (1280, 720), (640, 360), (320, 180)]
        .into_iter()
        .map(|(width, height)| FrameSize {
            width,
            height,
            fps: vec![30.0, 15.0],
        })
        .collect();
    CameraInfo {
        path: PATH.into(),
        driver: "salle".into(),
        card: "Test pattern".into(),
        bus: "simulated".into(),
        formats: vec![PixelFormat {
            fourcc: "I420".into(),
            description: "Planar YUV 4:2:0".into(),
            encoding: Encoding::Raw,
            sizes,
        }],
        controls: Vec::new(),
    }
}
