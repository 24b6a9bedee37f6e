//! The receive side: remote people's encoded video and audio in, the composed screen and the
//! mixed sound out. One pipeline, built once; tracks are added and removed while it plays.
//!
//! ```text
//! appsrc ! h264parse ! decoder ! videoconvertscale ! capsfilter ! textoverlay ─┐ each video
//! appsrc ! vp8dec | vp9dec ! videoconvertscale ! capsfilter ! textoverlay ────┤
//! intervideosrc | videotestsrc ! videoconvertscale ! capsfilter ! videoflip ──┤ self-view
//! videotestsrc (black, 16x16, never drawn) ────────────────────────────────────┤ clock
//! videotestsrc (solid colour, 16x16, stretched) ───────────────────────────────┤ each panel
//!   compositor ! capsfilter ! textoverlay × 7 ! [videoconvert !] kmssink | autovideosink | appsink
//!
//! appsrc ! opusdec ! audioconvert ! audioresample ─┐ each audio track
//! audiotestsrc (silence) ─────────────────────────┤ clock
//!   audiomixer ! capsfilter ! [webrtcechoprobe !] alsasink | autoaudiosink | appsink | fakesink
//! ```
//!
//! - The compositor and the mixer each have a live source of their own (a black picture,
//!   silence): they produce frames and sound from the start, whether or not anyone is there, so
//!   the screen and the speaker (and the echo canceller's probe) see one continuous stream.
//! - Each video is decoded, scaled to its tile and labelled with the person's name before the
//!   compositor, which then only places it (`layout.rs` says where). Labelling at tile size keeps
//!   the labels the same size in every tile.
//! - The room screen's own content (`set_screen`: the idle screen, messages, mute and camera
//!   badges, captions) is drawn on top: coloured panels as compositor inputs, text by the
//!   textoverlay elements on the output (`overlay.rs`; `screen_layout.rs` says where).
//! - Timestamps: a track's own timestamps (the sender's cadence) are mapped onto this
//!   pipeline's running time at its first frame (see `Timeline`). The compositor and mixer wait
//!   `INPUT_LATENCY` for late inputs (decoding, network jitter) before producing their output.
//!
//! Bus errors go to `take_errors()` with the name of the element that raised them.

use super::elements::{self, make, *};
use super::in_stream::InStream;
use super::layout::{self, Layout, Rect, Size, Tile};
use super::overlay::{self, Overlay, PanelInput};
use super::screen_layout::{self, Drawing, Panel};
use super::EncodedFrame;
use crate::room::ScreenContent;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;

/// The echo probe's default name; the send side's `webrtcdsp` must name the same (`probe`).
pub const DEFAULT_ECHO_PROBE: &str = "salle-echo-probe";

/// How long the compositor and mixer wait for an input's data before going on without it:
/// room for decoding and for frames arriving a little late. Also the same for sound and
/// pictures, which keeps them in step.
const INPUT_LATENCY: Duration = Duration::from_millis(60);

/// A frame further ahead of its time than this means the sender's clock jumped: start over.
const MAX_EARLY: Duration = Duration::from_secs(2);

/// How long removing a track waits for its last frame to leave.
const DETACH_TIMEOUT: Duration = Duration::from_secs(1);

/// How long the screen and speaker sinks may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// Mixed sound is stereo: what Opus in WebRTC always decodes to.
const AUDIO_CHANNELS: u32 = 2;

/// Z-order on the compositor: tiles above the background, the self-view above the tiles (and
/// the screen's own panels above both, see `overlay.rs`).
const TILE_ZORDER: u32 = 1;
const SELF_VIEW_ZORDER: u32 = 10;

/// The colour of a name on a tile (ARGB), and of the name of someone speaking: the room sees
/// who talks.
const LABEL_COLOUR: u32 = 0xffff_ffff;
const SPEAKING_COLOUR: u32 = 0xffff_d200;

/// The codecs a remote video can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    Vp8,
    Vp9,
}

impl VideoCodec {
    /// What the appsrc says it produces: H.264 as the WebRTC layer hands it over (Annex B,
    /// one access unit per frame).
    fn caps(self) -> gst::Caps {
        match self {
            VideoCodec::H264 => gst::Caps::builder("video/x-h264")
                .field("stream-format", "byte-stream")
                .field("alignment", "au")
                .build(),
            VideoCodec::Vp8 => gst::Caps::new_empty_simple("video/x-vp8"),
            VideoCodec::Vp9 => gst::Caps::new_empty_simple("video/x-vp9"),
        }
    }

    /// Decoders in order of preference: hardware first (the Pi 4's `v4l2h264dec`).
    fn decoders(self) -> &'static [&'static str] {
        match self {
            VideoCodec::H264 => &[V4L2H264DEC, AVDEC_H264, OPENH264DEC],
            VideoCodec::Vp8 => &[VP8DEC],
            VideoCodec::Vp9 => &[VP9DEC],
        }
    }
}

/// Where the composed screen goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoOutput {
    /// The HDMI screen, straight to the display controller (no desktop). `connector_id` picks a
    /// connector when there are several (none: kmssink's choice, the first connected one);
    /// `driver` names the DRM driver when kmssink's own probe does not know it.
    Kms {
        connector_id: Option<u32>,
        driver: Option<String>,
    },
    /// A window on a desktop (development on a laptop).
    Window,
    /// Nowhere but `Receive::pull_frame` (tests).
    AppSink,
}

/// Where the mixed sound goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioOutput {
    /// An ALSA device, e.g. `hw:CARD=vc4hdmi0` or `plughw:1`.
    Alsa { device: String },
    /// The desktop's default output.
    Auto,
    /// Nowhere but `Receive::pull_audio` (tests).
    AppSink,
    /// Nowhere (a room with no speaker); still timed like a real sink.
    Discard,
}

/// What the self-view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfViewSource {
    /// The camera as the send pipeline sees it, through `intervideosink channel=<name>` there:
    /// raw video goes from pipeline to pipeline without passing through Rust, and the self-view
    /// shows exactly what is sent (privacy frame included). Black while nothing arrives.
    Channel(String),
    /// A test pattern (the simulated camera, or a demo).
    TestPattern,
}

/// How the receive pipeline is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveSettings {
    /// The screen's size in pixels (even).
    pub screen: Size,
    pub fps: u32,
    pub video_output: VideoOutput,
    pub audio_output: AudioOutput,
    /// Sample rate of the mix: one the echo canceller takes (48000, 32000, 16000 or 8000), the
    /// same as the send side's `webrtcdsp`.
    pub audio_rate: u32,
    /// The name of the `webrtcechoprobe` on the speaker path, or none when the sound device
    /// cancels echo on board (USB speakerphones).
    pub echo_probe: Option<String>,
}

