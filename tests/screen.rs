//! The room screen on real GStreamer: what the room shows in each state, drawn by the receive
//! pipeline and read back from its appsink, checked against the known layout
//! (`screen_layout`): every pixel outside the text is the colour of the panel under it (or
//! black where there is none, people aside), each text is there, in its place, and looks like
//! a reference rendering of the same words. Changes show within a few frames.
//!
//! Snapshots go to target/test-output/screen-<state>.png for a reviewer to look at.
//!
//! Last, the daemon: its screen from start-up on, following the room through a call.

mod common;

use common::media::{close, h264, launch, save_png, stream, wait_for_screen, Sender};
use common::{simulated_room, wait_for, Daemon};
use gstreamer as gst;
use gstreamer::prelude::*;
use salle::media::layout::{Rect, Size};
use salle::media::receive::{
    AudioOutput, Frame, Receive, ReceiveSettings, VideoCodec, VideoOutput,
};
use salle::media::screen_layout::{self, Anchor, Drawing, Rgb};
use salle::room::{
    screen_content, CalendarMeeting, CalendarStatus, CallStatus, DevicePresence, Problem,
    ProblemSource, Room, RoomSettings, RoomStatus, ScreenContent, ScreenFacts, ScreenPower,
};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SCREEN: Size = Size::new(1280, 720);
const ROOM: &str = "Salle du conseil";
const URL: &str = "https://visio.example.org/abc-defg-hij";
const RED: Rgb = [220, 40, 40];
const GREEN: Rgb = [40, 180, 60];

/// The tests share two cores: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn receive() -> Receive {
    Receive::new(ReceiveSettings {
        screen: SCREEN,
        fps: 30,
        video_output: VideoOutput::AppSink,
        audio_output: AudioOutput::Discard,
        ..ReceiveSettings::default()
    })
    .expect("receive pipeline")
}

/// The room's status in `call`, as its state machine gives it: microphone and speaker there,
/// no camera.
fn status(call: CallStatus) -> RoomStatus {
    let settings = RoomSettings {
        room_name: ROOM.into(),
        meeting_url: Some(URL.into()),
        ..RoomSettings::default()
    };
    let mut status = Room::new(settings, 0).status();
    status.call = call;
    status.problems = vec![Problem {
        source: ProblemSource::MeetingService,
        summary: "meeting service unreachable".into(),
        detail: Some("WHIP at 192.0.2.1: cannot connect".into()),
        since_ms: 0,
    }];
    let present = DevicePresence {
        present: true,
        simulated: false,
        name: Some("USB".into()),
    };
    status.devices.microphone = present.clone();
    status.devices.speaker = present;
    status.calendar = Some(CalendarStatus {
        upcoming: vec![
            meeting("Weekly team meeting", "10:00"),
            meeting("Budget review", "14:30"),
        ],
        ..CalendarStatus::default()
    });
    status
}

/// The day the screens are drawn on, for the calendar.
const TODAY: &str = "2026-11-23";

/// A meeting of the room's calendar today at `start` ("10:00"); its end is not shown before
/// it starts, so it ends where it starts.
fn meeting(title: &str, start: &str) -> CalendarMeeting {
    CalendarMeeting {
        id: title.into(),
        title: title.into(),
        start: format!("{TODAY}T{start}:00+01:00"),
        end: format!("{TODAY}T{start}:00+01:00"),
        all_day: false,
        url: None,
        started: false,
    }
}

fn facts() -> ScreenFacts {
    ScreenFacts {
        clock: "09:41".into(),
        today: TODAY.into(),
        addresses: vec!["192.0.2.10".into()],
        captions: Vec::new(),
        recording: Default::default(),
        reactions: Vec::new(),
    }
}

/// Where a textoverlay drew its text (after it drew it), with room for its outline and shadow.
fn text_box(receive: &Receive, slot: usize) -> Rect {
    let element = receive
        .pipeline()
        .by_name(&format!("screen-text-{slot}"))
        .expect("a text slot");
    let (x, y) = (
        element.property::<i32>("text-x"),
        element.property::<i32>("text-y"),
    );
    let (w, h) = (
        element.property::<u32>("text-width"),
        element.property::<u32>("text-height"),
    );
    let pad = 3;
    let (x, y) = ((x - pad).max(0) as u32, (y - pad).max(0) as u32);
    Rect::new(
        x,
        y,
        (w + 2 * pad as u32).min(SCREEN.width - x),
        (h + 2 * pad as u32).min(SCREEN.height - y),
    )
}

fn inside(rect: &Rect, x: u32, y: u32) -> bool {
    x >= rect.x && x < rect.right() && y >= rect.y && y < rect.bottom()
}

