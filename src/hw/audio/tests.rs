//! Card classification and choice on descriptions of real devices (tests/data/sound).

use super::*;

/// Loads a card description as ALSA reports it and classifies it as the backend does.
fn card(file: &str) -> SoundCard {
    #[derive(serde::Deserialize)]
    struct Raw {
        index: i32,
        id: String,
        name: String,
        longname: String,
        driver: String,
        capture: Vec<Pcm>,
        playback: Vec<Pcm>,
        mixer: Vec<MixerControl>,
    }
    let path = format!("{}/tests/data/sound/{file}", env!("CARGO_MANIFEST_DIR"));
    let raw: Raw = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let (kind, processed_channel) = classify(
        &raw.driver,
        &raw.id,
        &raw.name,
        &raw.longname,
        &raw.capture,
        &raw.playback,
    );
    SoundCard {
        index: raw.index,
        id: raw.id,
        name: raw.name,
        longname: raw.longname,
        driver: raw.driver,
        kind,
        processed_channel,
        capture: raw.capture,
        playback: raw.playback,
        mixer: raw.mixer,
    }
}

#[test]
fn cards_are_recognised() {
    assert_eq!(
        (
            card("respeaker-6ch.json").kind,
            card("respeaker-6ch.json").processed_channel
        ),
        (CardKind::MicArray, Some(0))
    );
    assert_eq!(card("jabra-speak-510.json").kind, CardKind::Speakerphone);
    assert_eq!(card("pi-hdmi.json").kind, CardKind::Hdmi);
    assert_eq!(card("snd-aloop.json").kind, CardKind::Virtual);
    assert_eq!(card("usb-mic.json").kind, CardKind::Usb);
}

#[test]
fn an_unknown_array_is_recognised_by_its_channel_count() {
    let (kind, channel) = classify(
        "USB-Audio",
        "X",
        "Some Array",
        "Some Array at usb-1",
        &[Pcm {
            name: "hw:CARD=X,DEV=0".into(),
            device: 0,
            description: String::new(),
            channels_min: 4,
            channels_max: 4,
            rate_min: 16000,
            rate_max: 16000,
            busy: false,
        }],
        &[],
    );
    assert_eq!((kind, channel), (CardKind::MicArray, None));
}

#[test]
fn a_speakerphone_is_used_both_ways_and_its_echo_canceller_trusted() {
    let cards = [
        card("pi-hdmi.json"),
        card("respeaker-6ch.json"),
        card("jabra-speak-510.json"),
    ];
    let mic = choose(&cards, Direction::Capture).unwrap();
    let speaker = choose(&cards, Direction::Playback).unwrap();
    assert_eq!(mic.pcm, "hw:CARD=USB,DEV=0");
    assert_eq!(speaker.pcm, "hw:CARD=USB,DEV=0");
    assert!(mic.echo_cancelled_on_board);
    assert_eq!(mic.channels, vec![0]);
}

#[test]
fn a_mic_array_captures_its_processed_channel_and_hdmi_plays() {
    let cards = [
        card("snd-aloop.json"),
        card("pi-hdmi.json"),
        card("respeaker-6ch.json"),
    ];
    let mic = choose(&cards, Direction::Capture).unwrap();
    assert_eq!(
        (mic.pcm.as_str(), mic.channels.clone()),
        ("hw:CARD=ArrayUAC10,DEV=0", vec![0])
    );
    assert!(mic.reason.contains("processed channel 0"), "{}", mic.reason);
    let speaker = choose(&cards, Direction::Playback).unwrap();
    assert_eq!(speaker.pcm, "hw:CARD=vc4hdmi0,DEV=0");
    assert_eq!(speaker.kind, CardKind::Hdmi);
}

#[test]
fn a_plain_usb_mic_is_downmixed_from_what_it_has() {
    let mic = choose(&[card("usb-mic.json")], Direction::Capture).unwrap();
    assert_eq!(mic.channels, vec![0]);
    assert!(!mic.echo_cancelled_on_board);
}

#[test]
fn virtual_cards_are_last_resort_and_say_so() {
    let mic = choose(&[card("snd-aloop.json")], Direction::Capture).unwrap();
    assert_eq!(mic.pcm, "hw:CARD=Loopback,DEV=0");
    assert!(mic.reason.contains("virtual"), "{}", mic.reason);
    assert_eq!(choose(&[card("pi-hdmi.json")], Direction::Capture), None);
}

#[test]
fn level_meter() {
    assert_eq!(rms_dbfs(&[]), -120.0);
    assert_eq!(rms_dbfs(&[0; 480]), -120.0);
    let sine: Vec<i16> = (0..48_000)
        .map(|i| {
            (32767.0 * (i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 48_000.0).sin()) as i16
        })
        .collect();
    assert!(
        (rms_dbfs(&sine) - -3.01).abs() < 0.05,
        "{}",
        rms_dbfs(&sine)
    );
    let quiet: Vec<i16> = sine.iter().map(|s| s / 10).collect();
    assert!(
        (rms_dbfs(&quiet) - -23.01).abs() < 0.1,
        "{}",
        rms_dbfs(&quiet)
    );
}