impl Default for ReceiveSettings {
    fn default() -> Self {
        ReceiveSettings {
            screen: Size::new(1280, 720),
            fps: 30,
            video_output: VideoOutput::Window,
            audio_output: AudioOutput::Auto,
            audio_rate: 48000,
            echo_probe: Some(DEFAULT_ECHO_PROBE.into()),
        }
    }
}

/// One composed frame: RGBA, 4 bytes per pixel, rows packed (`width * 4` bytes each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Frame {
    /// The RGBA value at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let at = ((y * self.width + x) * 4) as usize;
        [
            self.data[at],
            self.data[at + 1],
            self.data[at + 2],
            self.data[at + 3],
        ]
    }
}

/// A piece of the mixed sound: interleaved signed 16-bit samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioChunk {
    pub rate: u32,
    pub channels: u32,
    pub samples: Vec<i16>,
}

/// The receive pipeline. Dropping it stops everything (the pipeline goes to NULL, which joins
/// all its streaming threads).
pub struct Receive {
    pipeline: gst::Pipeline,
    compositor: gst::Element,
    mixer: gst::Element,
    frames: Option<gst_app::AppSink>,
    sound: Option<gst_app::AppSink>,
    screen: Size,
    fps: u32,
    /// The size of the names on the tiles: one for every tile, scaled to the screen.
    label_px: u32,
    state: Mutex<State>,
    errors: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
}

#[derive(Default)]
struct State {
    /// Remote videos in the order they came: the layout keeps that order.
    videos: Vec<Video>,
    self_view: Option<Branch>,
    audios: Vec<(String, Branch)>,
    /// Numbers element names so a participant who leaves and comes back gets fresh ones.
    serial: u32,
    layout: Layout,
    /// The room's screen covers the people (not in a call): their tiles and the self-view are
    /// not drawn.
    people_hidden: bool,
    /// The screen's own content; none in unit tests without a pipeline.
    overlay: Option<Overlay>,
    /// What the room's screen content draws (the camera-off cards go on top of it).
    screen_drawing: Drawing,
    /// Tiles whose camera their owner turned off (muted, still published): a card covers
    /// their last picture. Kept for tiles not there yet (muted before their video came).
    camera_off: std::collections::BTreeSet<String>,
}

/// Elements feeding one request pad of the compositor or the mixer, source first.
struct Branch {
    elements: Vec<gst::Element>,
    sinkpad: gst::Pad,
}

struct Video {
    tile: Tile,
    branch: Branch,
    /// Sets the size the picture is scaled to: the tile's.
    scale_caps: gst::Element,
    /// Changes to the name's textoverlay, made in its streaming thread (see `in_stream`).
    label: InStream,
    size: Size,
    decoded: Arc<Decoded>,
}

/// What a remote video's decoder has produced: proof that a person is really seen.
#[derive(Debug, Default)]
struct Decoded {
    frames: AtomicU64,
    /// The decoded picture's size, packed as width << 32 | height.
    size: AtomicU64,
}

impl Decoded {
    /// Counts frames and notes their size at the decoder's output.
    fn watch(self: &Arc<Self>, decoder: &gst::Element) {
        let decoded = self.clone();
        decoder
            .static_pad("src")
            .expect("a decoder has a src pad")
            .add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |_, info| {
                    match &info.data {
                        Some(gst::PadProbeData::Buffer(_)) => {
                            decoded.frames.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(gst::PadProbeData::Event(event)) => {
                            if let gst::EventView::Caps(caps) = event.view() {
                                if let Ok(info) = gst_video::VideoInfo::from_caps(caps.caps()) {
                                    let size =
                                        u64::from(info.width()) << 32 | u64::from(info.height());
                                    decoded.size.store(size, Ordering::Relaxed);
                                }
                            }
                        }
                        _ => {}
                    }
                    gst::PadProbeReturn::Ok
                },
            );
    }
}

/// One remote person's picture as the screen has it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PersonOnScreen {
    pub id: String,
    pub name: String,
    pub decoded_frames: u64,
    /// The size the sender sends (before scaling to the tile).
    pub width: u32,
    pub height: u32,
    /// In a tile now (not hidden past the ninth person).
    pub shown: bool,
    /// Their camera is off (muted): a camera-off card covers the tile.
    #[serde(default)]
    pub camera_off: bool,
}

