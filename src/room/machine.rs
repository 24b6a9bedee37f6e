//! The transitions. Read `Room::handle` top to bottom: every rule a person in the room relies on
//! is one match arm.

use super::screen_power::{Activity, ScreenPowerSettings, ScreenPowerState};
use super::status::{CallStatus, DeviceStatus, RoomStatus};
use super::{
    Button, CalendarMeeting, CalendarStatus, Command, DeviceKind, DevicePresence, Effect, Input,
    LedPattern, LedState, MediaEvent, MediaPart, Millis, Origin, Press, ProblemReport,
    ProblemSource, Problems, SessionEvent, SessionId,
};

/// What the room needs from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSettings {
    pub room_name: String,
    /// The meeting the join button joins when none is given.
    pub meeting_url: Option<String>,
    /// Join every meeting with the microphone muted.
    pub join_muted: bool,
    /// Join `meeting_url` when the daemon starts (`[meeting] auto_join`).
    pub auto_join: bool,
    /// Give up joining after this long without the session connecting.
    pub join_timeout_ms: Millis,
    /// Stop waiting for the session to confirm the leave after this long.
    pub leave_timeout_ms: Millis,
    /// How long a failure stays on show before the room is idle again.
    pub failed_hold_ms: Millis,
    /// Give up a lost connection that has not come back after this long (the session gives
    /// up earlier on its own; this is the room's guarantee).
    pub reconnect_timeout_ms: Millis,
    /// Give up waiting in a meeting's lobby after this long without being admitted.
    pub lobby_timeout_ms: Millis,
    /// The room has a calendar: its current meeting comes before `meeting_url`.
    pub calendar: Option<CalendarSettings>,
    /// When the screen sleeps.
    pub screen_power: ScreenPowerSettings,
}

/// What the room does with its calendar.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarSettings {
    /// Join each calendar meeting that has a link when it starts, once.
    pub auto_join: bool,
}

/// How many calendar meetings the room remembers having joined (auto-join joins each once).
const JOINED_MEMORY: usize = 32;

impl Default for RoomSettings {
    fn default() -> Self {
        RoomSettings {
            room_name: "Salle".into(),
            meeting_url: None,
            join_muted: false,
            auto_join: false,
            join_timeout_ms: 60_000,
            leave_timeout_ms: 5_000,
            failed_hold_ms: 10_000,
            reconnect_timeout_ms: 120_000,
            lobby_timeout_ms: 300_000,
            calendar: None,
            screen_power: ScreenPowerSettings::default(),
        }
    }
}

/// Where the room is with its meeting. (`InCall` reads better than the lint's suggestion.)
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
enum Call {
    Idle,
    Joining {
        session: SessionId,
        url: String,
    },
    InCall {
        session: SessionId,
        url: String,
    },
    Reconnecting {
        session: SessionId,
        url: String,
        reason: String,
    },
    /// In the meeting's lobby: joining, but on the host's time (no join timeout).
    Waiting {
        session: SessionId,
        url: String,
        reason: String,
    },
    Leaving {
        session: SessionId,
    },
    Failed {
        reason: String,
    },
}

/// The result of one input: effects for the drivers, and, for commands, why it was refused.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Step {
    pub effects: Vec<Effect>,
    /// Set when a command could not be carried out; the caller tells whoever asked.
    pub refused: Option<Refusal>,
    /// When the room must be given `Input::Tick` (or any input) if nothing else happens
    /// before: a timeout runs out, the screen goes to standby. None: only inputs matter now.
    /// Never before the input's `now`, and a `Tick` then always changes something (it is
    /// never a busy loop).
    pub wake_at: Option<Millis>,
}

/// Why the room did not carry out a command. Each one's doc comment is its message.
#[derive(Debug, Clone, PartialEq, Eq, displaydoc::Display, thiserror::Error)]
pub enum Refusal {
    /// already in {0}: leave first
    InAnotherMeeting(String),
    /// still leaving the previous meeting
    StillLeaving,
    /// not in a meeting
    NotInAMeeting,
    /// only people in the room can unmute the room's microphone
    UnmuteInRoomOnly,
    /// only people in the room can turn the room's camera back on
    CameraOnInRoomOnly,
}

