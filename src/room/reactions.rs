//! Reactions: someone in the meeting sends an emoji (La Suite Meet's reaction button, a data
//! message `{"type": "reactionReceived", "data": {"emoji": "👍"}}`), and the room's screen shows
//! it briefly with their name, as Meet's own UI floats it up for a few seconds.
//!
//! Pure: the caller passes the time. What is shown is decided here: for how long, how many at
//! once, one line per person (someone pressing the button ten times does not fill the screen),
//! and what is not an emoji at all (any participant can send any text) is not shown.

use super::Millis;

/// How long a reaction stays on the screen.
pub const REACTION_SHOWN_MS: Millis = 4_000;
/// Reactions shown at once (the newest).
pub const REACTION_LINES: usize = 3;
/// The longest emoji taken, in characters: a flag or a family is a few code points; a word is
/// not a reaction.
const LONGEST_EMOJI: usize = 8;

/// The reactions on the screen now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reactions {
    /// Newest last.
    shown: Vec<Reaction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Reaction {
    from: String,
    emoji: String,
    at: Millis,
}

impl Reactions {
    /// Takes `emoji` from the person called `from` at `now`. Returns whether it is shown.
    pub fn on_reaction(&mut self, from: &str, emoji: &str, now: Millis) -> bool {
        let emoji = emoji.trim();
        if !is_emoji(emoji) {
            return false;
        }
        self.expire(now);
        // Their newer reaction replaces the older one.
        self.shown.retain(|r| r.from != from);
        self.shown.push(Reaction {
            from: from.to_string(),
            emoji: emoji.to_string(),
            at: now,
        });
        if self.shown.len() > REACTION_LINES {
            self.shown.remove(0);
        }
        true
    }

    /// Forgets what has been shown long enough. Returns whether anything went.
    pub fn expire(&mut self, now: Millis) -> bool {
        let before = self.shown.len();
        self.shown
            .retain(|r| now.saturating_sub(r.at) < REACTION_SHOWN_MS);
        self.shown.len() != before
    }

    /// The lines the screen shows at `now`, "👍 Alice Martin", newest last.
    pub fn lines(&self, now: Millis) -> Vec<String> {
        self.shown
            .iter()
            .filter(|r| now.saturating_sub(r.at) < REACTION_SHOWN_MS)
            .map(|r| format!("{} {}", r.emoji, r.from))
            .collect()
    }
}

/// A few characters, none of them a letter, digit, space, control or ASCII punctuation: what
/// an emoji (with its variation selectors and joiners) is made of, and no message.
fn is_emoji(text: &str) -> bool {
    let count = text.chars().count();
    count > 0
        && count <= LONGEST_EMOJI
        && text
            .chars()
            .all(|c| !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control() && !c.is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reaction_shows_with_its_senders_name_then_goes() {
        let mut r = Reactions::default();
        assert!(r.on_reaction("Alice Martin", "👍", 1_000));
        assert_eq!(r.lines(1_000), ["👍 Alice Martin"]);
        assert_eq!(r.lines(1_000 + REACTION_SHOWN_MS - 1), ["👍 Alice Martin"]);
        assert!(r.lines(1_000 + REACTION_SHOWN_MS).is_empty());
        assert!(r.expire(1_000 + REACTION_SHOWN_MS));
        assert!(!r.expire(1_000 + REACTION_SHOWN_MS), "nothing left");
    }

    #[test]
    fn meets_emojis_are_taken_text_is_not() {
        let mut r = Reactions::default();
        for emoji in ["👍", "👎", "👏", "❤️", "😂", "😮", "🎉", "🇫🇷", "👨‍👩‍👧"]
        {
            assert!(r.on_reaction("Alice", emoji, 0), "{emoji}");
        }
        for text in [
            "",
            " ",
            "ok",
            "Vote now!",
            "<b>",
            "👍 click here",
            "\u{7}",
            "🎉🎉🎉🎉🎉🎉🎉🎉🎉",
        ] {
            assert!(!r.on_reaction("Bob", text, 0), "{text:?}");
        }
        assert_eq!(r.lines(0), ["👨‍👩‍👧 Alice"]);
    }

    #[test]
    fn one_line_per_person_and_the_newest_few() {
        let mut r = Reactions::default();
        r.on_reaction("Alice", "👍", 0);
        r.on_reaction("Alice", "🎉", 100);
        assert_eq!(r.lines(100), ["🎉 Alice"], "her newer one replaces it");
        r.on_reaction("Bob", "👏", 200);
        r.on_reaction("Chloé", "😂", 300);
        r.on_reaction("David", "❤️", 400);
        assert_eq!(r.lines(400), ["👏 Bob", "😂 Chloé", "❤️ David"]);
        // Each goes when its own time is up.
        assert_eq!(r.lines(200 + REACTION_SHOWN_MS), ["😂 Chloé", "❤️ David"]);
    }
}