impl Receive {
    /// Builds the pipeline and starts it: from now on the screen shows black and the speaker
    /// plays silence until tracks are added.
    pub fn new(settings: ReceiveSettings) -> Result<Receive, String> {
        super::init()?;
        let screen = settings.screen;
        if screen.width < 64 || screen.height < 64 || screen.width % 2 + screen.height % 2 != 0 {
            return Err(format!(
                "screen size {}x{}: must be even and at least 64x64",
                screen.width, screen.height
            ));
        }
        if settings.fps == 0 || settings.fps > 120 {
            return Err(format!("frame rate {}: must be 1 to 120", settings.fps));
        }
        if ![8000, 16000, 32000, 48000].contains(&settings.audio_rate) {
            return Err(format!(
                "audio rate {}: the echo canceller takes 8000, 16000, 32000 or 48000",
                settings.audio_rate
            ));
        }

        let pipeline = gst::Pipeline::with_name("receive");
        let (errors_in, errors_out) = mpsc::unbounded_channel();
        // Only errors. Latency messages from decoders added later are ignored on purpose:
        // INPUT_LATENCY covers them, and a latency change in the middle of a call would glitch
        // the speaker.
        super::watch_bus(&pipeline, errors_in, |_| {});

        if settings.echo_probe.is_some() {
            // The send side's echo canceller compares running times with the probe's: both
            // pipelines must be on one timeline.
            super::send_audio::share_echo_timeline(&pipeline);
        }
        let (compositor, frames, texts) = build_video_output(&pipeline, &settings)?;
        let (mixer, sound) = build_audio_output(&pipeline, &settings)?;

        let receive = Receive {
            pipeline,
            compositor,
            mixer,
            frames,
            sound,
            screen,
            fps: settings.fps,
            label_px: (screen.height / 36).max(10),
            state: Mutex::new(State {
                layout: layout::layout(screen, &[]),
                overlay: Some(Overlay::new(screen, &texts)),
                ..State::default()
            }),
            errors: Mutex::new(Some(errors_out)),
        };
        if receive.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(receive.first_error("the receive pipeline does not start"));
        }
        // The sinks finish going to PLAYING with their first buffer, and then the pipeline
        // sets every element to PLAYING again, from another thread: wait for that, so it cannot
        // restart a track being removed at the same moment.
        let (result, state, _) = receive.pipeline.state(clock_time(START_TIMEOUT));
        if result.is_err() || state != gst::State::Playing {
            return Err(receive.first_error("the receive pipeline does not reach PLAYING"));
        }
        Ok(receive)
    }

    /// Adds a remote video, drawn in its tile with `name` on it. Returns the handle its
    /// encoded frames are pushed into.
    pub fn add_video(
        &self,
        id: &str,
        name: &str,
        codec: VideoCodec,
    ) -> Result<RemoteVideo, String> {
        let mut state = self.lock();
        if state.videos.iter().any(|v| v.tile.id == id) {
            return Err(format!("{id}: already has a video"));
        }
        let prefix = state.prefix("video", id);
        let source = gst_app::AppSrc::builder()
            .name(format!("{prefix}-source"))
            .caps(&codec.caps())
            .is_live(true)
            .format(gst::Format::Time)
            .build();
        let video = RemoteVideo::new(source.clone());
        let (elements, scale_caps, label) = self.video_elements(&prefix, source, codec, name)?;
        let decoded = Arc::new(Decoded::default());
        let decoder = elements
            .iter()
            .find(|e| e.name().ends_with("-decode"))
            .expect("a video branch has a decoder");
        decoded.watch(decoder);
        let sinkpad = self.attach(&elements, &self.compositor)?;
        state.videos.push(Video {
            tile: Tile {
                id: id.into(),
                name: name.into(),
                ..Tile::default()
            },
            branch: Branch { elements, sinkpad },
            scale_caps,
            label: InStream::new(&label, "video_sink"),
            size: Size::default(),
            decoded,
        });
        // Place it (and move the others) before its first frame, then start it.
        self.relayout(&mut state);
        if let Err(e) = start(&state.videos.last().expect("just pushed").branch) {
            let failed = state.videos.pop().expect("just pushed");
            self.detach(failed.branch, &self.compositor);
            self.relayout(&mut state);
            return Err(e);
        }
        Ok(video)
    }

    /// A remote video's elements, source first; also its scaler's capsfilter and its label.
    fn video_elements(
        &self,
        prefix: &str,
        source: gst_app::AppSrc,
        codec: VideoCodec,
        name: &str,
    ) -> Result<(Vec<gst::Element>, gst::Element, gst::Element), String> {
        let decoder = codec
            .decoders()
            .iter()
            .copied()
            .find(|d| elements::installed(d))
            .ok_or_else(|| format!("no decoder for {codec:?} (tried {:?})", codec.decoders()))?;
        let mut elements: Vec<gst::Element> = vec![source.upcast()];
        if codec == VideoCodec::H264 {
            elements.push(make(H264PARSE, &format!("{prefix}-parse"))?);
        }
        let decode = make(decoder, &format!("{prefix}-decode"))?;
        // Packets get lost: a decoder that cannot decode asks for a keyframe (see
        // `RemoteVideo::take_keyframe_request`) and shows nothing broken meanwhile. Decode
        // errors never stop the track (max-errors is -1 by default since GStreamer 1.20).
        for property in ["automatic-request-sync-points", "discard-corrupted-frames"] {
            if decode.has_property(property) {
                decode.set_property(property, true);
            }
        }
        elements.push(decode);
        // One element converting and scaling in a single pass (GStreamer 1.22's merge of
        // videoconvert and videoscale). It adds black borders to keep the picture's aspect
        // ratio: a 4:3 screen share is letterboxed, not stretched.
        elements.push(make(VIDEOCONVERTSCALE, &format!("{prefix}-scale"))?);
        let scale_caps = make(CAPSFILTER, &format!("{prefix}-size"))?;
        elements.push(scale_caps.clone());
        let label = gst::ElementFactory::make(TEXTOVERLAY)
            .name(format!("{prefix}-label"))
            .property("text", label_text(name))
            .property("font-desc", self.label_font(false))
            .property("auto-resize", false)
            // A dark box behind the name, so it reads on a white wall or a shared document.
            .property("shaded-background", true)
            .property("shading-value", 120u32)
            .property_from_str("halignment", "left")
            .property_from_str("valignment", "bottom")
            .property("xpad", 8i32)
            .property("ypad", 6i32)
            .build()
            .map_err(|_| elements::not_installed(TEXTOVERLAY))?;
        // A frame the decoder delivers late (a slow start, a CPU spike) would be skipped by
        // the compositor, which drops what ends before its current output, and a track that
        // sends one picture and then waits (a still screen share) would stay black: move such
        // a frame to now, so the newest picture is always shown.
        label
            .static_pad("src")
            .expect("textoverlay has a src pad")
            .add_probe(gst::PadProbeType::BUFFER, |pad, info| {
                let now = pad.parent_element().and_then(|e| e.current_running_time());
                if let (Some(now), Some(buffer)) = (now, info.buffer_mut()) {
                    if buffer.pts().is_some_and(|pts| pts < now) {
                        buffer.make_mut().set_pts(now);
                    }
                }
                gst::PadProbeReturn::Ok
            });
        elements.push(label.clone());
        Ok((elements, scale_caps, label))
    }

    /// Removes a remote video: its tile goes, the others are laid out again, its elements and
    /// compositor pad are released. Its handle's pushes fail from now on.
    pub fn remove_video(&self, id: &str) -> Result<(), String> {
        let mut state = self.lock();
        let at = state
            .videos
            .iter()
            .position(|v| v.tile.id == id)
            .ok_or_else(|| format!("{id}: no such video"))?;
        let video = state.videos.remove(at);
        self.detach(video.branch, &self.compositor);
        self.relayout(&mut state);
        Ok(())
    }

    /// Marks a video as a shared screen (drawn large) or a camera again.
    pub fn set_screen_share(&self, id: &str, screen_share: bool) -> Result<(), String> {
        self.update_tile(id, |tile| tile.screen_share = screen_share)
    }

    /// Marks who speaks: their name changes colour, and when there are more people than room,
    /// speakers stay on screen.
    pub fn set_speaking(&self, id: &str, speaking: bool) -> Result<(), String> {
        self.update_tile(id, |tile| tile.speaking = speaking)?;
        let state = self.lock();
        if let Some(video) = state.videos.iter().find(|v| v.tile.id == id) {
            let colour = if speaking {
                SPEAKING_COLOUR
            } else {
                LABEL_COLOUR
            };
            let font = self.label_font(speaking);
            video.label.change(move |label| {
                label.set_property("color", colour);
                label.set_property("font-desc", font);
            });
        }
        Ok(())
    }

    /// The font of a name on a tile: bold while they speak, which catches the eye more than
    /// the colour alone.
    fn label_font(&self, speaking: bool) -> String {
        let weight = if speaking { " Bold" } else { "" };
        format!("Sans{weight} {}px", self.label_px)
    }

    /// Shows the room screen's own content over (or, not in a call, instead of) the people;
    /// `None` draws nothing of its own. Only what changed is redrawn, from the next frame.
    pub fn set_screen(&self, content: Option<&ScreenContent>) -> Result<(), String> {
        let drawing =
            content.map_or_else(Drawing::default, |c| screen_layout::draw(c, self.screen));
        let mut state = self.lock();
        if state.screen_drawing == drawing && state.overlay.is_some() {
            return Ok(());
        }
        state.screen_drawing = drawing;
        if state.people_hidden == state.screen_drawing.show_people {
            state.people_hidden = !state.screen_drawing.show_people;
            self.relayout(&mut state);
        }
        self.redraw(&mut state)
    }

    /// Covers `id`'s tile with a camera-off card (their camera muted, the track still
    /// published: no new picture comes, and the last one must not stay frozen), or uncovers it.
    pub fn set_camera_off(&self, id: &str, off: bool) -> Result<(), String> {
        let mut state = self.lock();
        let changed = if off {
            state.camera_off.insert(id.to_string())
        } else {
            state.camera_off.remove(id)
        };
        if changed {
            self.redraw(&mut state)?;
        }
        Ok(())
    }

    /// Draws the screen's content and, over the people, the camera-off cards of the tiles
    /// placed now. Only what changed is redrawn.
    fn redraw(&self, state: &mut State) -> Result<(), String> {
        let mut drawing = state.screen_drawing.clone();
        if drawing.show_people {
            let cards = state
                .videos
                .iter()
                .filter(|v| state.camera_off.contains(&v.tile.id))
                .filter_map(|v| {
                    let placement = state.layout.placement(&v.tile.id)?;
                    Some(screen_layout::camera_off_card(
                        placement.rect,
                        &v.tile.name,
                        self.screen,
                    ))
                })
                .take(screen_layout::MAX_CAMERA_OFF_CARDS);
            // Their panels under the screen's own (captions stay readable); their texts after
            // the screen's, which keep the text slots first.
            let (panels, texts): (Vec<_>, Vec<_>) = cards.unzip();
            drawing.panels.splice(0..0, panels);
            drawing.texts.extend(texts);
        }
        if state
            .overlay
            .as_ref()
            .is_some_and(|o| o.drawn() == &drawing)
        {
            return Ok(());
        }
        self.add_panels(state, &drawing.panels)?;
        if let Some(overlay) = state.overlay.as_mut() {
            overlay.draw(&drawing);
        }
        Ok(())
    }

    /// What the screen draws of its own now.
    pub fn drawing(&self) -> Drawing {
        let state = self.lock();
        state
            .overlay
            .as_ref()
            .map(|o| o.drawn().clone())
            .unwrap_or_default()
    }

    /// Takes every remote person off the screen and out of the speaker (a call ended; the
    /// screen goes on).
    pub fn remove_everyone(&self) {
        let mut state = self.lock();
        for video in std::mem::take(&mut state.videos) {
            self.detach(video.branch, &self.compositor);
        }
        for (_, branch) in std::mem::take(&mut state.audios) {
            self.detach(branch, &self.mixer);
        }
        self.relayout(&mut state);
    }

    /// Makes panel inputs until there is one for each of `panels`.
    fn add_panels(&self, state: &mut State, panels: &[Panel]) -> Result<(), String> {
        let Some(overlay) = state.overlay.as_mut() else {
            return Ok(());
        };
        while let Some(panel) = panels.get(overlay.panels()) {
            let elements = overlay::panel_elements(overlay.panels(), self.fps, panel.colour)?;
            let source = elements[0].clone();
            let sinkpad = self.attach(&elements, &self.compositor)?;
            // Invisible until drawn.
            sinkpad.set_property("alpha", 0.0f64);
            let branch = Branch { elements, sinkpad };
            if let Err(e) = start(&branch) {
                self.detach(branch, &self.compositor);
                return Err(format!("screen panel: {e}"));
            }
            overlay.add_panel(PanelInput {
                source: InStream::new(&source, "src"),
                pad: branch.sinkpad,
            });
        }
        Ok(())
    }

    /// Changes the name drawn on a tile.
    pub fn set_name(&self, id: &str, name: &str) -> Result<(), String> {
        let mut state = self.lock();
        let video = state
            .videos
            .iter_mut()
            .find(|v| v.tile.id == id)
            .ok_or_else(|| format!("{id}: no such video"))?;
        video.tile.name = name.into();
        let text = label_text(name);
        video
            .label
            .change(move |label| label.set_property("text", text));
        Ok(())
    }

    /// Shows the room itself as a small picture-in-picture (mirrored, as people expect to see
    /// themselves), or removes it with `None`.
    pub fn set_self_view(&self, source: Option<SelfViewSource>) -> Result<(), String> {
        let mut state = self.lock();
        if let Some(old) = state.self_view.take() {
            self.detach(old, &self.compositor);
        }
        let Some(source) = source else {
            return Ok(());
        };
        let prefix = state.prefix("self", "view");
        let rect = state.layout.self_view;
        let source = match source {
            SelfViewSource::Channel(channel) => gst::ElementFactory::make(INTERVIDEOSRC)
                .property("channel", channel)
                .name(format!("{prefix}-source"))
                .build()
                .map_err(|_| elements::not_installed(INTERVIDEOSRC))?,
            SelfViewSource::TestPattern => gst::ElementFactory::make(VIDEOTESTSRC)
                .property("is-live", true)
                .name(format!("{prefix}-source"))
                .build()
                .map_err(|_| elements::not_installed(VIDEOTESTSRC))?,
        };
        let scale_caps = make(CAPSFILTER, &format!("{prefix}-size"))?;
        scale_caps.set_property("caps", tile_caps(rect.size()));
        let mirror = gst::ElementFactory::make(VIDEOFLIP)
            .name(format!("{prefix}-mirror"))
            .property_from_str("video-direction", "horiz")
            .build()
            .map_err(|_| elements::not_installed(VIDEOFLIP))?;
        let elements = vec![
            source,
            make(VIDEOCONVERTSCALE, &format!("{prefix}-scale"))?,
            scale_caps,
            mirror,
        ];
        let sinkpad = self.attach(&elements, &self.compositor)?;
        place_pad(&sinkpad, rect, SELF_VIEW_ZORDER, !state.people_hidden);
        let branch = Branch { elements, sinkpad };
        if let Err(e) = start(&branch) {
            self.detach(branch, &self.compositor);
            return Err(e);
        }
        state.self_view = Some(branch);
        Ok(())
    }

    /// Adds a remote audio track (Opus), mixed into the speaker.
    pub fn add_audio(&self, id: &str) -> Result<RemoteAudio, String> {
        let mut state = self.lock();
        if state.audios.iter().any(|(a, _)| a == id) {
            return Err(format!("{id}: already has audio"));
        }
        let prefix = state.prefix("audio", id);
        // WebRTC's Opus is always "opus/48000/2"; family 0 means plain mono or stereo.
        let caps = gst::Caps::builder("audio/x-opus")
            .field("channel-mapping-family", 0i32)
            .field("rate", 48000i32)
            .field("channels", AUDIO_CHANNELS as i32)
            .build();
        let source = gst_app::AppSrc::builder()
            .name(format!("{prefix}-source"))
            .caps(&caps)
            .is_live(true)
            .format(gst::Format::Time)
            .build();
        // Packet loss concealment and in-band FEC: what makes lost packets inaudible.
        let decoder = gst::ElementFactory::make(OPUSDEC)
            .name(format!("{prefix}-decode"))
            .property("plc", true)
            .property("use-inband-fec", true)
            .build()
            .map_err(|_| elements::not_installed(OPUSDEC))?;
        let elements = vec![
            source.clone().upcast(),
            decoder,
            make(AUDIOCONVERT, &format!("{prefix}-convert"))?,
            make(AUDIORESAMPLE, &format!("{prefix}-resample"))?,
        ];
        let sinkpad = self.attach(&elements, &self.mixer)?;
        let branch = Branch { elements, sinkpad };
        if let Err(e) = start(&branch) {
            self.detach(branch, &self.mixer);
            return Err(e);
        }
        state.audios.push((id.into(), branch));
        Ok(RemoteAudio {
            source,
            timeline: Timeline::default(),
        })
    }

    /// Removes a remote audio track and releases its mixer pad.
    pub fn remove_audio(&self, id: &str) -> Result<(), String> {
        let mut state = self.lock();
        let at = state
            .audios
            .iter()
            .position(|(a, _)| a == id)
            .ok_or_else(|| format!("{id}: no such audio"))?;
        let (_, branch) = state.audios.remove(at);
        self.detach(branch, &self.mixer);
        Ok(())
    }

    /// The layout on screen now: where each video is, which are hidden, the self-view. A
    /// placement's `needed()` is the resolution worth receiving for it.
    pub fn layout(&self) -> Layout {
        self.lock().layout.clone()
    }

    /// The next composed frame (within `timeout`), with `VideoOutput::AppSink`; none otherwise.
    /// The sink keeps only the newest frame, so this is never more than one frame old.
    pub fn pull_frame(&self, timeout: Duration) -> Option<Frame> {
        let sample = self.frames.as_ref()?.try_pull_sample(clock_time(timeout))?;
        let info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer()?, &info).ok()?;
        let (width, height) = (info.width(), info.height());
        let row = width as usize * 4;
        let stride = frame.plane_stride()[0] as usize;
        let plane = frame.plane_data(0).ok()?;
        let mut data = Vec::with_capacity(row * height as usize);
        for y in 0..height as usize {
            data.extend_from_slice(&plane[y * stride..y * stride + row]);
        }
        Some(Frame {
            width,
            height,
            data,
        })
    }

    /// The next piece of the mixed sound (within `timeout`), with `AudioOutput::AppSink`.
    pub fn pull_audio(&self, timeout: Duration) -> Option<AudioChunk> {
        let sample = self.sound.as_ref()?.try_pull_sample(clock_time(timeout))?;
        let info = gstreamer_audio::AudioInfo::from_caps(sample.caps()?).ok()?;
        let map = sample.buffer()?.map_readable().ok()?;
        let samples = map
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        Some(AudioChunk {
            rate: info.rate(),
            channels: info.channels(),
            samples,
        })
    }

    /// The remote people on the screen, in layout order, with what was decoded of each.
    pub fn people(&self) -> Vec<PersonOnScreen> {
        let state = self.lock();
        state
            .videos
            .iter()
            .map(|v| {
                let size = v.decoded.size.load(Ordering::Relaxed);
                PersonOnScreen {
                    id: v.tile.id.clone(),
                    name: v.tile.name.clone(),
                    decoded_frames: v.decoded.frames.load(Ordering::Relaxed),
                    width: (size >> 32) as u32,
                    height: size as u32,
                    shown: state.layout.placement(&v.tile.id).is_some(),
                    camera_off: state.camera_off.contains(&v.tile.id),
                }
            })
            .collect()
    }

    /// The pipeline's errors, each naming the element that raised it (for room events).
    /// There is one receiver: the first call takes it.
    pub fn take_errors(&self) -> Option<mpsc::UnboundedReceiver<String>> {
        self.errors.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The pipeline, for what the owner must share with other pipelines (its clock and base
    /// time) and for inspection in tests.
    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves pads and elements consistent enough to go on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update_tile(&self, id: &str, change: impl FnOnce(&mut Tile)) -> Result<(), String> {
        let mut state = self.lock();
        let video = state
            .videos
            .iter_mut()
            .find(|v| v.tile.id == id)
            .ok_or_else(|| format!("{id}: no such video"))?;
        change(&mut video.tile);
        self.relayout(&mut state);
        Ok(())
    }

    /// Applies the layout of the current tiles to the compositor pads and the scalers.
    fn relayout(&self, state: &mut State) {
        let tiles: Vec<Tile> = state.videos.iter().map(|v| v.tile.clone()).collect();
        state.layout = layout::layout(self.screen, &tiles);
        for video in &mut state.videos {
            let pad = &video.branch.sinkpad;
            match state.layout.placement(&video.tile.id) {
                Some(placement) => {
                    let rect = placement.rect;
                    if video.size != rect.size() {
                        // The scaler renegotiates on the next frame; until then the compositor
                        // scales the old size into the new rectangle.
                        video
                            .scale_caps
                            .set_property("caps", tile_caps(rect.size()));
                        video.size = rect.size();
                    }
                    place_pad(pad, rect, TILE_ZORDER, !state.people_hidden);
                }
                // Hidden: still decoded (a keyframe may be far away), not drawn. A pad of
                // alpha 0 costs the compositor nothing.
                None => pad.set_property("alpha", 0.0f64),
            }
        }
        if let Some(self_view) = &state.self_view {
            let alpha = if state.people_hidden { 0.0 } else { 1.0 };
            self_view.sinkpad.set_property("alpha", alpha);
        }
        // The camera-off cards follow their tiles.
        if !state.camera_off.is_empty() {
            if let Err(e) = self.redraw(state) {
                tracing::warn!("camera-off cards: {e}");
            }
        }
    }

    fn attach(
        &self,
        elements: &[gst::Element],
        aggregator: &gst::Element,
    ) -> Result<gst::Pad, String> {
        attach(&self.pipeline, elements, aggregator)
    }

    /// Takes a branch out of the running pipeline without disturbing the rest.
    fn detach(&self, branch: Branch, aggregator: &gst::Element) {
        // 1. Hold the branch's output at its last pad, and wait until nothing of it is inside
        //    the aggregator: a frame pushed into a released pad would be a "not linked" error,
        //    and releasing a pad while it answers an allocation query trips GStreamer 1.22.
        //    A frame in flight is taken within one output frame; the timeout is for a stuck
        //    sink, whose pads the release below flushes anyway.
        if let Some(src) = branch.elements.last().and_then(|e| e.static_pad("src")) {
            let (idle, wait) = std::sync::mpsc::sync_channel(1);
            src.add_probe(
                gst::PadProbeType::IDLE
                    | gst::PadProbeType::BLOCK_DOWNSTREAM
                    | gst::PadProbeType::QUERY_DOWNSTREAM,
                move |_, _| {
                    let _ = idle.try_send(());
                    gst::PadProbeReturn::Ok
                },
            );
            let _ = wait.recv_timeout(DETACH_TIMEOUT);
        }
        // 2. Release the aggregator's pad.
        aggregator.release_request_pad(&branch.sinkpad);
        // 3. Stop the branch, last element first: that flushes the held pad, so a streaming
        //    thread waiting there returns, and then the source's NULL can join it. Locked, so
        //    that no state change of the pipeline can start it again meanwhile.
        for element in branch.elements.iter().rev() {
            element.set_locked_state(true);
            let _ = element.set_state(gst::State::Null);
        }
        let _ = self.pipeline.remove_many(&branch.elements);
    }

    /// The first error on the bus, or `fallback` when there was none.
    fn first_error(&self, fallback: &str) -> String {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .and_then(|errors| errors.try_recv().ok())
            .unwrap_or_else(|| fallback.into())
    }
}

impl Drop for Receive {
    fn drop(&mut self) {
        super::shut_down(&self.pipeline);
    }
}

/// The handle a remote video's encoded frames go into. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RemoteVideo {
    source: gst_app::AppSrc,
    timeline: Timeline,
    keyframe_wanted: Arc<AtomicBool>,
    keyframe_seen: Arc<AtomicBool>,
}

