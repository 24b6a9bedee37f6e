//! The room's hardware: camera, sound, buttons and LEDs, hotplug. Each kind has plain-data
//! descriptions, pure choice logic, a real backend and a simulated stand-in.

pub mod audio;
pub mod camera;
pub mod cec;
pub mod gpio;
pub mod hid;
pub mod hotplug;
pub mod inventory;