pub struct Room {
    settings: RoomSettings,
    call: Call,
    since: Millis,
    mic_muted: bool,
    camera_off: bool,
    devices: DeviceStatus,
    last_error: Option<String>,
    next_session: SessionId,
    leds: LedState,
    /// What speakerphones' mute LEDs show.
    speakerphone_led: bool,
    /// What does not work, one problem per source.
    problems: Problems,
    /// None without a calendar.
    calendar: Option<CalendarStatus>,
    /// The calendar meetings (occurrence ids) the room joined, latest last.
    calendar_joined: Vec<String>,
    screen_power: ScreenPowerState,
}

impl Room {
    /// A new room at time `now`. The caller should apply `initial_effects` (the LED state).
    pub fn new(settings: RoomSettings, now: Millis) -> Room {
        let mut room = Room {
            mic_muted: settings.join_muted,
            calendar: settings
                .calendar
                .as_ref()
                .map(|_| CalendarStatus::default()),
            calendar_joined: Vec::new(),
            screen_power: ScreenPowerState::new(settings.screen_power.clone(), now),
            settings,
            call: Call::Idle,
            since: now,
            camera_off: false,
            devices: DeviceStatus {
                camera: DevicePresence::default(),
                microphone: DevicePresence::default(),
                speaker: DevicePresence::default(),
            },
            last_error: None,
            next_session: 1,
            leds: LedState {
                status: LedPattern::Off,
                mute: LedPattern::Off,
            },
            speakerphone_led: false,
            problems: Problems::default(),
        };
        room.leds = room.wanted_leds();
        room.speakerphone_led = room.mic_muted;
        room
    }

    /// Effects to apply once at start so the drivers match the machine: the only place the
    /// initial mute is set (drivers start muted until told).
    pub fn initial_effects(&self) -> Vec<Effect> {
        let mut effects = vec![
            Effect::Leds(self.leds),
            Effect::SpeakerphoneMuteLed(self.speakerphone_led),
            Effect::SetMicMuted(self.mic_muted),
            Effect::SetCameraOff(self.camera_off),
        ];
        // Only with working hours: without them the screen's power is left alone as before.
        if self.screen_power.managed() {
            effects.push(Effect::ScreenPower(self.screen_power.power()));
        }
        effects
    }

    pub fn settings(&self) -> &RoomSettings {
        &self.settings
    }

    pub fn handle(&mut self, now: Millis, input: Input) -> Step {
        let mut step = Step::default();
        let pressed = matches!(input, Input::Button { .. });
        // Time is an input: whatever comes, a timeout that ran out by `now` has run out (a
        // late Tick must not let a Connected slip in after the join gave up).
        if !matches!(input, Input::Tick | Input::Clock(_)) {
            self.on_tick(now, &mut step);
        }
        match input {
            Input::Button { button, press } => self.on_button(now, button, press, &mut step),
            Input::Command { origin, command } => self.on_command(now, origin, command, &mut step),
            Input::Session(event) => self.on_session(now, event, &mut step),
            Input::Media(event) => self.on_media(now, event, &mut step),
            Input::Device { kind, presence } => self.on_device(kind, presence, &mut step),
            Input::Problem(report) => self.problems.report(now, report),
            Input::ProblemGone(source) => self.problems.clear(&source),
            Input::Started => {
                if self.settings.auto_join && self.call == Call::Idle {
                    self.join(now, None, &mut step);
                }
            }
            Input::Calendar(calendar) => self.calendar = Some(calendar),
            Input::Tick => self.on_tick(now, &mut step),
            Input::Clock(wall) => {
                self.screen_power.set_wall_time(wall);
                self.on_tick(now, &mut step);
            }
        }
        // After any input: the room may just have become free for a meeting that started.
        self.auto_join(now, &mut step);
        let leds = self.wanted_leds();
        if leds != self.leds {
            self.leds = leds;
            step.effects.push(Effect::Leds(leds));
        }
        // A speakerphone's mute LED is the room's mute, whatever the GPIO LEDs show.
        if self.speakerphone_led != self.mic_muted {
            self.speakerphone_led = self.mic_muted;
            step.effects
                .push(Effect::SpeakerphoneMuteLed(self.speakerphone_led));
        }
        let activity = Activity {
            pressed,
            busy: self.call != Call::Idle,
            meeting_soon: self.calendar_meeting().is_some(),
        };
        if let Some(power) = self.screen_power.update(now, activity) {
            step.effects.push(Effect::ScreenPower(power));
        }
        step.wake_at = self.wake_at();
        step
    }