impl RemoteVideo {
    /// Watches `source` for the decoder's keyframe requests (upstream force-key-unit events),
    /// from before its first frame.
    fn new(source: gst_app::AppSrc) -> RemoteVideo {
        let keyframe_wanted = Arc::new(AtomicBool::new(false));
        let wanted = keyframe_wanted.clone();
        source
            .static_pad("src")
            .expect("appsrc has a src pad")
            .add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
                let is_request = info
                    .event()
                    .is_some_and(|e| gst_video::UpstreamForceKeyUnitEvent::parse(e).is_ok());
                if is_request {
                    wanted.store(true, Ordering::Relaxed);
                }
                gst::PadProbeReturn::Ok
            });
        RemoteVideo {
            source,
            timeline: Timeline::default(),
            keyframe_wanted,
            keyframe_seen: Arc::default(),
        }
    }

    /// Feeds one encoded frame (an H.264 access unit in Annex B, or a VP8/VP9 frame). Fails
    /// once the video was removed or the pipeline stopped.
    pub fn push(&self, frame: EncodedFrame) -> Result<(), String> {
        // Nothing decodes before the first keyframe (and h264parse drops it silently, without
        // asking): joining mid-stream needs one at once.
        if frame.keyframe {
            self.keyframe_seen.store(true, Ordering::Relaxed);
        } else if !self.keyframe_seen.load(Ordering::Relaxed) {
            self.keyframe_wanted.store(true, Ordering::Relaxed);
        }
        push(&self.source, &self.timeline, frame)
    }

    /// Whether a keyframe is needed since the last call (frames came before any keyframe, or
    /// the decoder asked after a loss): the WebRTC layer answers with a PLI to the sender.
    pub fn take_keyframe_request(&self) -> bool {
        self.keyframe_wanted.swap(false, Ordering::Relaxed)
    }
}

