//! The simulated meeting service (`test://` URLs): a session that connects after a delay or
//! fails with a given reason, and stays up until it is told to leave. It lets the whole daemon,
//! its buttons, LEDs and status run with no server, and is what the hardware tests join.

use crate::room::{SessionEvent, SessionId};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub struct SimulatedMeeting {
    pub name: String,
    pub connect_ms: u64,
    pub fail: Option<String>,
}

impl SimulatedMeeting {
    /// Runs one session until `leave` fires (or its sender is dropped).
    pub async fn run(
        self,
        session: SessionId,
        events: mpsc::Sender<SessionEvent>,
        leave: oneshot::Receiver<()>,
    ) {
        tokio::pin!(leave);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(self.connect_ms)) => {}
            _ = &mut leave => {
                let _ = events.send(SessionEvent::Ended { session }).await;
                return;
            }
        }
        if let Some(reason) = self.fail {
            let reason = format!("simulated meeting \"{}\": {reason}", self.name);
            let _ = events.send(SessionEvent::Failed { session, reason }).await;
            return;
        }
        let _ = events.send(SessionEvent::Connected { session }).await;
        let _ = leave.await;
        let _ = events.send(SessionEvent::Ended { session }).await;
    }
}