/// The colour the drawing puts at (x, y) outside its texts: the topmost opaque panel's, or
/// None where something else shows (the people, or a see-through panel over them).
fn panel_colour(drawing: &Drawing, x: u32, y: u32) -> Option<Rgb> {
    drawing
        .panels
        .iter()
        .rev()
        .find(|p| inside(&p.rect, x, y))
        .map(|p| (p.opacity == 1.0).then_some(p.colour))
        .unwrap_or((!drawing.show_people).then_some([0, 0, 0]))
}

/// Pixels far from `colour` in `rect`.
fn differing(frame: &Frame, rect: &Rect, colour: Rgb) -> usize {
    (rect.y..rect.bottom())
        .flat_map(|y| (rect.x..rect.right()).map(move |x| (x, y)))
        .filter(|&(x, y)| !close(frame.pixel(x, y), colour))
        .count()
}

/// Checks `frame` against what the screen drew: every text slot in use drew its text inside
/// the region its anchor says, with enough ink; every other pixel (every 4th, both ways) is
/// the colour of the panel under it, or black where the room's screen hides the people.
fn check_picture(frame: &Frame, receive: &Receive) {
    let drawing = receive.drawing();
    let boxes: Vec<Rect> = (0..drawing.texts.len())
        .map(|i| text_box(receive, i))
        .collect();
    for (text, bounds) in drawing.texts.iter().zip(&boxes) {
        // In its place: the ink starts a little inside the line (Pango's side bearing and
        // ascent), ends above the next line, and its anchor point is at the edge or middle
        // the layout says.
        let slack = 4 + text.font_px / 4;
        let (left, right, top) = (bounds.x + 3, bounds.right() - 3, bounds.y + 3);
        let anchor_x = match text.anchor {
            Anchor::Left => left,
            Anchor::Centre => bounds.centre().0,
            Anchor::Right => right,
        };
        let lines = text.text.lines().count() as u32;
        let bottom = text.y + lines * screen_layout::line_height(text.font_px) + slack;
        assert!(
            anchor_x.abs_diff(text.x) <= slack
                && (text.y..=text.y + slack).contains(&top)
                && bounds.bottom() - 3 <= bottom,
            "{:?} drawn at {bounds:?}: not where the layout says, {text:?}",
            text.text
        );
        let background = panel_colour(&drawing, bounds.x, bounds.y).unwrap_or([0, 0, 0]);
        let ink = differing(frame, bounds, background);
        assert!(
            ink * 100 >= bounds.area() as usize * 5,
            "{:?}: only {ink} pixels of ink in {bounds:?}",
            text.text
        );
    }
    let mut wrong = Vec::new();
    for y in (0..SCREEN.height).step_by(4) {
        for x in (0..SCREEN.width).step_by(4) {
            if boxes.iter().any(|b| inside(b, x, y)) {
                continue;
            }
            if let Some(colour) = panel_colour(&drawing, x, y) {
                if !close(frame.pixel(x, y), colour) {
                    wrong.push((x, y, frame.pixel(x, y), colour));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} pixels are not what the layout says, e.g. (x, y, seen, wanted) {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
}

/// The text in slot `slot` rendered alone by a textoverlay of its own on the background the
/// layout puts under it, compared with the screen inside its box: the same words in the same
/// font at the same place.
fn compare_with_reference(frame: &Frame, receive: &Receive, slot: usize) {
    let drawing = receive.drawing();
    let text = &drawing.texts[slot];
    let bounds = text_box(receive, slot);
    let [r, g, b] = panel_colour(&drawing, bounds.x, bounds.y).unwrap_or([0, 0, 0]);
    let [tr, tg, tb] = text.colour;
    let (halignment, xpad) = match text.anchor {
        Anchor::Left => ("left", text.x),
        Anchor::Centre => ("center", 0),
        Anchor::Right => ("right", SCREEN.width - text.x),
    };
    let pipeline = launch(&format!(
        "videotestsrc num-buffers=1 pattern=solid-color foreground-color=0xff{r:02x}{g:02x}{b:02x} \
         ! video/x-raw,format=RGBA,width={},height={} \
         ! textoverlay name=text auto-resize=false valignment=top halignment={halignment} \
           line-alignment={halignment} xpad={xpad} ypad={} deltax={} \
           color=0xff{tr:02x}{tg:02x}{tb:02x} font-desc=\"Sans{} {}px\" \
         ! appsink name=out sync=false",
        SCREEN.width,
        SCREEN.height,
        text.y,
        if text.anchor == Anchor::Centre {
            text.x as i32 - SCREEN.width as i32 / 2
        } else {
            0
        },
        if text.bold { " Bold" } else { "" },
        text.font_px
    ));
    pipeline
        .by_name("text")
        .unwrap()
        .set_property("text", text.text.as_str());
    let sink = common::media::appsink(&pipeline, "out");
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = sink.pull_sample().expect("the reference rendering");
    let map = sample.buffer().unwrap().map_readable().unwrap();
    let reference = Frame {
        width: SCREEN.width,
        height: SCREEN.height,
        data: map.to_vec(),
    };
    pipeline.set_state(gst::State::Null).unwrap();
    let total = bounds.area() as usize;
    let same = (bounds.y..bounds.bottom())
        .flat_map(|y| (bounds.x..bounds.right()).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let [r, g, b, _] = reference.pixel(x, y);
            close(frame.pixel(x, y), [r, g, b])
        })
        .count();
    assert!(
        same * 100 >= total * 97,
        "{:?}: only {same} of {total} pixels match the reference rendering",
        text.text
    );
}

/// Shows `content` and waits for the frame that shows it: every opaque panel drawn (a
/// corner of each: text never goes there).
fn show(receive: &Receive, content: &ScreenContent, what: &str) -> Frame {
    receive.set_screen(Some(content)).unwrap();
    let drawing = screen_layout::draw(content, SCREEN);
    assert_eq!(receive.drawing(), drawing);
    wait_for_screen(receive, what, |f| {
        (drawing.panels.iter())
            .filter(|p| p.opacity == 1.0)
            .all(|p| close(f.pixel(p.rect.x + 2, p.rect.y + 2), p.colour))
    })
}

fn room_state(call: CallStatus, name: &str) {
    let _serial = serial();
    let receive = receive();
    let content = screen_content(&status(call), &facts());
    let frame = show(&receive, &content, name);
    save_png(&frame, &format!("screen-{name}.png"));
    check_picture(&frame, &receive);
    // The message in the band, word for word.
    let band = screen_layout::regions(SCREEN).band;
    let drawing = receive.drawing();
    let headline = (0..drawing.texts.len())
        .find(|&i| inside(&band, drawing.texts[i].x, drawing.texts[i].y))
        .expect("a headline in the band");
    compare_with_reference(&frame, &receive, headline);
}

#[test]
fn idle_shows_the_room_the_clock_the_next_meetings_and_how_to_join() {
    let _serial = serial();
    let started = Instant::now();
    let receive = receive();
    let content = screen_content(&status(CallStatus::Idle), &facts());
    let frame = show(&receive, &content, "idle");
    // Start-up: from nothing to the idle screen.
    let took = started.elapsed();
    save_png(&frame, "screen-idle.png");
    check_picture(&frame, &receive);
    let drawing = receive.drawing();
    let texts: Vec<&str> = drawing.texts.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "09:41",
            ROOM,
            "10:00  Weekly team meeting\n14:30  Budget review",
            "Press the button to join",
            "192.0.2.10",
            "meeting service unreachable · No camera",
        ]
    );
    for slot in 0..texts.len() {
        compare_with_reference(&frame, &receive, slot);
    }
    eprintln!("idle screen {took:?} from making the pipeline");
}

#[test]
fn joining_says_which_meeting() {
    room_state(CallStatus::Joining { url: URL.into() }, "joining");
}

#[test]
fn waiting_in_the_lobby_says_who_must_admit_the_room() {
    room_state(
        CallStatus::Waiting {
            url: URL.into(),
            reason: format!("waiting for the host to admit {ROOM}"),
        },
        "waiting",
    );
}

#[test]
fn failed_says_why_in_red() {
    room_state(
        CallStatus::Failed {
            reason: "Janus ws://127.0.0.1:8188/: No such room (999999)".into(),
        },
        "failed",
    );
}

#[test]
fn leaving_says_so() {
    room_state(CallStatus::Leaving, "leaving");
}

#[test]
fn reconnecting_hides_the_people_behind_the_message() {
    let _serial = serial();
    let receive = receive();
    let _alice = stream(&receive, "alice", "Alice", VideoCodec::H264, h264(RED));
    let centre = (SCREEN.width / 2, SCREEN.height / 4);
    wait_for_screen(&receive, "Alice", |f| {
        close(f.pixel(centre.0, centre.1), RED)
    });
    let content = screen_content(
        &status(CallStatus::Reconnecting {
            url: URL.into(),
            reason: "connection lost".into(),
        }),
        &facts(),
    );
    let frame = show(&receive, &content, "reconnecting");
    save_png(&frame, "screen-reconnecting.png");
    // Black where Alice was: the check below expects it everywhere outside the panels.
    check_picture(&frame, &receive);
    compare_with_reference(&frame, &receive, 2);

    // Back in the call: Alice again, nothing of the room's screen.
    let content = screen_content(&status(CallStatus::InCall { url: URL.into() }), &facts());
    receive.set_screen(Some(&content)).unwrap();
    wait_for_screen(&receive, "Alice back", |f| {
        close(f.pixel(centre.0, centre.1), RED)
            && close(
                f.pixel(4, screen_layout::regions(SCREEN).band.y + 4),
                [0, 0, 0],
            )
    });
}

#[test]
fn in_a_call_the_people_who_speaks_mute_and_captions() {
    let _serial = serial();
    let receive = receive();
    let _people: Vec<Sender> = [
        ("alice", "Alice Martin", RED),
        ("bruno", "Bruno Petit", GREEN),
    ]
    .into_iter()
    .map(|(id, name, colour)| stream(&receive, id, name, VideoCodec::H264, h264(colour)))
    .collect();
    receive.set_speaking("alice", true).unwrap();
    let mut status = status(CallStatus::InCall { url: URL.into() });
    status.mic_muted = true;
    let facts = ScreenFacts {
        captions: vec![
            "Alice Martin: Bonjour à tous, on commence ?".into(),
            "Bruno Petit: Oui, allons-y.".into(),
        ],
        ..facts()
    };
    let content = screen_content(&status, &facts);
    let (left, right) = (
        receive.layout().placement("alice").unwrap().rect,
        receive.layout().placement("bruno").unwrap().rect,
    );
    receive.set_screen(Some(&content)).unwrap();
    let badge = screen_layout::regions(SCREEN).badges[0];
    // Who speaks: Alice's name is yellow, Bruno's is not.
    let yellow = |frame: &Frame, tile: Rect| {
        let label = Rect::new(tile.x, tile.bottom() - 50, 300, 50);
        (label.y..label.bottom())
            .flat_map(|y| (label.x..label.right()).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let [r, g, b, _] = frame.pixel(x, y);
                r > 200 && g > 160 && b < 90
            })
            .count()
    };
    // Once each picture is decoded at its tile's size (the first ones came at the size of a
    // single person's tile).
    let frame = wait_for_screen(&receive, "two people, muted, captions", |f| {
        close(f.pixel(left.centre().0, left.centre().1), RED)
            && close(f.pixel(right.centre().0, right.centre().1), GREEN)
            && close(
                f.pixel(badge.x + 2, badge.y + 2),
                screen_layout::MUTED_BADGE,
            )
            && yellow(f, left) > 150
    });
    save_png(&frame, "screen-in-call.png");
    assert_eq!(yellow(&frame, right), 0, "Bruno is silent");
    check_picture(&frame, &receive);
    let drawing = receive.drawing();
    assert_eq!(drawing.texts[0].text, "Microphone muted");
    compare_with_reference(&frame, &receive, 0);
    // The captions: white text on the dark band left of the self-view's corner.
    let captions = screen_layout::regions(SCREEN).captions;
    let text = text_box(&receive, 1);
    assert!(captions.overlaps(&text) && text.bottom() <= SCREEN.height);
    let white = differing(&frame, &text, [0, 0, 0]);
    assert!(white > 1000, "captions: {white} pixels of ink");
    compare_with_reference(&frame, &receive, 1);

    // The camera goes off too: a second badge within a few frames.
    status.camera_off = true;
    receive
        .set_screen(Some(&screen_content(&status, &facts)))
        .unwrap();
    let second = screen_layout::regions(SCREEN).badges[1];
    let frames = frames_until(&receive, |f| {
        close(
            f.pixel(second.x + 2, second.y + 2),
            screen_layout::CAMERA_OFF_BADGE,
        )
    });
    assert!(frames <= 10, "the camera badge took {frames} frames");
    save_png(
        &receive.pull_frame(Duration::from_secs(1)).unwrap(),
        "screen-in-call-camera-off.png",
    );
}