/// The handle a remote audio track's Opus packets go into. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RemoteAudio {
    source: gst_app::AppSrc,
    timeline: Timeline,
}

impl RemoteAudio {
    /// Feeds one Opus packet. Fails once the track was removed or the pipeline stopped.
    pub fn push(&self, packet: EncodedFrame) -> Result<(), String> {
        push(&self.source, &self.timeline, packet)
    }
}

fn push(source: &gst_app::AppSrc, timeline: &Timeline, frame: EncodedFrame) -> Result<(), String> {
    let now = source
        .current_running_time()
        .ok_or_else(|| format!("{}: not playing", source.name()))?;
    let (pts, discont) = timeline.map(frame.pts, Duration::from_nanos(now.nseconds()));
    let mut buffer = gst::Buffer::from_mut_slice(frame.data);
    {
        let buffer = buffer.get_mut().expect("a new buffer is writable");
        buffer.set_pts(clock_time(pts));
        buffer.set_duration(frame.duration.map(clock_time));
        if !frame.keyframe {
            buffer.set_flags(gst::BufferFlags::DELTA_UNIT);
        }
        if discont {
            buffer.set_flags(gst::BufferFlags::DISCONT);
        }
    }
    source
        .push_buffer(buffer)
        .map(|_| ())
        .map_err(|e| format!("{}: {e:?}", source.name()))
}

