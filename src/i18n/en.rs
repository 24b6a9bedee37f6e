//! The English catalogue (`[room] language = "en"`).

use super::Text;

pub fn text(text: Text) -> &'static str {
    match text {
        Text::PressToJoin => "Press the button to join",
        Text::Joining => "Joining the meeting",
        Text::WaitingForHost => "Waiting for the host to admit {}",
        Text::Reconnecting => "Reconnecting",
        Text::Leaving => "Leaving the meeting",
        Text::CallFailed => "The call failed",
        Text::Today => "Today",
        Text::NowUntil => "Now until {}",
        Text::NoNetwork => "No network",
        Text::MicrophoneMuted => "Microphone muted",
        Text::CameraOff => "Camera off",
        Text::Recorded => "This meeting is being recorded",
        Text::Transcribed => "This meeting is being transcribed",
        Text::RemoteViewing => "A remote administrator is viewing this screen",
        Text::ThisRoomIs => "This room is {}",
        Text::SetupCode => "Setup code: {}",
        Text::SetupFingerprint => "Certificate fingerprint: {}",
    }
}

pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

pub const WEEKDAYS_SHORT: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

pub const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
