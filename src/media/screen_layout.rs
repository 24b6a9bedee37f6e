//! Where the room screen's own content goes (`room::ScreenContent` says what it is): coloured
//! panels and blocks of text, in pixels, for a screen size. Pure geometry like `layout.rs`;
//! `overlay.rs` draws the result in the receive pipeline.
//!
//! Everything is measured in a unit of a thirty-sixth of the screen's height (20 px at 720p),
//! so a 1080p screen looks like a 720p one, only sharper.
//!
//! ```text
//! ┌──────────────────────────────────────────┐   the room's screen (not in a call)
//! │ Salle 1                            14:05 │   name and clock
//! │ 10:00 Weekly                             │   next meetings (idle only)
//! │██████████████████████████████████████████│
//! │██████ Press the button to join ██████████│   band: what to do / what happens, and why
//! │██████████████████████████████████████████│
//! │                                          │
//! │▒192.0.2.10 ▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒ No camera ▒│   footer: address, problems
//! └──────────────────────────────────────────┘
//! ┌──────────────────────────────────────────┐   in a call
//! │[Microphone muted][Camera off]            │   badges
//! │          people (layout.rs)              │
//! │ 👍 Bruno Durand                          │   reactions, a few seconds each
//! │░Alice: bonjour à tous░░░░░░░░░░░░┌──────┐│   captions, beside the self-view
//! │░Bruno: bonjour░░░░░░░░░░░░░░░░░░░│ self ││
//! └──────────────────────────────────┴──────┘┘
//! ```

use super::layout::{self, Rect, Size};
use crate::room::{CallScreen, RoomScreen, ScreenContent, Tone, REACTION_LINES};

/// A colour, red, green, blue.
pub type Rgb = [u8; 3];

pub const READY_BAND: Rgb = [22, 110, 72];
pub const BUSY_BAND: Rgb = [28, 78, 160];
pub const ALERT_BAND: Rgb = [176, 32, 32];
pub const FOOTER: Rgb = [34, 36, 46];
pub const MUTED_BADGE: Rgb = [200, 32, 32];
pub const CAMERA_OFF_BADGE: Rgb = [96, 96, 112];
pub const CAPTIONS_BAND: Rgb = [0, 0, 0];
/// Captions let the people behind them show through a little.
pub const CAPTIONS_OPACITY: f64 = 0.75;
pub const TEXT: Rgb = [255, 255, 255];
pub const QUIET_TEXT: Rgb = [190, 196, 210];
pub const PROBLEM_TEXT: Rgb = [255, 196, 64];

/// The most camera-off cards drawn over remote tiles (the text slots are shared with the
/// screen's own texts; past this the tile stays as it is).
pub const MAX_CAMERA_OFF_CARDS: usize = 4;

/// The most panels and texts any screen uses: the receive pipeline has that many (4 panels for
/// the call's badges, recording notice and captions, 5 texts with the reactions, and the
/// camera-off cards).
pub const MAX_PANELS: usize = 4 + MAX_CAMERA_OFF_CARDS;
pub const MAX_TEXTS: usize = 8;

/// A filled rectangle.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub rect: Rect,
    pub colour: Rgb,
    /// 1.0 hides what is behind.
    pub opacity: f64,
}

/// Which point of a text `Text::x` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Left,
    Centre,
    Right,
}

/// A block of text: one or more lines, aligned on `anchor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// Plain text (not markup), lines separated by '\n'.
    pub text: String,
    pub anchor: Anchor,
    /// The left edge, the middle or the right edge, as `anchor` says.
    pub x: u32,
    /// The top of the first line.
    pub y: u32,
    pub font_px: u32,
    pub bold: bool,
    pub colour: Rgb,
}

/// All the screen draws of its own, above the people.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawing {
    /// The people's tiles and the self-view; hidden behind the room's screen.
    pub show_people: bool,
    /// Bottom to top.
    pub panels: Vec<Panel>,
    pub texts: Vec<Text>,
}

impl Default for Drawing {
    /// Nothing of its own: the people only (what the screen shows until told otherwise).
    fn default() -> Self {
        Drawing {
            show_people: true,
            panels: Vec::new(),
            texts: Vec::new(),
        }
    }
}