/// Maps a track's timestamps (the sender's clock) onto this pipeline's running time.
///
/// The first frame is due when it arrives; later ones keep the sender's spacing, so a burst
/// (frames queued in the network) still plays at the right pace. A frame that arrives too late
/// for its slot (more than `INPUT_LATENCY` behind) or absurdly early (a jump in the sender's
/// clock) starts a new mapping, and its buffer is marked as a discontinuity. Pacing and
/// reordering are the WebRTC layer's job (its jitter buffer); this only keeps time.
#[derive(Debug, Clone, Default)]
struct Timeline {
    /// Running time minus the sender's time, in nanoseconds, once known.
    offset: Arc<Mutex<Option<i128>>>,
}

impl Timeline {
    /// The running time `pts` is due at, and whether the mapping restarted.
    fn map(&self, pts: Duration, now: Duration) -> (Duration, bool) {
        let (pts, now) = (pts.as_nanos() as i128, now.as_nanos() as i128);
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = *offset {
            let due = pts + known;
            let late = due + (INPUT_LATENCY.as_nanos() as i128) < now;
            let early = due > now + MAX_EARLY.as_nanos() as i128;
            if !late && !early {
                return (Duration::from_nanos(due as u64), false);
            }
        }
        *offset = Some(now - pts);
        (Duration::from_nanos(now as u64), true)
    }
}

