//! HID report descriptors: where each usage sits in the device's reports.
//!
//! A report descriptor is a list of short items (HID 1.11, section 6.2.2): global items set
//! state that lasts (usage page, report size and count, report id; push and pop save and
//! restore it), local items describe the next main item only (usages, usage ranges), and main
//! items (Input, Output, Feature) lay out fields one after the other in the report of the
//! current report id. Long items carry vendor data and are skipped. We keep only what a room
//! needs from a device: for each variable field, its usage, its report and its bits.

use std::collections::HashMap;

/// The three kinds of reports a main item can add to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportKind {
    /// Device to host (button presses).
    Input,
    /// Host to device (LEDs).
    Output,
    Feature,
}

/// A usage page and usage id, e.g. Telephony (0x0B) Phone Mute (0x2F).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Usage {
    pub page: u16,
    pub id: u16,
}

impl Usage {
    pub const fn new(page: u16, id: u16) -> Usage {
        Usage { page, id }
    }

    fn from_extended(value: u32) -> Usage {
        Usage::new((value >> 16) as u16, value as u16)
    }
}

/// One variable field of a report: a single usage's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub kind: ReportKind,
    pub usage: Usage,
    /// 0 when the device does not number its reports.
    pub report_id: u8,
    /// From the start of the report's data, after the report id byte when there is one.
    pub bit_offset: u32,
    pub bit_size: u32,
    /// Relative fields report changes (a 1 per press), absolute ones a state (1 while held).
    pub relative: bool,
}

impl Field {
    /// The field's value in `data` (a report without its id byte); None when the report is
    /// too short to hold it.
    pub fn read(&self, data: &[u8]) -> Option<u32> {
        let mut value = 0u32;
        for i in 0..self.bit_size.min(32) {
            let bit = self.bit_offset + i;
            let byte = *data.get(bit as usize / 8)?;
            if byte >> (bit % 8) & 1 == 1 {
                value |= 1 << i;
            }
        }
        Some(value)
    }

    /// Writes `value` into the field's bits of `data` (a report without its id byte).
    pub fn write(&self, data: &mut [u8], value: u32) {
        for i in 0..self.bit_size.min(32) {
            let bit = self.bit_offset + i;
            if let Some(byte) = data.get_mut(bit as usize / 8) {
                let mask = 1u8 << (bit % 8);
                if value >> i & 1 == 1 {
                    *byte |= mask;
                } else {
                    *byte &= !mask;
                }
            }
        }
    }
}

/// What a report descriptor says, as far as the room cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descriptor {
    pub fields: Vec<Field>,
    /// The device puts a report id byte before every report.
    pub numbered: bool,
    /// The length of each report in bits, by kind and report id.
    report_bits: HashMap<(ReportKind, u8), u32>,
}

impl Descriptor {
    /// The first field of `kind` reports that carries `usage`.
    pub fn find(&self, kind: ReportKind, usage: Usage) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.kind == kind && f.usage == usage)
    }

    /// The length in bytes of report `report_id` of `kind`, id byte not included.
    pub fn report_len(&self, kind: ReportKind, report_id: u8) -> usize {
        let bits = self.report_bits.get(&(kind, report_id)).copied();
        bits.unwrap_or(0).div_ceil(8) as usize
    }
}

/// Global items: the state push and pop save and restore.
#[derive(Debug, Clone, Copy, Default)]
struct Globals {
    usage_page: u16,
    report_size: u32,
    report_count: u32,
    report_id: u8,
}

/// Local items, reset after each main item.
#[derive(Debug, Default)]
struct Locals {
    usages: Vec<Usage>,
    /// Whether each usage gave its page (a 4-byte, "extended" usage): a Usage Page item
    /// between the usages and their main item applies only to the others.
    extended: Vec<bool>,
    minimum: Option<(u32, bool)>,
    /// A Usage Page item came after some of the usages.
    page_after_usage: bool,
}

/// Beyond these, a descriptor is broken or hostile (the kernel's own limits are similar).
const MAX_USAGES: usize = 12_288;
const MAX_STACK: usize = 16;
const MAX_REPORT_BITS: u32 = 16_384 * 8;

