//! Conversations: their states, the kinds of part they are made of, and who writes a part.
//!
//! A conversation is `open`, `closed` or `snoozed` (until a time). A part is a contact's or a
//! teammate's words (`comment`), a teammate's note the contact never sees (`note`), a change of
//! state (`open`, `close`, `snoozed`, and `unsnoozed` when its time comes), or a change of
//! assignee (`assignment`, or `assign_and_reopen` when the assignment also reopens it). These
//! names are Intercom's, and stored as text.

/// Where a conversation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Open,
    Closed,
    Snoozed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Closed => "closed",
            State::Snoozed => "snoozed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => State::Open,
            "closed" => State::Closed,
            "snoozed" => State::Snoozed,
            _ => return None,
        })
    }
}

/// Where a teammate moves a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Open,
    Close,
    Snooze { until: i64 },
}

impl Change {
    /// The state the conversation is in afterwards.
    pub fn state(self) -> State {
        match self {
            Change::Open => State::Open,
            Change::Close => State::Closed,
            Change::Snooze { .. } => State::Snoozed,
        }
    }

    /// The part that records the change.
    pub fn part_type(self) -> PartType {
        match self {
            Change::Open => PartType::Open,
            Change::Close => PartType::Close,
            Change::Snooze { .. } => PartType::Snoozed,
        }
    }
}

/// What a part of a conversation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartType {
    /// Words to the other side.
    Comment,
    /// A teammate's words for the team only.
    Note,
    /// The conversation was opened again (by a teammate, or by a contact writing in a closed one).
    Open,
    Close,
    Snoozed,
    /// A snoozed conversation woke up: its time came.
    Unsnoozed,
    /// The conversation was assigned to a teammate, or unassigned.
    Assignment,
    /// An assignment that also reopened a closed or snoozed conversation.
    AssignAndReopen,
}

impl PartType {
    pub fn as_str(self) -> &'static str {
        match self {
            PartType::Comment => "comment",
            PartType::Note => "note",
            PartType::Open => "open",
            PartType::Close => "close",
            PartType::Snoozed => "snoozed",
            PartType::Unsnoozed => "unsnoozed",
            PartType::Assignment => "assignment",
            PartType::AssignAndReopen => "assign_and_reopen",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "comment" => PartType::Comment,
            "note" => PartType::Note,
            "open" => PartType::Open,
            "close" => PartType::Close,
            "snoozed" => PartType::Snoozed,
            "unsnoozed" => PartType::Unsnoozed,
            "assignment" => PartType::Assignment,
            "assign_and_reopen" => PartType::AssignAndReopen,
            _ => return None,
        })
    }

    /// Every kind of part, for the places that list them all.
    pub const ALL: [PartType; 8] = [
        PartType::Comment,
        PartType::Note,
        PartType::Open,
        PartType::Close,
        PartType::Snoozed,
        PartType::Unsnoozed,
        PartType::Assignment,
        PartType::AssignAndReopen,
    ];
}

/// Who wrote a part: a teammate, or the contact (a user or a lead).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Author {
    Admin,
    User,
    Lead,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Admin => "admin",
            Author::User => "user",
            Author::Lead => "lead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "admin" => Author::Admin,
            "user" => Author::User,
            "lead" => Author::Lead,
            _ => return None,
        })
    }

    /// The contact's side of a conversation, as their role says.
    pub fn contact(role: crate::contact::Role) -> Self {
        match role {
            crate::contact::Role::User => Author::User,
            crate::contact::Role::Lead => Author::Lead,
        }
    }

    pub fn is_contact(self) -> bool {
        self != Author::Admin
    }
}

/// Whether the contact sees a part in their Messenger: the team's notes, and changes of state
/// or assignee that carry no words, are not shown; an assignment's words are the team's own.
pub fn visible_to_contact(part_type: PartType, has_words: bool) -> bool {
    !matches!(part_type, PartType::Note | PartType::Assignment | PartType::AssignAndReopen) && has_words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_written() {
        for s in [State::Open, State::Closed, State::Snoozed] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        for p in PartType::ALL {
            assert_eq!(PartType::parse(p.as_str()), Some(p));
        }
        for a in [Author::Admin, Author::User, Author::Lead] {
            assert_eq!(Author::parse(a.as_str()), Some(a));
        }
        assert_eq!(State::parse("pending"), None);
    }

    #[test]
    fn a_change_records_itself_as_a_part() {
        assert_eq!(Change::Snooze { until: 5 }.state(), State::Snoozed);
        assert_eq!(Change::Close.part_type(), PartType::Close);
        assert!(!visible_to_contact(PartType::Note, true));
        assert!(!visible_to_contact(PartType::Close, false));
        assert!(visible_to_contact(PartType::Close, true));
        assert!(!visible_to_contact(PartType::Assignment, true), "an assignment's words are for the team");
    }
}
