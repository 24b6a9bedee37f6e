//! CalDAV's multistatus answers (XML with namespaces): the calendar-data they carry.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return; // the answer is read as text first (reqwest's text())
    };
    let _ = salle::calendar::fetch::calendar_data(xml);
});