/// The compositor, the screen's text elements (`overlay::text_slots`) and the screen sink,
/// linked and added to `pipeline`.
fn build_video_output(
    pipeline: &gst::Pipeline,
    settings: &ReceiveSettings,
) -> Result<(gst::Element, Option<gst_app::AppSink>, Vec<gst::Element>), String> {
    let compositor = aggregator(COMPOSITOR)?;
    compositor.set_property_from_str("background", "black");
    // The sink that tests read takes RGBA straight from the compositor; screens get I420,
    // the cheapest to blend, converted only if the sink wants something else.
    let format = match settings.video_output {
        VideoOutput::AppSink => "RGBA",
        _ => "I420",
    };
    let caps = caps_filter(
        "screen-caps",
        gst::Caps::builder("video/x-raw")
            .field("format", format)
            .field("width", settings.screen.width as i32)
            .field("height", settings.screen.height as i32)
            .field("framerate", gst::Fraction::new(settings.fps as i32, 1))
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build(),
    )?;
    let texts = overlay::text_slots()?;
    let mut elements = vec![compositor.clone(), caps];
    elements.extend(texts.iter().cloned());
    let mut frames = None;
    match &settings.video_output {
        VideoOutput::Kms {
            connector_id,
            driver,
        } => {
            elements.push(make(VIDEOCONVERT, "screen-convert")?);
            let sink = make(KMSSINK, "screen")?;
            if let Some(id) = connector_id {
                sink.set_property("connector-id", *id as i32);
            }
            if let Some(driver) = driver {
                sink.set_property("driver-name", driver.as_str());
            }
            elements.push(sink);
        }
        VideoOutput::Window => {
            // Without a desktop, autovideosink still tries the desktop sinks, and some of them
            // (waylandsink without XDG_RUNTIME_DIR) crash the process instead of failing.
            if !has_desktop() {
                return Err("no desktop to open a window on (neither DISPLAY nor \
                            WAYLAND_DISPLAY is set): use [screen] output = \"kms\" or \"none\""
                    .into());
            }
            elements.push(make(VIDEOCONVERT, "screen-convert")?);
            elements.push(make(AUTOVIDEOSINK, "screen")?);
        }
        VideoOutput::AppSink => {
            // Only the newest frame is kept: a reader always gets the current screen, and a
            // pipeline nobody reads does not fill memory.
            frames = Some(push_appsink(&mut elements, "screen", 1));
        }
    }
    add_output(pipeline, &elements, "screen output")?;

    // The clock: a tiny black picture, never drawn (alpha 0: the compositor skips it).
    let background = live_source(VIDEOTESTSRC, "background")?;
    background.set_property_from_str("pattern", "black");
    let background_caps = caps_filter(
        "background-caps",
        gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", 16i32)
            .field("height", 16i32)
            .field("framerate", gst::Fraction::new(settings.fps as i32, 1))
            .build(),
    )?;
    attach(pipeline, &[background, background_caps], &compositor)
        .map_err(|e| format!("screen background: {e}"))?
        .set_property("alpha", 0.0f64);
    Ok((compositor, frames, texts))
}

/// A desktop session is there to open a window on (X11 or Wayland).
pub fn has_desktop() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
}

/// The mixer, the echo probe and the speaker sink, linked and added to `pipeline`.
fn build_audio_output(
    pipeline: &gst::Pipeline,
    settings: &ReceiveSettings,
) -> Result<(gst::Element, Option<gst_app::AppSink>), String> {
    let mixer = aggregator(AUDIOMIXER)?;
    // What webrtcechoprobe takes: interleaved S16LE at the echo canceller's rate.
    let caps = caps_filter(
        "speaker-caps",
        gst::Caps::builder("audio/x-raw")
            .field("format", "S16LE")
            .field("layout", "interleaved")
            .field("rate", settings.audio_rate as i32)
            .field("channels", AUDIO_CHANNELS as i32)
            .build(),
    )?;
    let mut elements = vec![mixer.clone(), caps];
    if let Some(name) = &settings.echo_probe {
        elements.push(make(WEBRTCECHOPROBE, name)?);
    }
    let mut sound = None;
    match &settings.audio_output {
        AudioOutput::Alsa { device } => {
            // A 60 ms device buffer instead of the default 200 ms: every millisecond of it is
            // mouth-to-ear delay, and echo tail for the canceller.
            elements.push(
                gst::ElementFactory::make(ALSASINK)
                    .name("speaker")
                    .property("device", device)
                    .property("buffer-time", 60_000i64)
                    .property("latency-time", 10_000i64)
                    .build()
                    .map_err(|_| elements::not_installed(ALSASINK))?,
            );
        }
        AudioOutput::Auto => elements.push(make(AUTOAUDIOSINK, "speaker")?),
        AudioOutput::Discard => elements.push(
            gst::ElementFactory::make(FAKESINK)
                .name("speaker")
                .property("sync", true)
                .build()
                .map_err(|_| elements::not_installed(FAKESINK))?,
        ),
        AudioOutput::AppSink => {
            // About two seconds of 10 ms buffers; the oldest go when nobody reads.
            sound = Some(push_appsink(&mut elements, "speaker", 200));
        }
    }
    add_output(pipeline, &elements, "speaker output")?;

    // The clock: silence, in 10 ms buffers like the mixer's.
    let silence = live_source(AUDIOTESTSRC, "silence")?;
    silence.set_property_from_str("wave", "silence");
    silence.set_property("samplesperbuffer", (settings.audio_rate / 100) as i32);
    attach(pipeline, &[silence], &mixer).map_err(|e| format!("speaker silence: {e}"))?;
    Ok((mixer, sound))
}

/// Ends an output's `elements` with an appsink (`pull_frame`, `pull_audio`), which it returns:
/// it keeps the newest `max_buffers` buffers (the oldest go when nobody reads) and hands them
/// over at once, never waiting on the clock.
fn push_appsink(
    elements: &mut Vec<gst::Element>,
    name: &str,
    max_buffers: u32,
) -> gst_app::AppSink {
    let sink = gst_app::AppSink::builder()
        .name(name)
        .max_buffers(max_buffers)
        .drop(true)
        .sync(false)
        .build();
    elements.push(sink.clone().upcast());
    sink
}