/// Parses a report descriptor; an error says what is wrong and at which byte.
pub fn parse(bytes: &[u8]) -> Result<Descriptor, String> {
    let mut descriptor = Descriptor::default();
    let mut globals = Globals::default();
    let mut stack: Vec<Globals> = Vec::new();
    let mut locals = Locals::default();
    let mut at = 0;
    while at < bytes.len() {
        let prefix = bytes[at];
        if prefix == 0xFE {
            // Long item: size, tag, then that many data bytes.
            let size = *bytes
                .get(at + 1)
                .ok_or_else(|| format!("byte {at}: truncated long item"))?;
            at += 3 + size as usize;
            if at > bytes.len() {
                return Err("truncated long item at the end".into());
            }
            continue;
        }
        let size = [0, 1, 2, 4][(prefix & 3) as usize];
        let data = bytes
            .get(at + 1..at + 1 + size)
            .ok_or_else(|| format!("byte {at}: item 0x{prefix:02x} is truncated"))?;
        let unsigned = data
            .iter()
            .rev()
            .fold(0u32, |value, &b| value << 8 | u32::from(b));
        let item_at = at;
        at += 1 + size;
        let kind = (prefix >> 2) & 3;
        let tag = prefix >> 4;
        match (kind, tag) {
            // Main items.
            (0, 8 | 9 | 0xB) => {
                let report = match tag {
                    8 => ReportKind::Input,
                    9 => ReportKind::Output,
                    _ => ReportKind::Feature,
                };
                if locals.page_after_usage {
                    for (usage, extended) in locals.usages.iter_mut().zip(&locals.extended) {
                        if !extended {
                            usage.page = globals.usage_page;
                        }
                    }
                }
                add_fields(&mut descriptor, &globals, &locals, report, unsigned)
                    .map_err(|e| format!("byte {item_at}: {e}"))?;
                locals = Locals::default();
            }
            // Collection, End Collection: the layout does not depend on them.
            (0, _) => locals = Locals::default(),
            // Global items.
            (1, 0) => {
                globals.usage_page = unsigned as u16;
                locals.page_after_usage |= !locals.usages.is_empty();
            }
            (1, 7) => globals.report_size = unsigned,
            (1, 8) => {
                if unsigned == 0 || unsigned > 255 {
                    return Err(format!("byte {item_at}: report id {unsigned} is invalid"));
                }
                globals.report_id = unsigned as u8;
                descriptor.numbered = true;
            }
            (1, 9) => globals.report_count = unsigned,
            (1, 10) => {
                if stack.len() == MAX_STACK {
                    return Err(format!("byte {item_at}: push nested too deep"));
                }
                stack.push(globals);
            }
            (1, 11) => {
                globals = stack
                    .pop()
                    .ok_or_else(|| format!("byte {item_at}: pop without push"))?;
            }
            // Logical and physical extents, units: not needed to find fields.
            (1, _) => {}
            // Local items.
            (2, 0) => add_usage(&mut locals, &globals, unsigned, size == 4)?,
            (2, 1) => locals.minimum = Some((unsigned, size == 4)),
            (2, 2) => {
                let (minimum, extended) = locals
                    .minimum
                    .take()
                    .ok_or_else(|| format!("byte {item_at}: usage maximum without minimum"))?;
                let (low, high) = if extended || size == 4 {
                    (minimum, unsigned)
                } else {
                    let page = u32::from(globals.usage_page) << 16;
                    (page | minimum, page | unsigned)
                };
                if high < low || (high - low) as usize >= MAX_USAGES {
                    return Err(format!("byte {item_at}: usage range {low:#x}..{high:#x}"));
                }
                for usage in low..=high {
                    add_usage(&mut locals, &globals, usage, true)?;
                }
            }
            // Designators, strings, delimiters.
            (2, _) => {}
            _ => return Err(format!("byte {item_at}: reserved item 0x{prefix:02x}")),
        }
    }
    Ok(descriptor)
}

fn add_usage(
    locals: &mut Locals,
    globals: &Globals,
    value: u32,
    extended: bool,
) -> Result<(), String> {
    if locals.usages.len() == MAX_USAGES {
        return Err(format!("more than {MAX_USAGES} usages for one item"));
    }
    locals.usages.push(if extended {
        Usage::from_extended(value)
    } else {
        Usage::new(globals.usage_page, value as u16)
    });
    locals.extended.push(extended);
    Ok(())
}