/// The fixed places on a screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regions {
    /// What sizes and gaps are measured in.
    pub unit: u32,
    /// Space between the screen's edges and the text.
    pub margin: u32,
    /// The message band across the middle of the room's screen.
    pub band: Rect,
    /// The address and problems at the bottom of the room's screen.
    pub footer: Rect,
    /// In a call: the captions at the bottom, left of the self-view.
    pub captions: Rect,
    /// In a call: "Microphone muted", "Camera off", left to right from the top-left corner.
    pub badges: [Rect; 2],
    /// In a call: "This meeting is being recorded", in the top-right corner (under the
    /// badges on a narrow screen).
    pub notice: Rect,
    /// In a call: the reactions, just above the captions on the left, newest at the bottom
    /// (text over the people, no panel: it is there for seconds).
    pub reactions: Rect,
}

pub fn regions(screen: Size) -> Regions {
    let (width, height) = (screen.width, screen.height);
    let unit = even(height / 36).max(2);
    let footer_height = even(unit * 5 / 2);
    let band = Rect::new(
        0,
        even(height * 40 / 100),
        even(width),
        even(height * 22 / 100),
    );
    let self_view = layout::self_view(screen);
    let captions_height = even(unit * 6).min(even(height / 3));
    let captions = Rect::new(
        0,
        even(height - captions_height),
        even(self_view.x.saturating_sub(unit / 2)),
        captions_height,
    );
    let badge = Size::new(even(width * 9 / 40), even(unit * 2));
    // Side by side; on a screen too narrow for that, one under the other.
    let side_by_side = unit + 2 * (badge.width + unit) <= width;
    let badges = [0, 1].map(|i| {
        let (x, y) = if side_by_side {
            (unit + i * (badge.width + unit), unit)
        } else {
            let x = unit.min(width - badge.width);
            (x, unit + i * (badge.height + even(unit / 2)))
        };
        Rect::new(even(x), y, badge.width, badge.height)
    });
    // Right of the badges, as wide as the rest of the line allows (half the screen at most);
    // under them where that is narrower than a badge.
    let beside = even(
        width
            .saturating_sub(unit + 2 * (badge.width + unit) + unit)
            .min(width / 2),
    );
    let notice = if side_by_side && beside >= badge.width {
        Rect::new(even(width - unit - beside), unit, beside, badge.height)
    } else {
        let below = badges[1].bottom() + even(unit / 2);
        let wide = even(width.saturating_sub(2 * unit));
        Rect::new(badges[0].x, below, wide, badge.height)
    };
    let reactions_height = even(REACTION_LINES as u32 * line_height(font(unit, REACTION)));
    let reactions = Rect::new(
        even(unit),
        even(captions.y.saturating_sub(unit / 2 + reactions_height)),
        even(captions.width.saturating_sub(2 * unit)),
        reactions_height,
    );
    Regions {
        unit,
        margin: even(unit * 2),
        band,
        footer: Rect::new(0, height - footer_height, even(width), footer_height),
        captions,
        badges,
        notice,
        reactions,
    }
}

/// Font sizes in tenths of the unit; long names and headlines get smaller, down to the
/// smallest, before they are cut.
const TITLE: u32 = 30;
const SMALLEST_TITLE: u32 = 20;
const HEADLINE: u32 = 24;
const SMALLEST_HEADLINE: u32 = 16;
const BODY: u32 = 13;
const CAPTION: u32 = 12;
const REACTION: u32 = 14;
const SMALL: u32 = 11;

/// What `content` looks like on a `screen`.
pub fn draw(content: &ScreenContent, screen: Size) -> Drawing {
    match content {
        ScreenContent::Room(room) => draw_room(room, screen),
        ScreenContent::Call(call) => draw_call(call, screen),
        // Nothing of its own, and the people hidden: the compositor's black background.
        ScreenContent::Dark => Drawing {
            show_people: false,
            ..Drawing::default()
        },
    }
}

