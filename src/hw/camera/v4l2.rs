//! The real camera backend: V4L2 through the `v4l` crate.

use super::{control_key, CameraControl, CameraInfo, Encoding, FrameSize, PixelFormat};
use std::io;
use std::path::Path;
use v4l::capability::Flags;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::video::Capture;

/// Every V4L2 node that captures video, described. Nodes that are not capture devices (UVC
/// metadata nodes, codecs, ISPs, outputs) are left out; unreadable ones are logged and skipped.
pub fn list_cameras() -> Vec<CameraInfo> {
    let mut nodes: Vec<_> = v4l::context::enum_devices()
        .into_iter()
        .map(|n| n.path().to_path_buf())
        .collect();
    nodes.sort_by_key(|p| {
        let name = p.to_string_lossy();
        let digits: String = name.chars().filter(|c| c.is_ascii_digit()).collect();
        digits.parse::<u32>().unwrap_or(u32::MAX)
    });
    nodes
        .iter()
        .filter_map(|path| match describe(path) {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!("skipping {}: {e}", path.display());
                None
            }
        })
        .collect()
}

/// Describes the device at `path`, or `None` if it is not a video capture device.
pub fn describe(path: &Path) -> io::Result<Option<CameraInfo>> {
    let device = v4l::Device::with_path(path)?;
    let caps = device.query_caps()?;
    let is_capture = caps.capabilities.contains(Flags::VIDEO_CAPTURE)
        && !caps
            .capabilities
            .intersects(Flags::VIDEO_M2M | Flags::VIDEO_M2M_MPLANE);
    if !is_capture {
        return Ok(None);
    }
    let mut formats = Vec::new();
    for description in device.enum_formats()? {
        let fourcc = description
            .fourcc
            .str()
            .map(str::to_string)
            .unwrap_or_else(|_| format!("{:?}", description.fourcc.repr));
        let mut sizes = Vec::new();
        for size in device
            .enum_framesizes(description.fourcc)
            .unwrap_or_default()
        {
            for (width, height) in discrete_sizes(&size.size) {
                let fps = frame_rates(&device, description.fourcc, width, height);
                sizes.push(FrameSize { width, height, fps });
            }
        }
        sizes.sort_by_key(|s| std::cmp::Reverse(u64::from(s.width) * u64::from(s.height)));
        formats.push(PixelFormat {
            encoding: Encoding::of_fourcc(&fourcc),
            fourcc,
            description: description.description,
            sizes,
        });
    }
    if formats.is_empty() {
        return Ok(None);
    }
    Ok(Some(CameraInfo {
        path: path.display().to_string(),
        driver: caps.driver,
        card: caps.card,
        bus: caps.bus,
        formats,
        controls: query_controls(&device),
    }))
}

/// Sizes worth offering: every discrete size, or the usual call sizes inside a stepwise range.
fn discrete_sizes(size: &FrameSizeEnum) -> Vec<(u32, u32)> {
    match size {
        FrameSizeEnum::Discrete(d) => vec![(d.width, d.height)],
        FrameSizeEnum::Stepwise(s) => [
            (1920, 1080),
            (1280, 720),
            (640, 360),
            (320, 180),
            (640, 480),
        ]
        .into_iter()
        .filter(|&(w, h)| {
            (s.min_width..=s.max_width).contains(&w)
                && (s.min_height..=s.max_height).contains(&h)
                && (w - s.min_width) % s.step_width.max(1) == 0
                && (h - s.min_height) % s.step_height.max(1) == 0
        })
        .collect(),
    }
}

fn frame_rates(device: &v4l::Device, fourcc: v4l::FourCC, width: u32, height: u32) -> Vec<f64> {
    let to_fps = |f: v4l::Fraction| {
        if f.numerator == 0 {
            0.0
        } else {
            f64::from(f.denominator) / f64::from(f.numerator)
        }
    };
    let mut rates: Vec<f64> = Vec::new();
    for interval in device
        .enum_frameintervals(fourcc, width, height)
        .unwrap_or_default()
    {
        match interval.interval {
            FrameIntervalEnum::Discrete(f) => rates.push(to_fps(f)),
            FrameIntervalEnum::Stepwise(s) => {
                let (fastest, slowest) = (to_fps(s.min), to_fps(s.max));
                rates.extend(
                    [60.0, 30.0, 25.0, 15.0]
                        .into_iter()
                        .filter(|r| (slowest..=fastest).contains(r)),
                );
            }
        }
    }
    rates.retain(|r| *r > 0.0);
    rates.sort_by(|a, b| b.total_cmp(a));
    rates.dedup();
    rates
        .iter()
        .map(|r| (r * 1000.0).round() / 1000.0)
        .collect()
}