#[test]
fn a_remote_camera_turned_off_is_covered_by_its_camera_off_card() {
    let _serial = serial();
    let receive = receive();
    let _people: Vec<Sender> = [
        ("alice", "Alice Martin", RED),
        ("bruno", "Bruno Petit", GREEN),
    ]
    .into_iter()
    .map(|(id, name, colour)| stream(&receive, id, name, VideoCodec::H264, h264(colour)))
    .collect();
    let content = screen_content(&status(CallStatus::InCall { url: URL.into() }), &facts());
    receive.set_screen(Some(&content)).unwrap();
    let (left, right) = (
        receive.layout().placement("alice").unwrap().rect,
        receive.layout().placement("bruno").unwrap().rect,
    );
    let corner = |r: Rect| (r.x + 6, r.y + 6);
    wait_for_screen(&receive, "two people", |f| {
        close(f.pixel(corner(left).0, corner(left).1), RED)
            && close(f.pixel(corner(right).0, corner(right).1), GREEN)
    });
    // Bruno's camera goes off: his card, grey with his name, over his whole tile; Alice as
    // she was.
    receive.set_camera_off("bruno", true).unwrap();
    let frame = wait_for_screen(&receive, "Bruno's camera-off card", |f| {
        close(
            f.pixel(corner(right).0, corner(right).1),
            screen_layout::CAMERA_OFF_BADGE,
        )
    });
    save_png(&frame, "screen-remote-camera-off.png");
    assert!(close(frame.pixel(corner(left).0, corner(left).1), RED));
    let drawing = receive.drawing();
    assert_eq!(drawing.texts[0].text, "Bruno Petit\nCamera off");
    assert_eq!(drawing.panels[0].rect, right);
    check_picture(&frame, &receive);
    let people = receive.people();
    assert!(people.iter().any(|p| p.id == "bruno" && p.camera_off));
    assert!(people.iter().any(|p| p.id == "alice" && !p.camera_off));
    // Back on: his picture again, the card gone.
    receive.set_camera_off("bruno", false).unwrap();
    wait_for_screen(&receive, "Bruno's picture back", |f| {
        close(f.pixel(corner(right).0, corner(right).1), GREEN)
    });
    assert!(receive.drawing().texts.is_empty());
}