fn draw_room(room: &RoomScreen, screen: Size) -> Drawing {
    let r = regions(screen);
    let (unit, margin) = (r.unit, r.margin);
    let width = screen.width;
    // Where text may go: between the margins (none on an absurdly narrow screen).
    let (right, line_width) = (
        width.saturating_sub(margin),
        width.saturating_sub(2 * margin),
    );
    let mut texts = Vec::new();

    // The name and the clock on one line at the top; the name gives way.
    let title = font(unit, TITLE);
    let clock_width = text_width(&room.clock, title, true);
    texts.push(Text {
        anchor: Anchor::Right,
        ..text(&room.clock, title, true, TEXT, right, unit)
    });
    let name_width = width.saturating_sub(2 * margin + clock_width + unit);
    let name_font = font_to_fit(
        &room.name,
        name_width,
        title,
        font(unit, SMALLEST_TITLE),
        true,
    );
    texts.push(text(
        &fit(&room.name, name_width, name_font, true),
        name_font,
        true,
        TEXT,
        margin,
        unit,
    ));

    let body = font(unit, BODY);
    if !room.next_meetings.is_empty() {
        let lines: Vec<String> = room
            .next_meetings
            .iter()
            .map(|line| fit(line, line_width, body, false))
            .collect();
        let y = unit + line_height(title) + unit;
        texts.push(text(&lines.join("\n"), body, false, QUIET_TEXT, margin, y));
    }

    // The band: the headline, and under it the detail, centred together.
    let band = r.band;
    let headline = font_to_fit(
        &room.message.headline,
        line_width,
        font(unit, HEADLINE),
        font(unit, SMALLEST_HEADLINE),
        true,
    );
    let detail = room
        .message
        .detail
        .as_ref()
        .map(|d| fit(d, line_width, body, false));
    let block = line_height(headline) + detail.as_ref().map_or(0, |_| unit / 2 + line_height(body));
    let top = band.y + band.height.saturating_sub(block) / 2;
    let centre = width / 2;
    texts.push(Text {
        anchor: Anchor::Centre,
        ..text(
            &fit(&room.message.headline, line_width, headline, true),
            headline,
            true,
            TEXT,
            centre,
            top,
        )
    });
    if let Some(detail) = detail {
        let y = top + line_height(headline) + unit / 2;
        texts.push(Text {
            anchor: Anchor::Centre,
            ..text(&detail, body, false, TEXT, centre, y)
        });
    }

    // The footer: addresses on the left, problems on the right, in what room is left.
    let footer = r.footer;
    let small = font(unit, SMALL);
    let y = footer.y + footer.height.saturating_sub(line_height(small)) / 2;
    let addresses = room.addresses.join("  ");
    let mut left = line_width;
    if !addresses.is_empty() {
        let addresses = fit(&addresses, left / 2, small, false);
        left = left.saturating_sub(text_width(&addresses, small, false) + 2 * unit);
        texts.push(text(&addresses, small, false, QUIET_TEXT, margin, y));
    }
    if !room.problems.is_empty() {
        let problems = fit(&room.problems.join(" · "), left, small, false);
        texts.push(Text {
            anchor: Anchor::Right,
            ..text(&problems, small, false, PROBLEM_TEXT, right, y)
        });
    }

    Drawing {
        show_people: false,
        panels: vec![
            Panel {
                rect: band,
                colour: match room.message.tone {
                    Tone::Ready => READY_BAND,
                    Tone::Busy => BUSY_BAND,
                    Tone::Alert => ALERT_BAND,
                },
                opacity: 1.0,
            },
            Panel {
                rect: footer,
                colour: FOOTER,
                opacity: 1.0,
            },
        ],
        texts,
    }
}