    /// When the room next needs waking with no input (see `Step::wake_at`): the call's
    /// timeout in states that have one, the screen's standby.
    pub fn wake_at(&self) -> Option<Millis> {
        let s = &self.settings;
        let timeout = match &self.call {
            Call::Joining { .. } => Some(s.join_timeout_ms),
            Call::Reconnecting { .. } => Some(s.reconnect_timeout_ms),
            Call::Waiting { .. } => Some(s.lobby_timeout_ms),
            Call::Leaving { .. } => Some(s.leave_timeout_ms),
            Call::Failed { .. } => Some(s.failed_hold_ms),
            Call::Idle | Call::InCall { .. } => None,
        };
        let call = timeout.map(|t| self.since + t);
        [call, self.screen_power.wake_at()]
            .into_iter()
            .flatten()
            .min()
    }

    fn on_button(&mut self, now: Millis, button: Button, press: Press, step: &mut Step) {
        match (button, press) {
            (Button::Join, press) => match (&self.call, press) {
                (Call::Idle | Call::Failed { .. }, _) => self.join(now, None, step),
                // A long press cancels a join that is taking too long.
                (Call::Joining { .. } | Call::Waiting { .. }, Press::Long) => self.leave(now, step),
                // A second short press while joining is most likely impatience: ignore it.
                (Call::Joining { .. } | Call::Waiting { .. }, Press::Short) => {}
                (Call::InCall { .. } | Call::Reconnecting { .. }, _) => self.leave(now, step),
                (Call::Leaving { .. }, _) => {}
            },
            (Button::Mute, _) => {
                let muted = !self.mic_muted;
                self.set_mic_muted(muted, step);
            }
            (Button::CameraPrivacy, _) => {
                let off = !self.camera_off;
                self.set_camera_off(off, step);
            }
        }
    }

    fn on_command(&mut self, now: Millis, origin: Origin, command: Command, step: &mut Step) {
        match command {
            Command::Join { url } => match &self.call {
                Call::Idle | Call::Failed { .. } => self.join(now, url, step),
                Call::Joining { url: current, .. }
                | Call::Waiting { url: current, .. }
                | Call::InCall { url: current, .. }
                | Call::Reconnecting { url: current, .. } => {
                    let wanted = url.or_else(|| self.rooms_meeting());
                    if wanted.as_ref() != Some(current) {
                        step.refused = Some(Refusal::InAnotherMeeting(current.clone()));
                    }
                }
                Call::Leaving { .. } => {
                    step.refused = Some(Refusal::StillLeaving);
                }
            },
            Command::Leave => match self.call {
                Call::Joining { .. }
                | Call::Waiting { .. }
                | Call::InCall { .. }
                | Call::Reconnecting { .. } => self.leave(now, step),
                _ => step.refused = Some(Refusal::NotInAMeeting),
            },
            Command::SetMicMuted { muted } => {
                if !muted && origin == Origin::Remote && self.mic_muted {
                    step.refused = Some(Refusal::UnmuteInRoomOnly);
                } else {
                    self.set_mic_muted(muted, step);
                }
            }
            Command::SetCameraOff { off } => {
                if !off && origin == Origin::Remote && self.camera_off {
                    step.refused = Some(Refusal::CameraOnInRoomOnly);
                } else {
                    self.set_camera_off(off, step);
                }
            }
        }
    }

