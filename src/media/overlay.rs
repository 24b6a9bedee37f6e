//! Draws the room screen's own content (a `screen_layout::Drawing`) in the receive pipeline.
//! A change shows on the next frame, and nothing stops, restarts or renegotiates for it:
//!
//! - panels are compositor inputs above the people: each a tiny live solid-colour picture
//!   that the compositor stretches to the panel's rectangle. Colour, place and opacity are
//!   properties of the source and of its compositor pad. They are made on first use, so a
//!   pipeline that is never told what to show has none; an unused one has opacity 0, which
//!   costs the compositor nothing.
//! - texts are `textoverlay` elements in a row on the compositor's output, one per block of
//!   text, made with the pipeline and silent while unused. Each renders its text once when it
//!   changes and then only blends where the text is.
//!
//! Text is given as plain text and escaped here: textoverlay reads Pango markup.

use super::elements::{self, TEXTOVERLAY, VIDEOTESTSRC};
use super::in_stream::InStream;
use super::layout::{Rect, Size};
use super::screen_layout::{Anchor, Drawing, Panel, Rgb, Text, MAX_PANELS, MAX_TEXTS};
use gstreamer as gst;
use gstreamer::prelude::*;

/// Panels go above the people and the self-view (zorder 1 and 10 in `receive.rs`).
const PANEL_ZORDER: u32 = 20;

/// The size of a panel's source picture: the compositor stretches it, and a solid colour
/// stays solid.
const PANEL_SOURCE_SIZE: i32 = 16;

/// What the receive pipeline has drawn of its own, and the elements it draws with.
pub(super) struct Overlay {
    screen: Size,
    /// Changes to each text element, made in its streaming thread (see `in_stream`).
    texts: Vec<InStream>,
    panels: Vec<PanelInput>,
    drawn: Drawing,
}

/// One panel: its colour source (changed in its streaming thread, see `in_stream`) and its
/// compositor pad.
pub(super) struct PanelInput {
    pub source: InStream,
    pub pad: gst::Pad,
}

impl Overlay {
    /// `texts` are the elements `text_slots` made, already in the pipeline.
    pub fn new(screen: Size, texts: &[gst::Element]) -> Overlay {
        Overlay {
            screen,
            texts: texts
                .iter()
                .map(|text| InStream::new(text, "video_sink"))
                .collect(),
            panels: Vec::new(),
            drawn: Drawing::default(),
        }
    }

    /// How many panel inputs exist.
    pub fn panels(&self) -> usize {
        self.panels.len()
    }

    pub fn add_panel(&mut self, panel: PanelInput) {
        self.panels.push(panel);
    }

    /// What was drawn last.
    pub fn drawn(&self) -> &Drawing {
        &self.drawn
    }

    /// Draws `drawing`, touching only what changed since the last one. Needs a panel input
    /// for each of its panels (see `add_panel`).
    pub fn draw(&mut self, drawing: &Drawing) {
        for (i, input) in self.panels.iter().enumerate() {
            let wanted = drawing.panels.get(i);
            if wanted != self.drawn.panels.get(i) {
                show_panel(input, wanted, PANEL_ZORDER + i as u32);
            }
        }
        for (i, text) in self.texts.iter().enumerate() {
            let wanted = drawing.texts.get(i);
            if wanted != self.drawn.texts.get(i) {
                let (wanted, screen) = (wanted.cloned(), self.screen);
                text.change(move |element| show_text(element, wanted.as_ref(), screen));
            }
        }
        self.drawn = drawing.clone();
    }
}

/// The text elements for the compositor's output, in a row, silent until used.
pub(super) fn text_slots() -> Result<Vec<gst::Element>, String> {
    (0..MAX_TEXTS)
        .map(|i| {
            gst::ElementFactory::make(TEXTOVERLAY)
                .name(format!("screen-text-{i}"))
                .property("silent", true)
                // Sizes are the layout's, in pixels of this screen.
                .property("auto-resize", false)
                .property_from_str("valignment", "top")
                .build()
                .map_err(|_| elements::not_installed(TEXTOVERLAY))
        })
        .collect()
}

/// The elements of the `index`th panel input, source first, to attach to the compositor. Its
/// first frames are already of `colour`: a colour set once the source runs shows a frame or
/// two later.
pub(super) fn panel_elements(
    index: usize,
    fps: u32,
    colour: Rgb,
) -> Result<Vec<gst::Element>, String> {
    assert!(
        index < MAX_PANELS,
        "the layout uses at most {MAX_PANELS} panels"
    );
    let source = gst::ElementFactory::make(VIDEOTESTSRC)
        .name(format!("screen-panel-{index}"))
        .property("is-live", true)
        .property_from_str("pattern", "solid-color")
        .property("foreground-color", argb(colour))
        .build()
        .map_err(|_| elements::not_installed(VIDEOTESTSRC))?;
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", PANEL_SOURCE_SIZE)
        .field("height", PANEL_SOURCE_SIZE)
        .field("framerate", gst::Fraction::new(fps as i32, 1))
        .build();
    let caps = super::receive::caps_filter(&format!("screen-panel-{index}-caps"), caps)?;
    Ok(vec![source, caps])
}

fn show_panel(input: &PanelInput, panel: Option<&Panel>, zorder: u32) {
    let pad = &input.pad;
    let Some(panel) = panel else {
        pad.set_property("alpha", 0.0f64);
        return;
    };
    // videotestsrc takes a new colour from its next frame on.
    let colour = argb(panel.colour);
    input
        .source
        .change(move |source| source.set_property("foreground-color", colour));
    let Rect {
        x,
        y,
        width,
        height,
    } = panel.rect;
    pad.set_property("xpos", x as i32);
    pad.set_property("ypos", y as i32);
    pad.set_property("width", width as i32);
    pad.set_property("height", height as i32);
    pad.set_property("zorder", zorder);
    pad.set_property("alpha", panel.opacity);
}

fn show_text(element: &gst::Element, text: Option<&Text>, screen: Size) {
    let Some(text) = text else {
        element.set_property("silent", true);
        element.set_property("text", "");
        return;
    };
    let (halignment, xpad, deltax) = match text.anchor {
        Anchor::Left => ("left", text.x as i32, 0),
        Anchor::Right => ("right", screen.width.saturating_sub(text.x) as i32, 0),
        // textoverlay centres on the screen; the shift moves it to the wanted middle.
        Anchor::Centre => ("center", 0, text.x as i32 - screen.width as i32 / 2),
    };
    let weight = if text.bold { " Bold" } else { "" };
    element.set_property("text", super::receive::label_text(&text.text));
    element.set_property("font-desc", format!("Sans{weight} {}px", text.font_px));
    element.set_property("color", argb(text.colour));
    element.set_property_from_str("halignment", halignment);
    element.set_property_from_str("line-alignment", halignment);
    element.set_property("xpad", xpad);
    element.set_property("deltax", deltax);
    element.set_property("ypad", text.y as i32);
    element.set_property("silent", false);
}

/// An opaque colour as GStreamer's ARGB.
fn argb([r, g, b]: Rgb) -> u32 {
    0xff00_0000 | u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_opaque_argb() {
        assert_eq!(argb([0x12, 0x34, 0x56]), 0xff12_3456);
    }
}
