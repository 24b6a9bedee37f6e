//! Property changes that an element takes in its own streaming thread, between two frames.
//!
//! For `textoverlay` (GStreamer 1.22, `gstbasetextoverlay.c`), which is not safe to change
//! while it runs: its video chain copies the text under the element's lock, then releases the
//! lock and lays the text out with Pango (`pango_layout_set_markup`,
//! `pango_layout_get_pixel_extents`, `pango_cairo_show_layout`) without any lock, while its
//! `font-desc` and `line-alignment` setters change that same `PangoLayout` from the caller's
//! thread. A change landing during a render corrupts the layout ("PangoLayout changed since
//! PangoLayoutIter was created", then a SIGSEGV in `pango_glyph_string_extents_range` on the
//! compositor's output thread, or a heap corrupted for whoever allocates next). It also clears
//! its `need_render` flag after rendering, so a text set meanwhile could never be drawn.
//!
//! And for `videotestsrc` (`gstvideotestsrc.c`), whose solid colour is drawn once into a
//! cached buffer: setting `foreground-color` drops that buffer (`gst_clear_buffer`, no lock)
//! while its streaming thread may be between checking it and copying from it, which then maps
//! a NULL or freed buffer: `gst_video_frame_map_id: assertion 'GST_IS_BUFFER (buffer)'
//! failed` in the panel's thread, then a SIGSEGV (the crash seen in CI while the room screen
//! changed).
//!
//! Here, once frames flow, a change waits until the element's next frame passes one of its pads
//! and is made there by a pad probe, in the streaming thread, between two frames: on textoverlay's sink pad
//! before the frame goes in, on videotestsrc's src pad after a frame is made and before the
//! next. The change and the element's work can no longer overlap, and the caller never waits
//! for the stream.

use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::{Arc, Mutex};

/// One change to make to the element.
type Change = Box<dyn FnOnce(&gst::Element) + Send>;

#[derive(Default)]
struct Pending {
    /// A frame has passed: from now on the element may be working at any moment.
    flowing: bool,
    changes: Vec<Change>,
}

/// The changes waiting for an element's next frame.
#[derive(Clone)]
pub(super) struct InStream {
    element: gst::Element,
    pending: Arc<Mutex<Pending>>,
}

impl InStream {
    /// For `element`, whose frames pass its pad `pad` in its streaming thread.
    pub fn new(element: &gst::Element, pad: &str) -> InStream {
        let pad = element
            .static_pad(pad)
            .unwrap_or_else(|| panic!("{} has no pad {pad}", element.name()));
        let pending: Arc<Mutex<Pending>> = Arc::default();
        let queued = pending.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, _| {
            let mut pending = queued.lock().unwrap_or_else(|e| e.into_inner());
            pending.flowing = true;
            let changes = std::mem::take(&mut pending.changes);
            if let (false, Some(element)) = (changes.is_empty(), pad.parent_element()) {
                for change in changes {
                    change(&element);
                }
            }
            gst::PadProbeReturn::Ok
        });
        InStream {
            element: element.clone(),
            pending,
        }
    }

    /// Makes `change` before the element's next frame, after the changes asked before it; at
    /// once while no frame has passed yet (an element that has never had a frame is not
    /// working, and the first one waits at the probe, which takes the same lock, until the
    /// change is made).
    pub fn change(&self, change: impl FnOnce(&gst::Element) + Send + 'static) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.flowing {
            pending.changes.push(Box::new(change));
        } else {
            change(&self.element);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::elements::{FAKESINK, VIDEOTESTSRC};
    use std::sync::mpsc;
    use std::time::Duration;

    const COLOUR: u32 = 0xff12_3456;

    fn pipeline() -> (gst::Pipeline, gst::Element) {
        super::super::init().unwrap();
        let pipeline = gst::parse::launch(&format!(
            "{VIDEOTESTSRC} name=source pattern=solid-color is-live=true ! {FAKESINK} name=sink sync=true",
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let source = pipeline.by_name("source").unwrap();
        (pipeline, source)
    }

    /// Before any frame the element is idle: the change is made at once.
    #[test]
    fn before_the_first_frame_a_change_is_made_at_once() {
        let (_pipeline, source) = pipeline();
        let changes = InStream::new(&source, "src");
        changes.change(|source| source.set_property("foreground-color", COLOUR));
        assert_eq!(source.property::<u32>("foreground-color"), COLOUR);
    }

    /// Once frames flow, a change is made by the element's streaming thread, not by the
    /// caller, and takes effect there.
    #[test]
    fn while_frames_flow_a_change_is_made_in_the_streaming_thread() {
        let (pipeline, source) = pipeline();
        let changes = InStream::new(&source, "src");
        let (frame, framed) = mpsc::sync_channel(1);
        let sink = pipeline
            .by_name("sink")
            .unwrap()
            .static_pad("sink")
            .unwrap();
        sink.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            let _ = frame.try_send(());
            gst::PadProbeReturn::Ok
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        framed.recv_timeout(Duration::from_secs(30)).unwrap();
        let (done, made) = mpsc::channel();
        changes.change(move |source| {
            source.set_property("foreground-color", COLOUR);
            let _ = done.send(std::thread::current().id());
        });
        let thread = made.recv_timeout(Duration::from_secs(30)).unwrap();
        pipeline.set_state(gst::State::Null).unwrap();
        assert_ne!(thread, std::thread::current().id());
        assert_eq!(source.property::<u32>("foreground-color"), COLOUR);
    }
}