    fn on_session(&mut self, now: Millis, event: SessionEvent, step: &mut Step) {
        let event = match event {
            SessionEvent::Waiting { session, reason } => {
                // Only a join goes to the lobby (or back to it, with a new reason).
                if let Call::Joining { session: s, url }
                | Call::Waiting {
                    session: s, url, ..
                } = &self.call
                {
                    if *s == session {
                        let url = url.clone();
                        if matches!(self.call, Call::Waiting { .. }) {
                            // Same wait, new words: the lobby's clock keeps running.
                            self.call = Call::Waiting {
                                session,
                                url,
                                reason,
                            };
                        } else {
                            self.enter(
                                now,
                                Call::Waiting {
                                    session,
                                    url,
                                    reason,
                                },
                            );
                        }
                    }
                }
                return;
            }
            SessionEvent::MuteRequested { session } => {
                // Muting only: the session has no way to unmute the room.
                if self.active_session() == Some(session) {
                    self.set_mic_muted(true, step);
                }
                return;
            }
            event => event,
        };
        if let SessionEvent::Reconnecting { session, reason } = event {
            // Only a call in progress reconnects; a join that loses its connection keeps its
            // own timeout.
            if let Call::InCall {
                session: current,
                url,
            } = &self.call
            {
                if *current == session {
                    let url = url.clone();
                    self.enter(
                        now,
                        Call::Reconnecting {
                            session,
                            url,
                            reason,
                        },
                    );
                }
            }
            return;
        }
        let (session, outcome) = match event {
            SessionEvent::Connected { session } => (session, Ok(true)),
            SessionEvent::Ended { session } => (session, Ok(false)),
            SessionEvent::Failed { session, reason } => (session, Err(reason)),
            SessionEvent::Reconnecting { .. }
            | SessionEvent::Waiting { .. }
            | SessionEvent::MuteRequested { .. } => unreachable!("handled above"),
        };
        if self.current_session() != Some(session) {
            return; // A late event from a session we already gave up on.
        }
        match (&self.call, outcome) {
            (
                Call::Joining { url, .. }
                | Call::Waiting { url, .. }
                | Call::Reconnecting { url, .. },
                Ok(true),
            ) => {
                let url = url.clone();
                self.enter(now, Call::InCall { session, url });
            }
            (Call::Leaving { .. }, _) => self.enter(now, Call::Idle),
            (_, Ok(true)) => {}
            (_, Ok(false)) => {
                // The meeting ended on its own: drivers still release what they hold.
                step.effects.push(Effect::Disconnect { session });
                self.enter(now, Call::Idle)
            }
            (_, Err(reason)) => self.fail(now, reason, step),
        }
    }

    /// What a media failure means: without the microphone a call ends (a room nobody hears
    /// is not in the meeting); without video or the screen it goes on, and people are told.
    fn on_media(&mut self, now: Millis, event: MediaEvent, step: &mut Step) {
        match event {
            MediaEvent::Failed {
                part: MediaPart::Audio,
                reason,
                ..
            } => {
                if self.active_session().is_some() {
                    self.fail(now, format!("media: {reason}"), step);
                } else {
                    self.last_error = Some(format!("media: {reason}"));
                }
            }
            MediaEvent::Failed {
                part,
                summary,
                reason,
            } => self.problems.report(
                now,
                ProblemReport::new(ProblemSource::Media(part), summary).with_detail(reason),
            ),
            MediaEvent::Running { part } => self.problems.clear(&ProblemSource::Media(part)),
        }
    }