/// Controls, read with VIDIOC_QUERY_EXT_CTRL directly: the `v4l` crate's own enumeration panics
/// on control types it does not know, and a camera must never take the daemon down.
fn query_controls(device: &v4l::Device) -> Vec<CameraControl> {
    use v4l::v4l_sys::{
        v4l2_query_ext_ctrl, v4l2_querymenu, V4L2_CTRL_FLAG_NEXT_COMPOUND, V4L2_CTRL_FLAG_NEXT_CTRL,
    };
    let fd = device.handle().fd();
    let mut controls = Vec::new();
    // SAFETY: plain-data ioctl structs, zero-initialised as the V4L2 API expects.
    let mut query: v4l2_query_ext_ctrl = unsafe { std::mem::zeroed() };
    loop {
        query.id |= V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND;
        // SAFETY: `query` is a valid v4l2_query_ext_ctrl for this ioctl.
        let result = unsafe {
            v4l::v4l2::ioctl(
                fd,
                v4l::v4l2::vidioc::VIDIOC_QUERY_EXT_CTRL,
                &mut query as *mut _ as *mut std::ffi::c_void,
            )
        };
        if result.is_err() {
            break;
        }
        const DISABLED: u32 = 0x0001;
        let kind = match query.type_ {
            1 => "integer",
            2 => "boolean",
            3 => "menu",
            4 => "button",
            5 => "integer64",
            6 => continue, // a control class heading, not a control
            7 => "string",
            8 => "bitmask",
            9 => "integer-menu",
            _ => "compound",
        };
        if query.flags & DISABLED != 0 {
            continue;
        }
        // SAFETY: the kernel NUL-terminates the name.
        let name = unsafe { std::ffi::CStr::from_ptr(query.name.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        let mut menu = Vec::new();
        if query.type_ == 3 || query.type_ == 9 {
            for index in query.minimum..=query.maximum.min(query.minimum + 64) {
                // SAFETY: as above.
                let mut item: v4l2_querymenu = unsafe { std::mem::zeroed() };
                item.id = query.id;
                item.index = index as u32;
                // SAFETY: `item` is a valid v4l2_querymenu for this ioctl.
                let ok = unsafe {
                    v4l::v4l2::ioctl(
                        fd,
                        v4l::v4l2::vidioc::VIDIOC_QUERYMENU,
                        &mut item as *mut _ as *mut std::ffi::c_void,
                    )
                }
                .is_ok();
                if ok {
                    // SAFETY: the union holds a name for menus and a value for integer menus.
                    let label = unsafe {
                        if query.type_ == 3 {
                            std::ffi::CStr::from_ptr(item.__bindgen_anon_1.name.as_ptr() as *const _).to_string_lossy().into_owned()
                        } else {
                            { std::ptr::addr_of!(item.__bindgen_anon_1.value).read_unaligned() }
                                .to_string()
                        }
                    };
                    menu.push((index, label));
                }
            }
        }
        let readable = matches!(query.type_, 1 | 2 | 3 | 9);
        let value = if readable {
            device.control(query.id).ok().and_then(|c| match c.value {
                v4l::control::Value::Integer(v) => Some(v),
                v4l::control::Value::Boolean(b) => Some(i64::from(b)),
                _ => None,
            })
        } else {
            None
        };
        controls.push(CameraControl {
            name: control_key(&name),
            id: query.id,
            kind: kind.into(),
            min: query.minimum,
            max: query.maximum,
            step: query.step,
            default: query.default_value,
            value,
            menu,
        });
    }
    controls
}

/// Sets the configured controls by name; returns one message per control that could not be set.
pub fn apply_controls(
    path: &Path,
    wanted: &std::collections::BTreeMap<String, i64>,
) -> Vec<String> {
    if wanted.is_empty() {
        return Vec::new();
    }
    let device = match v4l::Device::with_path(path) {
        Ok(d) => d,
        Err(e) => return vec![format!("{}: {e}", path.display())],
    };
    let (settings, mut problems) = super::resolve_controls(&query_controls(&device), wanted);
    for setting in settings {
        let value = if setting.boolean {
            v4l::control::Value::Boolean(setting.value != 0)
        } else {
            v4l::control::Value::Integer(setting.value)
        };
        if let Err(e) = device.set_control(v4l::Control {
            id: setting.id,
            value,
        }) {
            problems.push(format!(
                "{}: setting control {:#x}: {e}",
                path.display(),
                setting.id
            ));
        }
    }
    problems
}
