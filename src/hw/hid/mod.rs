//! HID devices through the kernel's hidraw nodes: report descriptors, and the telephony
//! controls of USB speakerphones (mute button, mute LED).

pub mod descriptor;
pub mod speakerphone;
