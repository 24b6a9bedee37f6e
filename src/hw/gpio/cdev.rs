//! GPIO through the kernel's character device (`/dev/gpiochipN`), with `gpiocdev`.

use super::{ButtonLine, Edge, GpioChip, GpioLine, LedLine};
use crate::config::{Bias, LineRef};
use gpiocdev::line::{EdgeDetection, EdgeKind, Value};
use gpiocdev::Request;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

const CONSUMER: &str = "salle";

fn to_io(e: gpiocdev::Error) -> io::Error {
    io::Error::other(e.to_string())
}

/// Finds the chip path and line offset for a config line.
fn resolve(chip: Option<&str>, line: &LineRef) -> io::Result<(PathBuf, u32)> {
    let chip_path = match chip {
        Some(chip) => Some(find_chip(chip)?),
        None => None,
    };
    match (chip_path, line) {
        (Some(path), LineRef::Offset(offset)) => Ok((path, *offset)),
        (None, LineRef::Offset(offset)) => Ok((find_chip("gpiochip0")?, *offset)),
        (Some(path), LineRef::Name(name)) => {
            let chip = gpiocdev::chip::Chip::from_path(&path).map_err(to_io)?;
            let info = chip.find_line_info(name).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no line named \"{name}\" on {}", path.display()),
                )
            })?;
            Ok((path, info.offset))
        }
        (None, LineRef::Name(name)) => {
            let found = gpiocdev::find_named_line(name).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no GPIO line named \"{name}\""),
                )
            })?;
            Ok((found.chip, found.info.offset))
        }
    }
}

/// A chip by path (`/dev/gpiochip0`), device name (`gpiochip0`) or label (`pinctrl-bcm2711`).
fn find_chip(chip: &str) -> io::Result<PathBuf> {
    if chip.starts_with('/') {
        return Ok(PathBuf::from(chip));
    }
    let paths = gpiocdev::chip::chips().map_err(to_io)?;
    for path in paths {
        let Ok(c) = gpiocdev::chip::Chip::from_path(&path) else {
            continue;
        };
        let Ok(info) = c.info() else { continue };
        if info.name == chip || info.label == chip {
            return Ok(path);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no GPIO chip \"{chip}\""),
    ))
}

fn bias(b: Bias) -> Option<gpiocdev::line::Bias> {
    match b {
        Bias::AsIs => None,
        Bias::PullUp => Some(gpiocdev::line::Bias::PullUp),
        Bias::PullDown => Some(gpiocdev::line::Bias::PullDown),
        Bias::Disabled => Some(gpiocdev::line::Bias::Disabled),
    }
}

struct CdevButton {
    request: Request,
    offset: u32,
}

/// Requests one line for us, set up by `configure` (direction, edges, bias).
fn request_line(
    chip: Option<&str>,
    line: &LineRef,
    active_low: bool,
    configure: impl FnOnce(&mut gpiocdev::request::Builder),
) -> io::Result<(Request, u32, PathBuf)> {
    let (path, offset) = resolve(chip, line)?;
    let mut builder = Request::builder();
    builder
        .on_chip(&path)
        .with_consumer(CONSUMER)
        .with_line(offset);
    configure(&mut builder);
    if active_low {
        builder.as_active_low();
    }
    let request = builder.request().map_err(to_io)?;
    Ok((request, offset, path))
}

pub fn button(
    chip: Option<&str>,
    line: &LineRef,
    active_low: bool,
    b: Bias,
) -> io::Result<Box<dyn ButtonLine>> {
    let (request, offset, path) = request_line(chip, line, active_low, |builder| {
        builder
            .as_input()
            .with_edge_detection(EdgeDetection::BothEdges);
        if let Some(b) = bias(b) {
            builder.with_bias(b);
        }
    })?;
    tracing::info!(
        "button on {} line {offset} (bias {})",
        path.display(),
        super::bias_name(b)
    );
    Ok(Box::new(CdevButton { request, offset }))
}

impl ButtonLine for CdevButton {
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Option<Edge>> {
        // gpiocdev always takes a timeout: an hour stands for "until the next edge", since
        // the caller goes straight back to waiting.
        let ready = self
            .request
            .wait_edge_event(timeout.unwrap_or(Duration::from_secs(3600)))
            .map_err(to_io)?;
        if !ready {
            return Ok(None);
        }
        let event = self.request.read_edge_event().map_err(to_io)?;
        Ok(Some(Edge {
            active: event.kind == EdgeKind::Rising,
            at_ms: event.timestamp_ns / 1_000_000,
        }))
    }

    fn level(&mut self) -> io::Result<bool> {
        Ok(self.request.value(self.offset).map_err(to_io)? == Value::Active)
    }
}

struct CdevLed {
    request: Request,
    offset: u32,
}

pub fn led(chip: Option<&str>, line: &LineRef, active_low: bool) -> io::Result<Box<dyn LedLine>> {
    let (request, offset, _) = request_line(chip, line, active_low, |builder| {
        builder.as_output(Value::Inactive);
    })?;
    Ok(Box::new(CdevLed { request, offset }))
}

impl LedLine for CdevLed {
    fn set(&mut self, on: bool) -> io::Result<()> {
        let value = if on { Value::Active } else { Value::Inactive };
        self.request.set_value(self.offset, value).map_err(to_io)
    }
}

pub fn list_chips() -> Vec<GpioChip> {
    let Ok(paths) = gpiocdev::chip::chips() else {
        return Vec::new();
    };
    paths
        .into_iter()
        .filter_map(|path| {
            let chip = gpiocdev::chip::Chip::from_path(&path).ok()?;
            let info = chip.info().ok()?;
            let lines = (0..info.num_lines)
                .filter_map(|offset| chip.line_info(offset).ok())
                .map(|l| GpioLine {
                    offset: l.offset,
                    name: l.name,
                    used: l.used,
                    consumer: l.consumer,
                    direction: format!("{:?}", l.direction).to_lowercase(),
                })
                .collect();
            Some(GpioChip {
                path: path.display().to_string(),
                name: info.name,
                label: info.label,
                lines,
            })
        })
        .collect()
}
