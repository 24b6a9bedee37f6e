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
//! Here a change waits until the element's next frame reaches its sink pad and is made there
//! by a pad probe, in the streaming thread that renders, before the frame goes in: the change
//! and the render can no longer overlap, and the caller never waits for the stream.

use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::{Arc, Mutex};

/// One change to make to the element.
type Change = Box<dyn FnOnce(&gst::Element) + Send>;

/// The changes waiting for an element's next frame.
#[derive(Clone)]
pub(super) struct InStream {
    pending: Arc<Mutex<Vec<Change>>>,
}

impl InStream {
    /// For `element`, whose frames come in on its pad `sink_pad`.
    pub fn new(element: &gst::Element, sink_pad: &str) -> InStream {
        let pad = element
            .static_pad(sink_pad)
            .unwrap_or_else(|| panic!("{} has no pad {sink_pad}", element.name()));
        let pending: Arc<Mutex<Vec<Change>>> = Arc::default();
        let queued = pending.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, _| {
            let changes = std::mem::take(&mut *queued.lock().unwrap_or_else(|e| e.into_inner()));
            if !changes.is_empty() {
                if let Some(element) = pad.parent_element() {
                    for change in changes {
                        change(&element);
                    }
                }
            }
            gst::PadProbeReturn::Ok
        });
        InStream { pending }
    }

    /// Makes `change` before the element's next frame, after the changes asked before it.
    pub fn change(&self, change: impl FnOnce(&gst::Element) + Send + 'static) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(change));
    }
}