#[test]
fn a_reaction_shows_its_emoji_in_colour_and_the_name_above_the_captions() {
    let _serial = serial();
    let receive = receive();
    let reacting = ScreenFacts {
        reactions: vec!["👍 Alice Martin".into()],
        ..facts()
    };
    let content = screen_content(&status(CallStatus::InCall { url: URL.into() }), &reacting);
    receive.set_screen(Some(&content)).unwrap();
    assert_eq!(receive.drawing().texts[0].text, "👍 Alice Martin");
    let region = screen_layout::regions(SCREEN).reactions;
    // The thumb is yellow (Noto Color Emoji: without a colour emoji font it would be a white
    // box or nothing), the name white, over the black of an empty call.
    let count = |frame: &Frame, rect: &Rect, pick: fn([u8; 4]) -> bool| {
        (rect.y..rect.bottom())
            .flat_map(|y| (rect.x..rect.right()).map(move |x| (x, y)))
            .filter(|&(x, y)| pick(frame.pixel(x, y)))
            .count()
    };
    let yellow = |[r, g, b, _]: [u8; 4]| r > 200 && g > 140 && b < 100;
    let white = |[r, g, b, _]: [u8; 4]| r > 220 && g > 220 && b > 220;
    let frame = wait_for_screen(&receive, "the reaction", |f| {
        count(f, &text_box(&receive, 0), yellow) > 50
    });
    save_png(&frame, "screen-reaction.png");
    let text = text_box(&receive, 0);
    assert!(count(&frame, &text, white) > 100, "the name");
    assert!(
        region.overlaps(&text) && text.bottom() <= screen_layout::regions(SCREEN).captions.y,
        "{text:?} in {region:?}"
    );
    // Gone: nothing drawn any more.
    let quiet = screen_content(&status(CallStatus::InCall { url: URL.into() }), &facts());
    receive.set_screen(Some(&quiet)).unwrap();
    wait_for_screen(&receive, "the reaction gone", |f| {
        count(f, &text, yellow) == 0
    });
}