    fn on_device(&mut self, kind: DeviceKind, presence: DevicePresence, step: &mut Step) {
        let slot = match kind {
            DeviceKind::Camera => &mut self.devices.camera,
            DeviceKind::Microphone => &mut self.devices.microphone,
            DeviceKind::Speaker => &mut self.devices.speaker,
        };
        let was_present = slot.present;
        *slot = presence;
        // Losing the camera in a call keeps the call going on audio; media is told either way.
        if kind == DeviceKind::Camera && was_present != self.devices.camera.present {
            step.effects
                .push(Effect::CameraAvailable(self.devices.camera.present));
        }
    }

    fn on_tick(&mut self, now: Millis, step: &mut Step) {
        let elapsed = now.saturating_sub(self.since);
        match &self.call {
            Call::Joining { .. } if elapsed >= self.settings.join_timeout_ms => {
                let secs = self.settings.join_timeout_ms / 1000;
                self.fail(
                    now,
                    format!("the meeting did not answer within {secs} s"),
                    step,
                );
            }
            Call::Reconnecting { .. } if elapsed >= self.settings.reconnect_timeout_ms => {
                let secs = self.settings.reconnect_timeout_ms / 1000;
                self.fail(
                    now,
                    format!("the connection did not come back within {secs} s"),
                    step,
                );
            }
            Call::Waiting { .. } if elapsed >= self.settings.lobby_timeout_ms => {
                let secs = self.settings.lobby_timeout_ms / 1000;
                let name = self.settings.room_name.clone();
                self.fail(
                    now,
                    format!("nobody admitted {name} from the meeting's lobby within {secs} s"),
                    step,
                );
            }
            Call::Leaving { .. } if elapsed >= self.settings.leave_timeout_ms => {
                self.enter(now, Call::Idle)
            }
            Call::Failed { .. } if elapsed >= self.settings.failed_hold_ms => {
                self.enter(now, Call::Idle)
            }
            _ => {}
        }
    }

    /// The calendar's current meeting (on now, or about to start), if there is a calendar.
    fn calendar_meeting(&self) -> Option<&CalendarMeeting> {
        self.calendar.as_ref()?.current.as_ref()
    }

    /// The meeting the join button joins: the calendar's current one when it has a link, else
    /// the room's fixed meeting.
    fn rooms_meeting(&self) -> Option<String> {
        self.calendar_meeting()
            .and_then(|m| m.url.clone())
            .or_else(|| self.settings.meeting_url.clone())
    }

    /// With `auto_join`, an idle room joins the calendar meeting that has started, unless it
    /// joined that occurrence already (people who left it meant it).
    fn auto_join(&mut self, now: Millis, step: &mut Step) {
        let wanted = self.settings.calendar.as_ref().is_some_and(|c| c.auto_join);
        let Some(meeting) = self.calendar_meeting() else {
            return;
        };
        if wanted
            && self.call == Call::Idle
            && meeting.started
            && meeting.url.is_some()
            && !self.calendar_joined.contains(&meeting.id)
        {
            self.join(now, None, step);
        }
    }

    fn join(&mut self, now: Millis, url: Option<String>, step: &mut Step) {
        let Some(url) = url.or_else(|| self.rooms_meeting()) else {
            let why = match self.calendar {
                Some(_) => {
                    "no meeting to join: none with a link in the calendar now, and no [meeting] url"
                }
                None => "no meeting to join: set [meeting] url or give one to `salle join`",
            };
            self.fail(now, why.into(), step);
            return;
        };
        // Joining the calendar's meeting, by the button or by its URL: auto-join leaves it be.
        let occurrence = self
            .calendar_meeting()
            .filter(|m| m.url.as_ref() == Some(&url))
            .map(|m| m.id.clone());
        if let Some(id) = occurrence {
            if self.calendar_joined.len() == JOINED_MEMORY {
                self.calendar_joined.remove(0);
            }
            self.calendar_joined.push(id);
        }
        if self.settings.join_muted && !self.mic_muted {
            self.set_mic_muted(true, step);
        }
        let session = self.next_session;
        self.next_session += 1;
        self.last_error = None;
        step.effects.push(Effect::Connect {
            session,
            url: url.clone(),
            mic_muted: self.mic_muted,
            camera_off: self.camera_off,
        });
        self.enter(now, Call::Joining { session, url });
    }