/// Adds an output's `elements` to `pipeline` and links them in a row; errors name `output`.
fn add_output(
    pipeline: &gst::Pipeline,
    elements: &[gst::Element],
    output: &str,
) -> Result<(), String> {
    pipeline
        .add_many(elements)
        .and_then(|()| gst::Element::link_many(elements))
        .map_err(|e| format!("{output}: {e}"))
}

/// Adds `elements` to `pipeline`, links them in a row and to a new request pad of
/// `aggregator`, which it returns. On failure, leaves the pipeline as it was.
fn attach(
    pipeline: &gst::Pipeline,
    elements: &[gst::Element],
    aggregator: &gst::Element,
) -> Result<gst::Pad, String> {
    pipeline
        .add_many(elements)
        .map_err(|e| format!("adding elements: {e}"))?;
    let sinkpad = aggregator.request_pad_simple("sink_%u");
    let linked = gst::Element::link_many(elements)
        .map_err(|e| format!("linking {}: {e}", elements[0].name()))
        .and_then(|()| {
            let pad = sinkpad
                .clone()
                .ok_or_else(|| format!("{}: no free input", aggregator.name()))?;
            let last = elements.last().expect("a branch has elements");
            let src = last.static_pad("src").expect("a filter has a src pad");
            src.link(&pad)
                .map(|_| pad)
                .map_err(|e| format!("linking {} to {}: {e:?}", last.name(), aggregator.name()))
        });
    if linked.is_err() {
        if let Some(pad) = &sinkpad {
            aggregator.release_request_pad(pad);
        }
        let _ = pipeline.remove_many(elements);
    }
    linked
}

/// A compositor or audiomixer for a live pipeline whose tracks come and go.
///
/// Each has a live source of its own (black, silence): it outputs from the start, whether
/// anyone is there or not, so the screen and the speaker (and the echo probe) see one
/// continuous stream. Its output starts at that source's first buffer, the running time now:
/// on the echo timeline shared with the send pipeline, time did not start at zero
/// (`force-live` would start there, and make every frame since then at once).
fn aggregator(factory: &str) -> Result<gst::Element, String> {
    gst::ElementFactory::make(factory)
        .name(factory)
        .property_from_str("start-time-selection", "first")
        .property("ignore-inactive-pads", true)
        .property("latency", clock_time(INPUT_LATENCY))
        .build()
        .map_err(|_| elements::not_installed(factory))
}

/// Starts a newly attached branch, downstream first so no element pushes into a stopped one.
fn start(branch: &Branch) -> Result<(), String> {
    for element in branch.elements.iter().rev() {
        element
            .sync_state_with_parent()
            .map_err(|_| format!("{}: does not start", element.name()))?;
    }
    Ok(())
}

/// Puts a compositor pad at `rect`, drawn or not (alpha 0 costs the compositor nothing).
fn place_pad(pad: &gst::Pad, rect: Rect, zorder: u32, visible: bool) {
    pad.set_property("xpos", rect.x as i32);
    pad.set_property("ypos", rect.y as i32);
    pad.set_property("width", rect.width as i32);
    pad.set_property("height", rect.height as i32);
    pad.set_property("zorder", zorder);
    pad.set_property("alpha", if visible { 1.0f64 } else { 0.0 });
}

/// Raw video at exactly `size`, square pixels (so the scaler letterboxes other shapes), in
/// I420: what decoders give (the scaler then only scales), what textoverlay can shade and the
/// compositor blends cheaply. Left open, the scaler would pick a costly 10-bit 4:4:4 format.
fn tile_caps(size: Size) -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", size.width.max(2) as i32)
        .field("height", size.height.max(2) as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build()
}

/// textoverlay reads Pango markup: a name like "R&D <room 2>" must be escaped to show as is.
pub(super) fn label_text(name: &str) -> String {
    gst::glib::markup_escape_text(name).to_string()
}

/// A live test source (`videotestsrc`, `audiotestsrc`): what an aggregator's output keeps time
/// by from the start.
fn live_source(factory: &str, name: &str) -> Result<gst::Element, String> {
    let source = make(factory, name)?;
    source.set_property("is-live", true);
    Ok(source)
}

pub(super) fn caps_filter(name: &str, caps: gst::Caps) -> Result<gst::Element, String> {
    gst::ElementFactory::make(CAPSFILTER)
        .name(name)
        .property("caps", caps)
        .build()
        .map_err(|_| elements::not_installed(CAPSFILTER))
}

fn clock_time(duration: Duration) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(duration.as_nanos() as u64)
}

impl State {
    /// A unique, readable prefix for a branch's element names, e.g. `video3-alice`: bus errors
    /// name the element, so they say whose track failed.
    fn prefix(&mut self, kind: &str, id: &str) -> String {
        self.serial += 1;
        let id: String = id
            .chars()
            .take(24)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{kind}{}-{id}", self.serial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn timeline_keeps_the_senders_spacing() {
        let t = Timeline::default();
        assert_eq!(t.map(1000 * MS, 5000 * MS), (5000 * MS, true));
        // A burst: frames queued in the network arrive together and still play 33 ms apart.
        assert_eq!(t.map(1033 * MS, 5001 * MS), (5033 * MS, false));
        assert_eq!(t.map(1066 * MS, 5002 * MS), (5066 * MS, false));
        // A little late (within INPUT_LATENCY): kept in place.
        assert_eq!(t.map(1100 * MS, 5150 * MS), (5100 * MS, false));
    }

    #[test]
    fn timeline_starts_over_when_too_late_or_too_early() {
        let t = Timeline::default();
        t.map(Duration::ZERO, 1000 * MS);
        assert_eq!(t.map(100 * MS, 2000 * MS), (2000 * MS, true));
        assert_eq!(t.map(133 * MS, 2001 * MS), (2033 * MS, false));
        // The sender's clock jumps ten seconds ahead.
        assert_eq!(t.map(10_133 * MS, 2040 * MS), (2040 * MS, true));
    }

    #[test]
    fn element_names_are_unique_and_tame() {
        let mut state = State::default();
        assert_eq!(state.prefix("video", "alice"), "video1-alice");
        assert_eq!(state.prefix("video", "PA_x/y:z"), "video2-PA_x_y_z");
        assert_eq!(state.prefix("audio", "alice"), "audio3-alice");
    }

    #[test]
    fn handles_can_go_to_other_threads() {
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<Receive>();
        send_and_sync::<RemoteVideo>();
        send_and_sync::<RemoteAudio>();
    }

    #[test]
    fn names_are_escaped_for_the_label() {
        assert_eq!(label_text("R&D <2>"), "R&amp;D &lt;2&gt;");
    }
}
