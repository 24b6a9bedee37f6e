//! Whether the meeting is being recorded or transcribed: people in the room must know, so the
//! room's screen says it for as long as it lasts.
//!
//! La Suite Meet says it in data messages from the person who starts or stops it
//! (`{"type": "transcriptionStarted"}`, `screenRecordingStarted`, ... in its frontend's
//! `NotificationType`), and the LiveKit server in the room's `active_recording` while an
//! egress runs. Meet's own UI takes both; so does the room, and it says "recorded" when it
//! cannot tell which (the server's flag alone), the stronger of the two.

use serde::{Deserialize, Serialize};

/// What the room knows of the meeting's recording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingRecording {
    /// A screen recording (picture and sound) was announced and not stopped.
    pub recorded: bool,
    /// A transcription was announced and not stopped.
    pub transcribed: bool,
    /// The server says a recording runs (its `active_recording`).
    pub server_recording: bool,
}

/// What the screen says while the meeting is being recorded.
pub const RECORDED_NOTICE: &str = "This meeting is being recorded";
/// What the screen says while the meeting is being transcribed.
pub const TRANSCRIBED_NOTICE: &str = "This meeting is being transcribed";

impl MeetingRecording {
    /// Takes a La Suite Meet notification's `type`. Returns whether anything changed; types
    /// that are not about recording change nothing.
    pub fn on_notification(&mut self, kind: &str) -> bool {
        let before = *self;
        match kind {
            "transcriptionStarted" => self.transcribed = true,
            "transcriptionStopped"
            | "transcriptionLimitReached"
            | "transcriptionFailed"
            | "transcriptionAborted" => self.transcribed = false,
            "screenRecordingStarted" => self.recorded = true,
            "screenRecordingStopped"
            | "screenRecordingLimitReached"
            | "screenRecordingFailed"
            | "screenRecordingAborted" => self.recorded = false,
            _ => {}
        }
        *self != before
    }

    /// Takes the server's `active_recording`. When it ends, every recording has ended.
    pub fn on_server(&mut self, active: bool) -> bool {
        let before = *self;
        if self.server_recording && !active {
            self.recorded = false;
            self.transcribed = false;
        }
        self.server_recording = active;
        *self != before
    }

    /// The notice the screen shows, if any.
    pub fn notice(&self) -> Option<&'static str> {
        if self.recorded || (self.server_recording && !self.transcribed) {
            Some(RECORDED_NOTICE)
        } else if self.transcribed {
            Some(TRANSCRIBED_NOTICE)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcription_shows_from_its_start_to_its_stop() {
        let mut r = MeetingRecording::default();
        assert_eq!(r.notice(), None);
        assert!(r.on_notification("transcriptionStarted"));
        assert_eq!(r.notice(), Some(TRANSCRIBED_NOTICE));
        assert!(
            !r.on_notification("reactionReceived"),
            "not about recording"
        );
        assert!(!r.on_notification("transcriptionStarted"), "already so");
        assert!(r.on_notification("transcriptionStopped"));
        assert_eq!(r.notice(), None);
    }

    #[test]
    fn a_screen_recording_says_recorded_even_while_transcribed() {
        let mut r = MeetingRecording::default();
        r.on_notification("transcriptionStarted");
        r.on_notification("screenRecordingStarted");
        assert_eq!(r.notice(), Some(RECORDED_NOTICE));
        r.on_notification("screenRecordingLimitReached");
        assert_eq!(r.notice(), Some(TRANSCRIBED_NOTICE));
        r.on_notification("transcriptionFailed");
        assert_eq!(r.notice(), None);
    }

    #[test]
    fn the_servers_flag_alone_says_recorded_and_its_end_ends_everything() {
        let mut r = MeetingRecording::default();
        assert!(r.on_server(true));
        assert_eq!(
            r.notice(),
            Some(RECORDED_NOTICE),
            "cannot tell which: the stronger"
        );
        r.on_notification("transcriptionStarted");
        assert_eq!(r.notice(), Some(TRANSCRIBED_NOTICE));
        assert!(r.on_server(false));
        assert_eq!(r.notice(), None);
        // A message missed (the room joined after it): nothing stays on screen for ever.
        r.on_notification("screenRecordingStarted");
        r.on_server(true);
        r.on_server(false);
        assert_eq!(r.notice(), None);
    }
}