/// Frames pulled until `check` holds (at most 30).
fn frames_until(receive: &Receive, check: impl Fn(&Frame) -> bool) -> usize {
    for n in 1..=30 {
        let frame = receive.pull_frame(Duration::from_secs(1)).expect("a frame");
        if check(&frame) {
            return n;
        }
    }
    panic!("not within 30 frames");
}

#[test]
fn a_new_state_shows_within_a_few_frames_without_stopping_the_screen() {
    let _serial = serial();
    let receive = receive();
    let mut frames = Vec::new();
    let calls = [
        CallStatus::Idle,
        CallStatus::Joining { url: URL.into() },
        CallStatus::Waiting {
            url: URL.into(),
            reason: "waiting".into(),
        },
        CallStatus::Failed {
            reason: "refused".into(),
        },
        CallStatus::Idle,
    ];
    let band = screen_layout::regions(SCREEN).band;
    let started = Instant::now();
    for call in calls {
        let content = screen_content(&status(call), &facts());
        receive.set_screen(Some(&content)).unwrap();
        let colour = screen_layout::draw(&content, SCREEN).panels[0].colour;
        frames.push(frames_until(&receive, |f| {
            close(f.pixel(band.x + 2, band.y + 2), colour)
        }));
    }
    assert!(
        frames.iter().all(|&n| n <= 10),
        "frames until each state showed: {frames:?}"
    );
    // How long that took is printed, not asserted (the machines are noisy): at 30 fps it
    // should be close to the frames' own time.
    let elapsed = started.elapsed();
    let shown: usize = frames.iter().sum();
    eprintln!("{shown} frames took {elapsed:?}");
    // Nothing new is drawn for the same content.
    let content = screen_content(&status(CallStatus::Idle), &facts());
    let panel = receive.pipeline().by_name("screen-panel-0").unwrap();
    panel.set_property("foreground-color", 0xff00_00ffu32);
    receive.set_screen(Some(&content)).unwrap();
    assert_eq!(panel.property::<u32>("foreground-color"), 0xff00_00ff);
    eprintln!("frames until each state showed: {frames:?}");
}