/// Lays out the fields of one Input, Output or Feature item after those already in its report.
fn add_fields(
    descriptor: &mut Descriptor,
    globals: &Globals,
    locals: &Locals,
    kind: ReportKind,
    flags: u32,
) -> Result<(), String> {
    let (size, count) = (globals.report_size, globals.report_count);
    let bits = size
        .checked_mul(count)
        .filter(|&b| b <= MAX_REPORT_BITS)
        .ok_or_else(|| format!("a field of {count} x {size} bits is too large"))?;
    let report_bits = descriptor
        .report_bits
        .entry((kind, globals.report_id))
        .or_insert(0);
    let start = *report_bits;
    *report_bits += bits;
    if *report_bits > MAX_REPORT_BITS {
        return Err(format!("report {} is too long", globals.report_id));
    }
    let constant = flags & 1 != 0;
    let variable = flags & 2 != 0;
    // Constant fields are padding; arrays (the value is the index of the usage that is on)
    // are not used by the room.
    if constant || !variable || size == 0 {
        return Ok(());
    }
    for i in 0..count {
        // With fewer usages than fields, the last usage repeats (HID 1.11, 6.2.2.8).
        let Some(&usage) = locals
            .usages
            .get(i as usize)
            .or_else(|| locals.usages.last())
        else {
            return Ok(());
        };
        descriptor.fields.push(Field {
            kind,
            usage,
            report_id: globals.report_id,
            bit_offset: start + i * size,
            bit_size: size,
            relative: flags & 4 != 0,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHONE_MUTE: Usage = Usage::new(0x0B, 0x2F);
    const HOOK_SWITCH: Usage = Usage::new(0x0B, 0x20);
    const LED_MUTE: Usage = Usage::new(0x08, 0x09);
    const LED_OFF_HOOK: Usage = Usage::new(0x08, 0x17);
    const LED_RING: Usage = Usage::new(0x08, 0x18);
    const VOLUME_UP: Usage = Usage::new(0x0C, 0xE9);

    /// Shaped like a USB speakerphone's: a consumer-control collection (volume, report 1) and
    /// a telephony headset collection (report 2: hook switch, mute, a vendor-ish button
    /// usage range, padding; LEDs off-hook, mute, ring in its output report).
    const SPEAKERPHONE: &[u8] = &[
        0x05, 0x0C, //       Usage Page (Consumer)
        0x09, 0x01, //       Usage (Consumer Control)
        0xA1, 0x01, //       Collection (Application)
        0x85, 0x01, //         Report ID (1)
        0x15, 0x00, //         Logical Minimum (0)
        0x25, 0x01, //         Logical Maximum (1)
        0x09, 0xE9, //         Usage (Volume Increment)
        0x09, 0xEA, //         Usage (Volume Decrement)
        0x75, 0x01, //         Report Size (1)
        0x95, 0x02, //         Report Count (2)
        0x81, 0x06, //         Input (Data, Variable, Relative)
        0x95, 0x06, //         Report Count (6)
        0x81, 0x01, //         Input (Constant)
        0xC0, //             End Collection
        0x05, 0x0B, //       Usage Page (Telephony)
        0x09, 0x05, //       Usage (Headset)
        0xA1, 0x01, //       Collection (Application)
        0x85, 0x02, //         Report ID (2)
        0x15, 0x00, //         Logical Minimum (0)
        0x25, 0x01, //         Logical Maximum (1)
        0x09, 0x20, //         Usage (Hook Switch)
        0x09, 0x2F, //         Usage (Phone Mute)
        0x75, 0x01, //         Report Size (1)
        0x95, 0x02, //         Report Count (2)
        0x81, 0x22, //         Input (Data, Variable, Absolute, No Preferred)
        0x19, 0xB0, //         Usage Minimum (Phone Key 0)
        0x29, 0xB3, //         Usage Maximum (Phone Key 3)
        0x95, 0x04, //         Report Count (4)
        0x81, 0x02, //         Input (Data, Variable, Absolute)
        0x95, 0x02, //         Report Count (2)
        0x81, 0x01, //         Input (Constant)
        0x05, 0x08, //         Usage Page (LEDs)
        0x09, 0x17, //         Usage (Off-Hook)
        0x09, 0x09, //         Usage (Mute)
        0x09, 0x18, //         Usage (Ring)
        0x95, 0x03, //         Report Count (3)
        0x91, 0x22, //         Output (Data, Variable, Absolute, No Preferred)
        0x95, 0x05, //         Report Count (5)
        0x91, 0x01, //         Output (Constant)
        0xC0, //             End Collection
    ];

    #[test]
    fn finds_mute_button_and_led_in_numbered_reports() {
        let d = parse(SPEAKERPHONE).unwrap();
        assert!(d.numbered);
        let mute = d.find(ReportKind::Input, PHONE_MUTE).unwrap();
        assert_eq!((mute.report_id, mute.bit_offset, mute.bit_size), (2, 1, 1));
        assert!(!mute.relative);
        let hook = d.find(ReportKind::Input, HOOK_SWITCH).unwrap();
        assert_eq!((hook.report_id, hook.bit_offset), (2, 0));
        let led = d.find(ReportKind::Output, LED_MUTE).unwrap();
        assert_eq!((led.report_id, led.bit_offset, led.bit_size), (2, 1, 1));
        let ring = d.find(ReportKind::Output, LED_RING).unwrap();
        assert_eq!(ring.bit_offset, 2);
        // Report 1's volume keys are relative and in their own report.
        let up = d.find(ReportKind::Input, VOLUME_UP).unwrap();
        assert_eq!((up.report_id, up.bit_offset, up.relative), (1, 0, true));
        // Phone Mute is an input, never an output.
        assert_eq!(d.find(ReportKind::Output, PHONE_MUTE), None);
        assert_eq!(d.report_len(ReportKind::Input, 2), 1);
        assert_eq!(d.report_len(ReportKind::Output, 2), 1);
        assert_eq!(d.report_len(ReportKind::Output, 1), 0);
    }

    #[test]
    fn usage_ranges_give_each_field_its_usage() {
        let d = parse(SPEAKERPHONE).unwrap();
        for (i, id) in (0xB0..=0xB3).enumerate() {
            let key = d.find(ReportKind::Input, Usage::new(0x0B, id)).unwrap();
            assert_eq!(key.bit_offset, 2 + i as u32, "phone key {id:#x}");
        }
        assert_eq!(d.find(ReportKind::Input, Usage::new(0x0B, 0xB4)), None);
    }

    /// No Report ID anywhere: one report of each kind, no id byte; a 16-bit field before the
    /// mute button; the last usage repeats for extra fields.
    #[test]
    fn a_descriptor_without_report_ids() {
        let d = parse(&[
            0x05, 0x0B, // Usage Page (Telephony)
            0x09, 0x05, // Usage (Headset)
            0xA1, 0x01, // Collection (Application)
            0x09, 0x07, //   Usage (Programmable Button)
            0x75, 0x10, //   Report Size (16)
            0x95, 0x01, //   Report Count (1)
            0x81, 0x02, //   Input (Data, Variable)
            0x09, 0x2F, //   Usage (Phone Mute)
            0x75, 0x01, //   Report Size (1)
            0x81, 0x06, //   Input (Data, Variable, Relative)
            0x09, 0x21, //   Usage (Flash)
            0x95, 0x07, //   Report Count (7)
            0x81, 0x02, //   Input (Data, Variable)
            0x05, 0x08, //   Usage Page (LEDs)
            0x09, 0x09, //   Usage (Mute)
            0x95, 0x01, //   Report Count (1)
            0x91, 0x02, //   Output (Data, Variable)
            0xC0, //       End Collection
        ])
        .unwrap();
        assert!(!d.numbered);
        let mute = d.find(ReportKind::Input, PHONE_MUTE).unwrap();
        assert_eq!(
            (mute.report_id, mute.bit_offset, mute.relative),
            (0, 16, true)
        );
        let flashes = d
            .fields
            .iter()
            .filter(|f| f.usage == Usage::new(0x0B, 0x21))
            .count();
        assert_eq!(flashes, 7);
        assert_eq!(d.report_len(ReportKind::Input, 0), 3);
        let led = d.find(ReportKind::Output, LED_MUTE).unwrap();
        assert_eq!((led.report_id, led.bit_offset), (0, 0));
    }

    /// Push saves the report id and size; pop restores them; a 4-byte usage names its page.
    #[test]
    fn push_pop_and_extended_usages() {
        let d = parse(&[
            0x05, 0x0C, // Usage Page (Consumer)
            0x85, 0x03, // Report ID (3)
            0x75, 0x08, // Report Size (8)
            0x95, 0x01, // Report Count (1)
            0xA4, //       Push
            0x85, 0x05, //   Report ID (5)
            0x75, 0x01, //   Report Size (1)
            0x0B, 0x2F, 0x00, 0x0B, 0x00, // Usage (Telephony: Phone Mute), extended
            0x81, 0x02, //   Input (Data, Variable)
            0xB4, //       Pop
            0x09, 0xE9, // Usage (Volume Increment): Consumer again
            0x81, 0x02, // Input (Data, Variable)
            0x05, 0x08, // Usage Page (LEDs)
            0x0B, 0x17, 0x00, 0x08, 0x00, // Usage (LEDs: Off-Hook), extended
            0x09, 0x09, // Usage (Mute) on the LED page
            0x75, 0x04, // Report Size (4)
            0x95, 0x02, // Report Count (2)
            0x91, 0x02, // Output (Data, Variable)
        ])
        .unwrap();
        let mute = d.find(ReportKind::Input, PHONE_MUTE).unwrap();
        assert_eq!((mute.report_id, mute.bit_size), (5, 1));
        let up = d.find(ReportKind::Input, VOLUME_UP).unwrap();
        assert_eq!((up.report_id, up.bit_offset, up.bit_size), (3, 0, 8));
        let led = d.find(ReportKind::Output, LED_MUTE).unwrap();
        assert_eq!((led.report_id, led.bit_offset, led.bit_size), (3, 4, 4));
        let hook = d.find(ReportKind::Output, LED_OFF_HOOK).unwrap();
        assert_eq!(hook.bit_offset, 0);
    }

    /// A Usage Page item between usages and their main item applies to the usages before it
    /// that did not name their page (as Linux reads it).
    #[test]
    fn a_usage_page_after_the_usages_applies_to_them() {
        let d = parse(&[
            0x05, 0x0C, // Usage Page (Consumer)
            0x09, 0x2F, // Usage (0x2F)
            0x05, 0x0B, // Usage Page (Telephony)
            0x75, 0x01, // Report Size (1)
            0x95, 0x01, // Report Count (1)
            0x81, 0x02, // Input (Data, Variable)
        ])
        .unwrap();
        assert!(d.find(ReportKind::Input, PHONE_MUTE).is_some(), "{d:?}");
    }

    #[test]
    fn long_items_are_skipped() {
        let mut bytes = vec![0xFE, 0x03, 0x10, 0xAA, 0xBB, 0xCC];
        bytes.extend_from_slice(SPEAKERPHONE);
        let d = parse(&bytes).unwrap();
        assert!(d.find(ReportKind::Output, LED_MUTE).is_some());
    }

    #[test]
    fn broken_descriptors_are_errors_not_panics() {
        let truncated = &SPEAKERPHONE[..SPEAKERPHONE.len() - 5];
        // Cut in the middle of an item: the last byte is a prefix whose data is missing.
        let mut cut = truncated.to_vec();
        cut.push(0x95);
        assert!(parse(&cut).unwrap_err().contains("truncated"));
        assert!(parse(&[0xB4]).unwrap_err().contains("pop without push"));
        assert!(parse(&[0x85, 0x00]).unwrap_err().contains("report id 0"));
        assert!(parse(&[0x29, 0x05])
            .unwrap_err()
            .contains("without minimum"));
        assert!(parse(&[0xFE, 0x09, 0x00]).is_err());
        // 32767 fields of 32 bits: 1 Mbit in one item.
        let huge = [0x75, 0x20, 0x96, 0xFF, 0x7F, 0x09, 0x01, 0x81, 0x02];
        assert!(parse(&huge).unwrap_err().contains("too large"));
        // Every prefix of a good descriptor parses or fails cleanly.
        for end in 0..SPEAKERPHONE.len() {
            let _ = parse(&SPEAKERPHONE[..end]);
        }
    }

    proptest::proptest! {
        /// Whatever a device sends as its descriptor, parsing ends with an answer; every field
        /// it finds lies inside its report.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)
        ) {
            if let Ok(d) = parse(&bytes) {
                for f in &d.fields {
                    let len = d.report_len(f.kind, f.report_id) as u32 * 8;
                    proptest::prop_assert!(f.bit_offset + f.bit_size <= len, "{f:?}");
                }
            }
        }
    }

    #[test]
    fn fields_read_and_write_their_bits_only() {
        let field = Field {
            kind: ReportKind::Output,
            usage: LED_MUTE,
            report_id: 0,
            bit_offset: 6,
            bit_size: 4,
            relative: false,
        };
        let mut data = [0u8; 2];
        field.write(&mut data, 0b1011);
        assert_eq!(data, [0b1100_0000, 0b0000_0010]);
        assert_eq!(field.read(&data), Some(0b1011));
        field.write(&mut data, 0);
        assert_eq!(data, [0, 0]);
        assert_eq!(field.read(&[0xFF]), None, "the report is too short");
    }
}
