//! The control protocol: one JSON request per line, parsed as the control socket does, and a
//! join's address checked as the daemon does before the room sees it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salle::api::{Answer, ApiError, Request};
use salle::signal::MeetingTarget;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return; // the socket reads lines of UTF-8
    };
    let answer = match serde_json::from_str::<Request>(line) {
        Err(e) => Answer::from(ApiError::BadRequest(e.to_string())),
        Ok(request) => {
            // What was parsed says the same thing once written back.
            let again = serde_json::to_string(&request).expect("requests serialise");
            assert_eq!(
                serde_json::from_str::<Request>(&again).ok(),
                Some(request.clone())
            );
            match request {
                Request::Join { url: Some(url) } => match MeetingTarget::parse(&url) {
                    Ok(target) => {
                        let _ = (target.service(), target.origin());
                        return;
                    }
                    Err(e) => Answer::from(ApiError::NotAMeeting(e)),
                },
                _ => return,
            }
        }
    };
    serde_json::to_string(&answer).expect("answers serialise");
});