fn draw_call(call: &CallScreen, screen: Size) -> Drawing {
    let r = regions(screen);
    let unit = r.unit;
    let mut drawing = Drawing::default();

    let small = font(unit, SMALL);
    let badges = [
        (call.mic_muted, "Microphone muted", MUTED_BADGE),
        (call.camera_off, "Camera off", CAMERA_OFF_BADGE),
    ];
    let shown = badges.iter().filter(|(on, _, _)| *on);
    for (&rect, (_, label, colour)) in r.badges.iter().zip(shown) {
        drawing.panels.push(Panel {
            rect,
            colour: *colour,
            opacity: 1.0,
        });
        let y = rect.y + rect.height.saturating_sub(line_height(small)) / 2;
        let label = fit(label, rect.width.saturating_sub(unit), small, true);
        drawing
            .texts
            .push(text(&label, small, true, TEXT, rect.x + unit / 2, y));
    }

    if let Some(notice) = &call.notice {
        let rect = r.notice;
        drawing.panels.push(Panel {
            rect,
            colour: ALERT_BAND,
            opacity: 1.0,
        });
        let y = rect.y + rect.height.saturating_sub(line_height(small)) / 2;
        let label = fit(notice, rect.width.saturating_sub(unit), small, true);
        drawing.texts.push(Text {
            anchor: Anchor::Centre,
            ..text(&label, small, true, TEXT, rect.x + rect.width / 2, y)
        });
    }

    if !call.captions.is_empty() {
        let band = r.captions;
        let size = font(unit, CAPTION);
        let lines: Vec<String> = call
            .captions
            .iter()
            .map(|line| fit(line, band.width.saturating_sub(2 * unit), size, false))
            .collect();
        drawing.panels.push(Panel {
            rect: band,
            colour: CAPTIONS_BAND,
            opacity: CAPTIONS_OPACITY,
        });
        let y = band.y + unit / 2;
        drawing
            .texts
            .push(text(&lines.join("\n"), size, false, TEXT, band.x + unit, y));
    }

    if !call.reactions.is_empty() {
        let rect = r.reactions;
        let size = font(unit, REACTION);
        let lines: Vec<String> = call
            .reactions
            .iter()
            .take(REACTION_LINES)
            .map(|line| fit(line, rect.width, size, true))
            .collect();
        // Bottom-aligned: the newest just above the captions, where Meet's float up from.
        let y = rect
            .bottom()
            .saturating_sub(lines.len() as u32 * line_height(size));
        drawing
            .texts
            .push(text(&lines.join("\n"), size, true, TEXT, rect.x, y));
    }
    drawing
}

/// A remote person's camera-off card over their tile `rect`: a grey card with their name and
/// "Camera off", as the room's own camera-off badge, instead of their last picture frozen.
pub fn camera_off_card(rect: Rect, name: &str, screen: Size) -> (Panel, Text) {
    let unit = regions(screen).unit;
    let size = font(unit, BODY);
    let name = fit(name, rect.width.saturating_sub(unit), size, true);
    let label = format!("{name}\nCamera off");
    let y = rect.y + rect.height.saturating_sub(2 * line_height(size)) / 2;
    let panel = Panel {
        rect,
        colour: CAMERA_OFF_BADGE,
        opacity: 1.0,
    };
    let text = Text {
        anchor: Anchor::Centre,
        ..text(&label, size, true, TEXT, rect.x + rect.width / 2, y)
    };
    (panel, text)
}

/// Left-anchored text at (x, y).
fn text(text: &str, font_px: u32, bold: bool, colour: Rgb, x: u32, y: u32) -> Text {
    Text {
        text: text.into(),
        anchor: Anchor::Left,
        x,
        y,
        font_px,
        bold,
        colour,
    }
}

fn font(unit: u32, tenths: u32) -> u32 {
    (unit * tenths / 10).max(6)
}

/// The height of one line of text: Pango's line for a sans font is about 1.2 em.
pub fn line_height(font_px: u32) -> u32 {
    font_px * 6 / 5
}

/// A generous estimate of the width of `text`: an average character of a sans font is about
/// 0.55 em (0.6 bold); this takes 0.62 (0.68) so that text fitted with it never overflows.
pub fn text_width(text: &str, font_px: u32, bold: bool) -> u32 {
    let per_char = if bold { 68 } else { 62 };
    (text.chars().count() as u32 * font_px * per_char).div_ceil(100)
}

/// The largest font size from `largest` down to `smallest` at which `text` fits `width`
/// pixels; `smallest` when none does.
fn font_to_fit(text: &str, width: u32, largest: u32, smallest: u32, bold: bool) -> u32 {
    (smallest..=largest)
        .rev()
        .find(|&px| text_width(text, px, bold) <= width)
        .unwrap_or(smallest)
}

/// `text` cut to fit `width` pixels, with an ellipsis when cut. The screen has no scrolling
/// and wrapped lines would run into what is below.
pub fn fit(text: &str, width: u32, font_px: u32, bold: bool) -> String {
    if text_width(text, font_px, bold) <= width {
        return text.into();
    }
    let mut cut = text.to_string();
    while !cut.is_empty()
        && text_width(&cut, font_px, bold) + text_width("…", font_px, bold) > width
    {
        cut.pop();
    }
    format!("{}…", cut.trim_end())
}

