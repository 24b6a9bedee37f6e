//! HID report descriptors (what a USB speakerphone says of its reports, read from hidraw):
//! parsed, then every field read and written in a report of the length the descriptor gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salle::hw::hid::descriptor::{self, ReportKind};
use salle::hw::hid::speakerphone::Telephony;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = descriptor::parse(data) else {
        return;
    };
    for field in &parsed.fields {
        let len = parsed.report_len(field.kind, field.report_id);
        let mut report = vec![0u8; len];
        field.write(&mut report, u32::MAX);
        if field.kind == ReportKind::Input {
            let _ = field.read(&report);
        }
    }
    if let Some(telephony) = Telephony::of(&parsed) {
        let _ = telephony.led_report(true);
        let _ = telephony.led_report(false);
        let _ = telephony.button_value(data);
    }
});
