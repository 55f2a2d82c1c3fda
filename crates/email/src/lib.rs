//! Email for Tidings: a [`Letter`] (one email to one contact, already rendered) becomes
//! multipart MIME, and a [`Connection`] hands it to an SMTP server.
//!
//! A worker owns one long-lived connection and sends its letters one after another, so a node
//! holds exactly as many SMTP connections as it has workers. The server's answer is classified
//! once, here: [`Refusal::Temporary`] (a 4xx, a refused or broken connection, a timeout) is
//! worth another attempt, [`Refusal::Permanent`] (a 5xx) is not.

mod dkim;
mod letter;
mod smtp;

pub use dkim::Dkim;
pub use letter::{Letter, LetterError};
pub use lettre::address::Envelope;
pub use smtp::{Connection, Refusal, SmtpConfig, Tls};