fn even(v: u32) -> u32 {
    v & !1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::{Message, ScreenContent};

    const HD: Size = Size::new(1280, 720);

    fn room(tone: Tone, detail: Option<&str>) -> ScreenContent {
        ScreenContent::Room(RoomScreen {
            name: "Salle du conseil".into(),
            clock: "14:05".into(),
            next_meetings: vec!["10:00 Weekly".into(), "14:30 Budget".into()],
            message: Message {
                tone,
                headline: "Press the button to join".into(),
                detail: detail.map(Into::into),
            },
            addresses: vec!["192.0.2.10".into()],
            problems: vec!["No camera".into(), "No network".into()],
        })
    }

    fn call(mic_muted: bool, camera_off: bool, captions: usize) -> ScreenContent {
        ScreenContent::Call(CallScreen {
            mic_muted,
            camera_off,
            captions: (0..captions).map(|i| format!("Alice: line {i}")).collect(),
            notice: None,
            reactions: Vec::new(),
        })
    }

    fn every_content() -> Vec<ScreenContent> {
        let mut all = vec![];
        for tone in [Tone::Ready, Tone::Busy, Tone::Alert] {
            all.push(room(tone, None));
            all.push(room(tone, Some(&"a very long reason ".repeat(20))));
        }
        for (mic, camera) in [(false, false), (true, false), (false, true), (true, true)] {
            for captions in [0, 3] {
                all.push(call(mic, camera, captions));
            }
        }
        all.push(ScreenContent::Call(CallScreen {
            mic_muted: true,
            camera_off: true,
            captions: (0..3).map(|i| format!("Alice: line {i}")).collect(),
            notice: Some("This meeting is being recorded".into()),
            reactions: vec![
                "👍 Alice Martin".into(),
                format!("🎉 {}", "Bruno ".repeat(40)),
                "❤️ Chloé".into(),
            ],
        }));
        all.push(ScreenContent::Dark);
        all
    }

    #[test]
    fn reactions_show_above_the_captions_newest_at_the_bottom() {
        let content = ScreenContent::Call(CallScreen {
            mic_muted: false,
            camera_off: false,
            captions: vec!["Alice: bonjour".into()],
            notice: None,
            reactions: vec!["👍 Alice Martin".into(), "🎉 Bruno Durand".into()],
        });
        let d = draw(&content, HD);
        let r = regions(HD);
        let reactions = d.texts.last().unwrap();
        assert_eq!(reactions.text, "👍 Alice Martin\n🎉 Bruno Durand");
        assert_eq!(reactions.x, r.reactions.x);
        let size = reactions.font_px;
        assert_eq!(reactions.y + 2 * line_height(size), r.reactions.bottom());
        assert!(r.reactions.bottom() < r.captions.y, "{r:?}");
        assert!(!r.reactions.overlaps(&r.badges[0]) && !r.reactions.overlaps(&r.notice));
        // No panel of its own: the captions' band is the only one.
        assert_eq!(d.panels.len(), 1);
    }

    /// What must hold for every drawing: within the pipeline's pools, on the screen, even
    /// rectangles, text that fits (by the estimate) and does not run off the bottom.
    #[test]
    fn every_drawing_fits_its_screen() {
        let screens = [
            HD,
            Size::new(1920, 1080),
            Size::new(640, 360),
            Size::new(1024, 768),
            Size::new(720, 1280),
            Size::new(64, 64),
            Size::new(64, 1280),
        ];
        for screen in screens {
            for content in every_content() {
                let d = draw(&content, screen);
                assert!(d.panels.len() <= MAX_PANELS, "{content:?}");
                assert!(d.texts.len() <= MAX_TEXTS, "{content:?}");
                for p in &d.panels {
                    let r = p.rect;
                    assert!(
                        r.right() <= screen.width && r.bottom() <= screen.height,
                        "{r:?}"
                    );
                    for v in [r.x, r.y, r.width, r.height] {
                        assert_eq!(v % 2, 0, "not even: {r:?} on {screen:?}");
                    }
                }
                if screen.width.min(screen.height) < 360 {
                    continue; // too small to read anyway; only the shapes must hold
                }
                for t in &d.texts {
                    let widest = t
                        .text
                        .lines()
                        .map(|l| text_width(l, t.font_px, t.bold))
                        .max()
                        .unwrap_or(0);
                    let (left, right) = match t.anchor {
                        Anchor::Left => (t.x, t.x + widest),
                        Anchor::Centre => (t.x.saturating_sub(widest / 2), t.x + widest / 2),
                        Anchor::Right => (t.x.saturating_sub(widest), t.x),
                    };
                    assert!(left > 0 && right < screen.width, "{t:?} on {screen:?}");
                    let lines = t.text.lines().count() as u32;
                    assert!(
                        t.y + lines * line_height(t.font_px) <= screen.height,
                        "{t:?} on {screen:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_rooms_screen_hides_the_people_and_colours_its_band_by_tone() {
        for (tone, colour) in [
            (Tone::Ready, READY_BAND),
            (Tone::Busy, BUSY_BAND),
            (Tone::Alert, ALERT_BAND),
        ] {
            let d = draw(&room(tone, None), HD);
            assert!(!d.show_people);
            let r = regions(HD);
            assert_eq!(d.panels[0].rect, r.band);
            assert_eq!(d.panels[0].colour, colour);
            assert_eq!(d.panels[1].rect, r.footer);
        }
    }

    #[test]
    fn idle_at_720p_puts_each_text_in_its_place() {
        let d = draw(&room(Tone::Ready, None), HD);
        let find = |s: &str| d.texts.iter().find(|t| t.text.contains(s)).unwrap().clone();
        let name = find("Salle du conseil");
        assert_eq!(
            (name.anchor, name.x, name.y, name.font_px),
            (Anchor::Left, 40, 20, 60)
        );
        let clock = find("14:05");
        assert_eq!((clock.anchor, clock.x, clock.y), (Anchor::Right, 1240, 20));
        let meetings = find("Weekly");
        assert_eq!(meetings.text, "10:00 Weekly\n14:30 Budget");
        assert!(meetings.y > name.y + 60 && meetings.y + 2 * 31 < regions(HD).band.y);
        let hint = find("Press the button");
        let band = regions(HD).band;
        assert_eq!((hint.anchor, hint.x), (Anchor::Centre, 640));
        assert!(hint.y > band.y && hint.y + line_height(hint.font_px) < band.bottom());
        let problems = find("No camera");
        assert_eq!(problems.text, "No camera · No network");
        assert_eq!(problems.colour, PROBLEM_TEXT);
        assert!(problems.y > regions(HD).footer.y);
        assert!(find("192.0.2.10").y > regions(HD).footer.y);
    }

    #[test]
    fn a_call_shows_badges_in_order_and_captions_beside_the_self_view() {
        let d = draw(&call(true, true, 3), HD);
        assert!(d.show_people);
        let r = regions(HD);
        let rects: Vec<Rect> = d.panels.iter().map(|p| p.rect).collect();
        assert_eq!(rects, [r.badges[0], r.badges[1], r.captions]);
        assert_eq!(d.panels[0].colour, MUTED_BADGE);
        assert_eq!(d.panels[1].colour, CAMERA_OFF_BADGE);
        assert!(!r.captions.overlaps(&layout::self_view(HD)));
        assert_eq!(r.captions.bottom(), 720);
        // Only the camera off: its badge takes the first place.
        let d = draw(&call(false, true, 0), HD);
        assert_eq!(d.panels.len(), 1);
        assert_eq!(
            (d.panels[0].rect, d.panels[0].colour),
            (r.badges[0], CAMERA_OFF_BADGE)
        );
        assert_eq!(d.texts[0].text, "Camera off");
        // Nothing to say: nothing drawn.
        assert_eq!(draw(&call(false, false, 0), HD), Drawing::default());
    }

    #[test]
    fn a_long_headline_gets_smaller_before_it_is_cut() {
        let headline = |text: &str| {
            let ScreenContent::Room(mut screen) = room(Tone::Busy, None) else {
                unreachable!()
            };
            screen.message.headline = text.into();
            let d = draw(&ScreenContent::Room(screen), HD);
            d.texts
                .into_iter()
                .find(|t| t.anchor == Anchor::Centre)
                .unwrap()
        };
        assert_eq!(headline("Reconnecting").font_px, 48);
        let waiting = headline("Waiting for the host to admit Salle du conseil");
        assert!((32..48).contains(&waiting.font_px), "{waiting:?}");
        assert!(!waiting.text.ends_with('…'));
        let endless = headline(&"word ".repeat(60));
        assert_eq!(endless.font_px, 32);
        assert!(endless.text.ends_with('…'));
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(fit("Salle 1", 1000, 20, false), "Salle 1");
        let cut = fit(&"x".repeat(100), 200, 20, false);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(text_width(&cut, 20, false) <= 200);
        assert_eq!(fit("anything", 0, 20, false), "…");
    }
}