#[test]
fn markup_in_names_and_reasons_is_shown_as_typed() {
    let _serial = serial();
    let receive = receive();
    let mut status = status(CallStatus::Failed {
        reason: "<b>R&D</b> said no".into(),
    });
    status.room = "R&D <2>".into();
    let content = screen_content(&status, &facts());
    show(&receive, &content, "markup");
    let texts: Vec<String> = (0..3)
        .map(|i| {
            receive
                .pipeline()
                .by_name(&format!("screen-text-{i}"))
                .unwrap()
                .property::<String>("text")
        })
        .collect();
    assert!(
        texts.contains(&"R&amp;D &lt;2&gt;".to_string()),
        "{texts:?}"
    );
    let detail = receive
        .pipeline()
        .by_name("screen-text-3")
        .unwrap()
        .property::<String>("text");
    assert_eq!(detail, "&lt;b&gt;R&amp;D&lt;/b&gt; said no");
}

#[test]
fn a_pipeline_never_told_what_to_show_draws_nothing_of_its_own() {
    let _serial = serial();
    let receive = receive();
    let compositor = receive.pipeline().by_name("compositor").unwrap();
    // The background's input only: no panels until the screen has something to say.
    assert_eq!(compositor.sink_pads().len(), 1);
    let frame = receive.pull_frame(Duration::from_secs(2)).unwrap();
    assert!(frame.data.chunks(4).all(|p| p[..3] == [0, 0, 0]));
    // In a call with nothing to say: still nothing.
    let content = screen_content(&status(CallStatus::InCall { url: URL.into() }), &facts());
    receive.set_screen(Some(&content)).unwrap();
    assert_eq!(receive.drawing(), Drawing::default());
    assert_eq!(compositor.sink_pads().len(), 1);
}

#[test]
fn in_standby_the_screen_is_black_and_the_room_comes_back_after() {
    let _serial = serial();
    let receive = receive();
    let idle = screen_content(&status(CallStatus::Idle), &facts());
    show(&receive, &idle, "idle before standby");
    let mut asleep = status(CallStatus::Idle);
    asleep.screen_power = ScreenPower::Standby;
    let content = screen_content(&asleep, &facts());
    assert_eq!(content, ScreenContent::Dark);
    receive.set_screen(Some(&content)).unwrap();
    // No text, no clock, no panel: every pixel dark (not only "mostly": a monitor without CEC
    // shows this all night).
    assert!(receive.drawing().texts.is_empty() && receive.drawing().panels.is_empty());
    let dark = |f: &Frame| f.data.chunks(4).all(|p| p[..3].iter().all(|&c| c <= 16));
    let frames = frames_until(&receive, dark);
    let frame = receive.pull_frame(Duration::from_secs(1)).expect("a frame");
    assert!(dark(&frame), "a later frame is not dark");
    save_png(&frame, "screen-standby.png");
    // Awake again (a press): the idle screen, as before.
    let frame = show(&receive, &idle, "idle after standby");
    check_picture(&frame, &receive);
    assert!(receive
        .drawing()
        .texts
        .iter()
        .any(|t| t.text == "Press the button to join"));
    eprintln!("standby showed within {frames} frames");
}

/// What the daemon's screen shows of its own, as status says.
fn screen_text(daemon: &Daemon) -> Vec<String> {
    let status = daemon.status();
    let text = &status["media"]["screen"]["text"];
    (text.as_array().into_iter().flatten())
        .filter_map(|t| t.as_str().map(String::from))
        .collect()
}

#[test]
fn the_daemon_shows_the_room_from_start_up_and_follows_it() {
    let _serial = serial();
    // A window, as on a laptop. There is no desktop here: DISPLAY says there is one, and
    // autovideosink is made to pick GStreamer's fakevideosink before any desktop sink (the
    // room's real screen is kmssink).
    let config = simulated_room("Salle Test", "test://demo?connect_ms=300")
        .replace(r#"output = "none""#, r#"output = "window""#);
    let started = Instant::now();
    let daemon = Daemon::start_with(&config, |command| {
        command
            .env("GST_PLUGIN_FEATURE_RANK", "fakevideosink:MAX")
            .env("DISPLAY", ":salle-test");
    });
    let daemon = &daemon;
    let shows = |what: &'static str| {
        move || Some(screen_text(daemon)).filter(|t| t.iter().any(|l| l.contains(what)))
    };
    let idle = wait_for(
        "the idle screen",
        Duration::from_secs(5),
        shows("Press the button"),
    );
    eprintln!("idle screen {:?} after start: {idle:?}", started.elapsed());
    assert_eq!(idle[1], "Salle Test");
    assert!(
        idle.iter().any(|l| l.contains("No camera (test pattern)")),
        "{idle:?}"
    );
    assert_eq!(daemon.status()["media"]["screen"]["output"], "window");

    daemon.cli(&["join"]);
    wait_for(
        "joining",
        Duration::from_secs(5),
        shows("Joining the meeting"),
    );
    daemon.wait_state("in-call", Duration::from_secs(5));
    wait_for("the call", Duration::from_secs(5), || {
        screen_text(daemon).is_empty().then_some(())
    });
    daemon.cli(&["mute", "on"]);
    wait_for(
        "the muted badge",
        Duration::from_secs(5),
        shows("Microphone muted"),
    );
    daemon.cli(&["leave"]);
    wait_for(
        "idle again",
        Duration::from_secs(5),
        shows("Press the button"),
    );
    // The same screen all along, without the call's people and self-view.
    let screen = &daemon.status()["media"]["screen"];
    assert_eq!(
        (screen["self_view"].as_bool(), screen["tiles"].as_u64()),
        (Some(false), Some(0))
    );
}

