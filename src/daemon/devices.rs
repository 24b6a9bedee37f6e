//! The room's devices over time: the first selection, hotplug, and what changed.

use super::Event;
use crate::config::Config;
use crate::hw::hotplug;
use crate::hw::inventory::{self, Inventory, Selection};
use crate::room::{DeviceKind, DevicePresence, ProblemSource};
use std::time::Duration;
use tokio::sync::mpsc;

pub struct Devices {
    config: Config,
    selection: Selection,
}

/// Hotplug events come in bursts (a USB camera brings several nodes): wait this long for the
/// burst to end, then look once.
const SETTLE: Duration = Duration::from_millis(300);

impl Devices {
    /// Scans the hardware, selects the room's devices and starts watching for hotplug.
    pub async fn start(config: &Config, events: mpsc::Sender<Event>) -> Devices {
        let inventory = tokio::task::spawn_blocking(Inventory::scan_media)
            .await
            .unwrap_or_default();
        let selection = inventory::select(config, &inventory);
        for kind in DeviceKind::ALL {
            tracing::info!("{}: {}", kind.name(), selection.describe(kind));
        }
        apply_camera_controls(config, &selection, &events);
        std::thread::Builder::new()
            .name("hotplug".into())
            .spawn(move || {
                let (tx, rx) = std::sync::mpsc::channel();
                let watcher = std::thread::spawn(move || hotplug::watch(|h| tx.send(h).is_ok()));
                while rx.recv().is_ok() {
                    while rx.recv_timeout(SETTLE).is_ok() {}
                    if events.blocking_send(Event::Hotplug).is_err() {
                        return;
                    }
                }
                if let Ok(Err(e)) = watcher.join() {
                    let _ = events.blocking_send(super::problem(
                        ProblemSource::Hotplug,
                        "hotplug monitor",
                        e,
                    ));
                }
            })
            .expect("spawn the hotplug thread");
        Devices {
            config: config.clone(),
            selection,
        }
    }

    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The device kinds running simulated.
    pub fn simulated(&self) -> Vec<String> {
        DeviceKind::ALL
            .iter()
            .filter(|&&k| self.selection.presence(k).simulated)
            .map(|k| k.name().to_string())
            .collect()
    }

    /// Looks again after a hotplug event, on a blocking thread (opening a device may take
    /// its time): the result comes back as `Event::Scanned`.
    pub fn rescan(&self, events: &mpsc::Sender<Event>) {
        let events = events.clone();
        tokio::spawn(async move {
            if let Ok(inventory) = tokio::task::spawn_blocking(Inventory::scan_media).await {
                let _ = events.send(Event::Scanned(Box::new(inventory))).await;
            }
        });
    }

    /// What a rescan found: returns the kinds whose presence changed.
    pub fn scanned(
        &mut self,
        inventory: &Inventory,
        events: &mpsc::Sender<Event>,
    ) -> Vec<(DeviceKind, DevicePresence)> {
        let next =
            inventory::keep_lost(&self.selection, inventory::select(&self.config, inventory));
        let changed = DeviceKind::ALL
            .into_iter()
            .filter(|&k| next.presence(k) != self.selection.presence(k))
            .map(|k| (k, next.presence(k)))
            .collect();
        if next.camera != self.selection.camera {
            apply_camera_controls(&self.config, &next, events);
        }
        self.selection = next;
        changed
    }
}

/// Sets the configured V4L2 controls on the selected camera, on a blocking thread; problems
/// go to status.
fn apply_camera_controls(config: &Config, selection: &Selection, events: &mpsc::Sender<Event>) {
    let inventory::Selected::Device(choice) = &selection.camera else {
        return;
    };
    let (path, controls) = (
        std::path::PathBuf::from(&choice.path),
        config.camera.controls.clone(),
    );
    let events = events.clone();
    tokio::spawn(async move {
        let problems = tokio::task::spawn_blocking(move || {
            crate::hw::camera::v4l2::apply_controls(&path, &controls)
        })
        .await
        .unwrap_or_default();
        // The controls of the camera in use now: those of an earlier one are gone.
        let report = match problems.is_empty() {
            true => super::problem_gone(ProblemSource::CameraControls),
            false => super::problem(
                ProblemSource::CameraControls,
                "camera controls",
                problems.join("; "),
            ),
        };
        let _ = events.send(report).await;
    });
}