    fn leave(&mut self, now: Millis, step: &mut Step) {
        if let Some(session) = self.active_session() {
            step.effects.push(Effect::Disconnect { session });
            self.enter(now, Call::Leaving { session });
        }
    }

    fn fail(&mut self, now: Millis, reason: String, step: &mut Step) {
        if let Some(session) = self.active_session() {
            step.effects.push(Effect::Disconnect { session });
        }
        self.last_error = Some(reason.clone());
        self.enter(now, Call::Failed { reason });
    }

    fn set_mic_muted(&mut self, muted: bool, step: &mut Step) {
        if self.mic_muted != muted {
            self.mic_muted = muted;
            step.effects.push(Effect::SetMicMuted(muted));
        }
    }

    fn set_camera_off(&mut self, off: bool, step: &mut Step) {
        if self.camera_off != off {
            self.camera_off = off;
            step.effects.push(Effect::SetCameraOff(off));
        }
    }

    fn enter(&mut self, now: Millis, call: Call) {
        // The video pipeline is the call's: its problem ends with the call (the next call
        // starts it afresh, and says again if it still fails).
        if matches!(call, Call::Idle | Call::Failed { .. }) {
            self.problems.clear(&ProblemSource::Media(MediaPart::Video));
        }
        self.call = call;
        self.since = now;
    }

    /// The session being set up or in progress (not one being torn down).
    fn active_session(&self) -> Option<SessionId> {
        match self.call {
            Call::Joining { session, .. }
            | Call::Waiting { session, .. }
            | Call::InCall { session, .. }
            | Call::Reconnecting { session, .. } => Some(session),
            _ => None,
        }
    }

    /// The session whose events still matter, including one being torn down.
    fn current_session(&self) -> Option<SessionId> {
        match self.call {
            Call::Leaving { session } => Some(session),
            _ => self.active_session(),
        }
    }

    fn wanted_leds(&self) -> LedState {
        let status = match self.call {
            Call::Idle => LedPattern::Dim,
            Call::Joining { .. } | Call::Leaving { .. } | Call::Reconnecting { .. } => {
                LedPattern::Blink
            }
            // Nothing to do but wait for the host: calmer than "working on it".
            Call::Waiting { .. } => LedPattern::SlowBlink,
            Call::InCall { .. } => LedPattern::On,
            Call::Failed { .. } => LedPattern::FastBlink,
        };
        let mute = if self.mic_muted {
            LedPattern::On
        } else {
            LedPattern::Off
        };
        LedState { status, mute }
    }

    pub fn status(&self) -> RoomStatus {
        let call = match &self.call {
            Call::Idle => CallStatus::Idle,
            Call::Joining { url, .. } => CallStatus::Joining { url: url.clone() },
            Call::InCall { url, .. } => CallStatus::InCall { url: url.clone() },
            Call::Reconnecting { url, reason, .. } => CallStatus::Reconnecting {
                url: url.clone(),
                reason: reason.clone(),
            },
            Call::Waiting { url, reason, .. } => CallStatus::Waiting {
                url: url.clone(),
                reason: reason.clone(),
            },
            Call::Leaving { .. } => CallStatus::Leaving,
            Call::Failed { reason } => CallStatus::Failed {
                reason: reason.clone(),
            },
        };
        RoomStatus {
            room: self.settings.room_name.clone(),
            call,
            since_ms: self.since,
            mic_muted: self.mic_muted,
            camera_off: self.camera_off,
            meeting_url: self.settings.meeting_url.clone(),
            devices: self.devices.clone(),
            leds: self.leds,
            last_error: self.last_error.clone(),
            calendar: self.calendar.clone(),
            screen_power: self.screen_power.power(),
            problems: self.problems.list().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests;