/// A tiny web server on `listener` answering every request with 404: all a health check
/// needs to see (the service answers; what it says does not matter).
fn answer_404(listener: std::net::TcpListener) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = std::io::BufReader::new(stream);
            let mut line = String::new();
            use std::io::{BufRead, Write};
            while stream.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = stream
                .get_mut()
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        }
    });
}

#[test]
fn a_meeting_service_out_of_reach_is_on_the_screen_until_it_answers() {
    let _serial = serial();
    // A port nobody listens on (yet): the service's address on loopback.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("whip+http://127.0.0.1:{port}/whip/room");
    let config =
        simulated_room("Salle Test", &url).replace(r#"output = "none""#, r#"output = "window""#);
    let daemon = Daemon::start_with(&config, |command| {
        command
            .env("GST_PLUGIN_FEATURE_RANK", "fakevideosink:MAX")
            .env("DISPLAY", ":salle-test");
    });
    let unreachable = |status: &serde_json::Value| {
        common::problem_texts(status)
            .into_iter()
            .find(|p| p.starts_with("Meeting service unreachable"))
    };
    let problem = wait_for("the health check", Duration::from_secs(10), || {
        unreachable(&daemon.status())
    });
    assert!(
        problem.contains("WHIP at 127.0.0.1: cannot connect"),
        "{problem}"
    );
    wait_for("the problem on the screen", Duration::from_secs(5), || {
        let text = screen_text(&daemon);
        text.iter()
            .any(|l| l.contains("Meeting service unreachable"))
            .then_some(text)
    });
    // The service comes up: the problem goes from status and screen at the next check.
    answer_404(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
    wait_for("the service back", Duration::from_secs(30), || {
        let gone = unreachable(&daemon.status()).is_none()
            && !screen_text(&daemon)
                .iter()
                .any(|l| l.contains("unreachable"));
        gone.then_some(())
    });
    assert!(daemon.log().contains("meeting service reachable"));
}

#[test]
fn a_window_without_a_desktop_is_a_problem_not_a_crash() {
    let _serial = serial();
    let config = simulated_room("Salle Test", "test://demo?connect_ms=300")
        .replace(r#"output = "none""#, r#"output = "window""#);
    let daemon = Daemon::start_with(&config, |command| {
        command.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    });
    let problems = wait_for("the screen's problem", Duration::from_secs(5), || {
        let status = daemon.status();
        let problems = common::problem_texts(&status).join("\n");
        problems.contains("no desktop").then_some(problems)
    });
    assert!(problems.contains("screen (window): "), "{problems}");
    // The room goes on without its screen: a call still works, with its sound.
    daemon.cli(&["join"]);
    daemon.wait_state("in-call", Duration::from_secs(5));
}

#[test]
fn outside_working_hours_the_daemon_darkens_the_screen_and_a_press_wakes_it() {
    let _serial = serial();
    let config = simulated_room("Salle Test", "test://demo?connect_ms=300").replace(
        r#"output = "none""#,
        &format!(
            "output = \"window\"\nawake_hours = \"{}\"\nsleep_after_s = 1\ncec = \"/dev/cec-none\"",
            common::awake_hours_not_now()
        ),
    );
    // A window on a pretend desktop, as in the test above.
    let daemon = Daemon::start_with(&config, |command| {
        command
            .env("GST_PLUGIN_FEATURE_RANK", "fakevideosink:MAX")
            .env("DISPLAY", ":salle-test");
    });
    let daemon = &daemon;
    let started = Instant::now();
    // Dark: the screen runs and shows nothing of its own, the people (none) hidden.
    let asleep = wait_for("a dark screen", Duration::from_secs(10), || {
        let status = daemon.status();
        let screen = &status["media"]["screen"];
        // Status leaves out an empty text list.
        let dark =
            screen["output"] == "window" && screen["text"].as_array().is_none_or(|t| t.is_empty());
        (status["screen_power"] == "standby" && dark).then_some(status)
    });
    let slept = started.elapsed();
    assert_eq!(asleep["call"]["state"], "idle");
    // No CEC adapter there: a problem in status, and the picture goes dark all the same.
    let problems = common::problem_texts(&asleep).join("\n");
    assert!(
        problems.contains("HDMI-CEC: /dev/cec-none: No such file"),
        "{problems}"
    );
    let human = common::text(&daemon.cli(&["status"]).stdout);
    assert!(human.contains("screen      standby"), "{human}");
    // The mute button wakes the screen, and mutes: a button has one meaning.
    daemon.cli(&["press", "mute"]);
    let awake = wait_for("awake", Duration::from_secs(5), || {
        let status = daemon.status();
        (status["screen_power"] == "awake").then_some(status)
    });
    assert_eq!(awake["mic_muted"], true);
    wait_for("the idle screen again", Duration::from_secs(5), || {
        screen_text(daemon)
            .iter()
            .any(|l| l.contains("Press the button"))
            .then_some(())
    });
    // And asleep again a second after the press.
    wait_for("standby again", Duration::from_secs(10), || {
        (daemon.status()["screen_power"] == "standby").then_some(())
    });
    assert!(daemon.log().contains("screen"), "the log says nothing");
    eprintln!("standby {slept:?} after start-up");
}

/// The room screen redrawn again and again on the real receive pipeline while people come and
/// go (their tiles change size), `redraws` times: every room state, with and without people,
/// badges and captions, the black standby screen. Each redraw changes compositor pads (place,
/// opacity, panel sizes) while the compositor aggregates, which once crashed it
/// (`gst_video_frame_map_id: assertion 'GST_IS_BUFFER'`, then SIGSEGV). The pipeline must go
/// on and show the last state drawn.
fn redraw_in_a_loop(redraws: usize) {
    let _serial = serial();
    let receive = receive();
    let _people: Vec<Sender> = [("alice", "Alice", RED), ("bruno", "Bruno", GREEN)]
        .into_iter()
        .map(|(id, name, colour)| stream(&receive, id, name, VideoCodec::H264, h264(colour)))
        .collect();
    let carole = h264([40, 60, 220]);
    let mut third: Option<Sender> = None;
    let in_call = |muted: bool, camera_off: bool| {
        let mut status = status(CallStatus::InCall { url: URL.into() });
        status.mic_muted = muted;
        status.camera_off = camera_off;
        status
    };
    let mut standby = status(CallStatus::Idle);
    standby.screen_power = ScreenPower::Standby;
    let statuses = [
        status(CallStatus::Idle),
        status(CallStatus::Joining { url: URL.into() }),
        in_call(false, false),
        in_call(true, false),
        status(CallStatus::Reconnecting {
            url: URL.into(),
            reason: "network lost".into(),
        }),
        in_call(true, true),
        status(CallStatus::Waiting {
            url: URL.into(),
            reason: "waiting".into(),
        }),
        status(CallStatus::Failed {
            reason: "refused".into(),
        }),
        standby,
        status(CallStatus::Leaving),
    ];
    let captions = ScreenFacts {
        captions: vec!["Alice: on commence ?".into()],
        ..facts()
    };
    let plain = facts();
    // SALLE_SCREEN_CHURN=0: nobody comes or goes (to tell which change a crash follows).
    let churn = std::env::var("SALLE_SCREEN_CHURN").map_or(true, |v| v != "0");
    let started = Instant::now();
    let mut frames = 0;
    for i in 0..redraws {
        let facts = if i % 3 == 0 { &captions } else { &plain };
        let content = screen_content(&statuses[i % statuses.len()], facts);
        receive.set_screen(Some(&content)).unwrap();
        // A third person comes and goes: every tile changes size.
        if churn && i % 7 == 0 {
            match third.take() {
                Some(sender) => {
                    drop(sender);
                    receive.remove_video("carole").unwrap();
                }
                None => {
                    third = Some(stream(
                        &receive,
                        "carole",
                        "Carole",
                        VideoCodec::H264,
                        carole.clone(),
                    ))
                }
            }
        }
        // Redraws land at every point of the compositor's cycle: between none and two of
        // its frames (30 fps) apart.
        std::thread::sleep(Duration::from_millis((i as u64 * 7) % 70));
        if receive.pull_frame(Duration::ZERO).is_some() {
            frames += 1;
        }
    }
    // Still running, and showing the last state drawn.
    let content = screen_content(&status(CallStatus::Idle), &facts());
    let frame = show(&receive, &content, "idle after the redraws");
    check_picture(&frame, &receive);
    eprintln!(
        "{redraws} redraws in {:?}, {frames} frames read meanwhile",
        started.elapsed()
    );
}

/// The short version, in CI: 500 redraws (about 20 s). Before the fix (issue 15, see the
/// README) the pipeline died after a few hundred to a few thousand redraws.
#[test]
fn redrawing_the_screen_in_a_loop_keeps_the_pipeline_running() {
    redraw_in_a_loop(500);
}

/// The long version: `SALLE_SCREEN_REDRAWS` redraws (default 5000, about 3 minutes).
#[test]
#[ignore = "long stress test (minutes): cargo test --test screen -- --ignored redraw"]
fn redrawing_the_screen_for_minutes_keeps_the_pipeline_running() {
    let redraws = std::env::var("SALLE_SCREEN_REDRAWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000);
    redraw_in_a_loop(redraws);
}
