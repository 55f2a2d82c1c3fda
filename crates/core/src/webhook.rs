//! Webhook topics: the names Intercom gives to what happens in a conversation, and which part of
//! a conversation is which topic.
//!
//! Every notification is derived from one part of the conversation's log, so each topic is a
//! reading of a part: who wrote it, what kind it is, and whether it opened the conversation.

/// What a webhook subscription can be told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// A contact started a conversation (their first words).
    UserCreated,
    /// A contact wrote again in a conversation (a reply, or the words that reopened a closed one).
    UserReplied,
    /// A teammate replied to the contact.
    AdminReplied,
    /// A teammate's message started a conversation (its first part, written when the contact
    /// first replies to it).
    AdminSingleCreated,
    /// A conversation was assigned or unassigned.
    AdminAssigned,
    /// A teammate wrote a note for the team.
    AdminNoted,
    AdminClosed,
    AdminOpened,
    AdminSnoozed,
    /// A snoozed conversation woke up.
    AdminUnsnoozed,
}

impl Topic {
    /// Every topic, in the order they are listed to people.
    pub const ALL: [Topic; 10] = [
        Topic::UserCreated,
        Topic::UserReplied,
        Topic::AdminReplied,
        Topic::AdminSingleCreated,
        Topic::AdminAssigned,
        Topic::AdminNoted,
        Topic::AdminClosed,
        Topic::AdminOpened,
        Topic::AdminSnoozed,
        Topic::AdminUnsnoozed,
    ];

    /// Intercom's name for the topic.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::UserCreated => "conversation.user.created",
            Topic::UserReplied => "conversation.user.replied",
            Topic::AdminReplied => "conversation.admin.replied",
            Topic::AdminSingleCreated => "conversation.admin.single.created",
            Topic::AdminAssigned => "conversation.admin.assigned",
            Topic::AdminNoted => "conversation.admin.noted",
            Topic::AdminClosed => "conversation.admin.closed",
            Topic::AdminOpened => "conversation.admin.opened",
            Topic::AdminSnoozed => "conversation.admin.snoozed",
            Topic::AdminUnsnoozed => "conversation.admin.unsnoozed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Topic::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// What the topic tells, in words, for the pages that list topics.
    pub fn describe(self) -> &'static str {
        match self {
            Topic::UserCreated => "a contact starts a conversation",
            Topic::UserReplied => "a contact replies",
            Topic::AdminReplied => "a teammate replies",
            Topic::AdminSingleCreated => "a teammate's message starts a conversation",
            Topic::AdminAssigned => "a conversation is assigned",
            Topic::AdminNoted => "a teammate writes a note",
            Topic::AdminClosed => "a teammate closes a conversation",
            Topic::AdminOpened => "a teammate reopens a conversation",
            Topic::AdminSnoozed => "a teammate snoozes a conversation",
            Topic::AdminUnsnoozed => "a snoozed conversation wakes up",
        }
    }
}

/// The topic of one part of a conversation; `opening` says whether it is the conversation's first
/// part. `None` for a part no topic covers.
pub fn topic_of(
    part_type: crate::conversation::PartType,
    author: crate::conversation::Author,
    opening: bool,
) -> Option<Topic> {
    use crate::conversation::PartType as P;
    if author.is_contact() {
        // A contact's words are a comment, or the `open` part of a reply that reopened a
        // closed conversation; a contact never writes anything else.
        return match part_type {
            P::Comment if opening => Some(Topic::UserCreated),
            P::Comment | P::Open => Some(Topic::UserReplied),
            _ => None,
        };
    }
    Some(match part_type {
        P::Comment if opening => Topic::AdminSingleCreated,
        P::Comment => Topic::AdminReplied,
        P::Note => Topic::AdminNoted,
        P::Assignment | P::AssignAndReopen => Topic::AdminAssigned,
        P::Close => Topic::AdminClosed,
        P::Open => Topic::AdminOpened,
        P::Snoozed => Topic::AdminSnoozed,
        P::Unsnoozed => Topic::AdminUnsnoozed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Author, PartType};

    #[test]
    fn names_read_back_as_written() {
        for t in Topic::ALL {
            assert_eq!(Topic::parse(t.as_str()), Some(t));
            assert!(t.as_str().starts_with("conversation."), "{t:?}");
        }
        assert_eq!(Topic::parse("conversation.user.deleted"), None);
        assert_eq!(Topic::parse(""), None);
    }

    #[test]
    fn each_part_is_read_as_one_topic() {
        let cases = [
            (PartType::Comment, Author::User, true, Some(Topic::UserCreated)),
            (PartType::Comment, Author::Lead, true, Some(Topic::UserCreated)),
            (PartType::Comment, Author::User, false, Some(Topic::UserReplied)),
            (PartType::Open, Author::Lead, false, Some(Topic::UserReplied)),
            (PartType::Note, Author::User, false, None),
            (PartType::Comment, Author::Admin, true, Some(Topic::AdminSingleCreated)),
            (PartType::Comment, Author::Admin, false, Some(Topic::AdminReplied)),
            (PartType::Note, Author::Admin, false, Some(Topic::AdminNoted)),
            (PartType::Assignment, Author::Admin, false, Some(Topic::AdminAssigned)),
            (PartType::AssignAndReopen, Author::Admin, false, Some(Topic::AdminAssigned)),
            (PartType::Close, Author::Admin, false, Some(Topic::AdminClosed)),
            (PartType::Open, Author::Admin, false, Some(Topic::AdminOpened)),
            (PartType::Snoozed, Author::Admin, false, Some(Topic::AdminSnoozed)),
            (PartType::Unsnoozed, Author::Admin, false, Some(Topic::AdminUnsnoozed)),
        ];
        for (part, author, opening, topic) in cases {
            assert_eq!(topic_of(part, author, opening), topic, "{part:?} by {author:?}, opening {opening}");
        }
    }
}
