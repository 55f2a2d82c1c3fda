//! What mail systems report after an email was accepted: a bounce that comes later (a delivery
//! status notification, RFC 3464, sent to the VERP return path, or a relay's webhook), and a
//! spam complaint (an ARF report, RFC 5965, or a relay's). Out-of-office and other automatic
//! replies are recognised and not counted as bounces; a delay or a temporary failure is not a
//! bounce either (the receiving side is still trying).
//!
//! A report names its delivery by the delivery's signed reference, `d{delivery}.m{message}.{tag}`,
//! found in the return path the report was sent to or in the Message-ID it quotes; a reference
//! whose tag does not verify is not ours, whatever else the report says. Nobody logs in to send
//! one: the signature is the proof, as for the links in emails.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::links::verify_message_tag;
use crate::Engine;
use crate::bus::Moved;
use crate::error::Result;

/// What a report did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reported {
    /// The delivery is now bounced and its contact hard-bounced.
    Bounced { delivery: i64 },
    /// The contact marked the email as spam and gets no more emails.
    Complained { delivery: i64 },
    /// A report of ours that changes nothing, and why (an automatic reply, a delay, a bounce
    /// already recorded).
    Ignored { why: String },
    /// No delivery of ours is named (or its signature does not verify).
    NotOurs,
}

/// What a report says, before it is matched to a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A permanent failure, with the receiving side's words.
    Bounce(String),
    Complaint,
    Ignore(String),
}

/// A delivery's reference as found in a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub delivery: i64,
    pub message: i64,
    pub tag: String,
}

/// Every `d{delivery}.m{message}.{16 hex}` in `text`, in order.
pub fn references(text: &str) -> Vec<Reference> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let digits = |mut i: usize| {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        (i > start && i - start <= 18).then_some((start, i))
    };
    let mut i = 0;
    while i < b.len() {
        let at_word = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if b[i] == b'd'
            && at_word
            && let Some((ds, de)) = digits(i + 1)
            && b.get(de) == Some(&b'.')
            && b.get(de + 1) == Some(&b'm')
            && let Some((ms, me)) = digits(de + 2)
            && b.get(me) == Some(&b'.')
            && let Some(tag) = text.get(me + 1..me + 17)
            && tag.bytes().all(|c| c.is_ascii_hexdigit())
            && !b.get(me + 17).is_some_and(u8::is_ascii_alphanumeric)
        {
            found.push(Reference {
                delivery: text[ds..de].parse().unwrap_or(0),
                message: text[ms..me].parse().unwrap_or(0),
                tag: tag.to_ascii_lowercase(),
            });
            i = me + 17;
            continue;
        }
        i += 1;
    }
    found
}

/// The header block of a message (or part), unfolded, names lower-cased; and where its body starts.
fn headers(text: &str) -> (Vec<(String, String)>, usize) {
    let end = text.find("\r\n\r\n").map(|i| i + 4).or_else(|| text.find("\n\n").map(|i| i + 2)).unwrap_or(text.len());
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text[..end].lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (out, end)
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// What a raw report (a whole email, as received at the bounce address) says.
pub fn read_report(raw: &str) -> Verdict {
    let (top, _) = headers(raw);
    let content_type = header(&top, "content-type").unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("multipart/report") {
        if content_type.contains("delivery-status") {
            return read_dsn(raw);
        }
        if content_type.contains("feedback-report") {
            return Verdict::Complaint;
        }
    }
    // Not a report: an automatic reply (RFC 3834's Auto-Submitted, and what common responders
    // set instead), or a person writing back to the bounce address.
    let auto = header(&top, "auto-submitted").is_some_and(|v| !v.eq_ignore_ascii_case("no"))
        || ["x-autoreply", "x-autorespond", "x-auto-response-suppress"].iter().any(|h| header(&top, h).is_some())
        || header(&top, "precedence").is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("auto_reply") || v.contains("bulk") || v.contains("junk")
        });
    let subject = header(&top, "subject").unwrap_or("").to_ascii_lowercase();
    if auto
        || ["out of office", "automatic reply", "auto:", "autoreply", "vacation"].iter().any(|s| subject.contains(s))
    {
        Verdict::Ignore("an automatic reply (out of office), not a bounce".into())
    } else {
        Verdict::Ignore("not a delivery report".into())
    }
}

/// A delivery status notification: a bounce when a recipient's `Action` is `failed` with a
/// permanent (5.x.x) `Status`.
fn read_dsn(raw: &str) -> Verdict {
    // The per-recipient fields are lines of the message/delivery-status part; scanning every
    // line finds them without a MIME parser (the part is 7-bit text by definition).
    let (mut action, mut status, mut diagnostic) = (None::<String>, None::<String>, None::<String>);
    let mut worst: Option<(String, String)> = None;
    let mut delayed = false;
    let flush = |action: &mut Option<String>,
                 status: &mut Option<String>,
                 diagnostic: &mut Option<String>,
                 worst: &mut Option<(String, String)>,
                 delayed: &mut bool| {
        let a = action.take().unwrap_or_default().to_ascii_lowercase();
        let s = status.take().unwrap_or_default();
        let d = diagnostic.take();
        if a == "failed" && s.starts_with('5') && worst.is_none() {
            *worst = Some((s.clone(), d.unwrap_or_else(|| format!("status {s}"))));
        } else if a == "delayed" || (a == "failed" && s.starts_with('4')) {
            *delayed = true;
        }
    };
    for line in raw.lines() {
        if line.trim().is_empty() {
            flush(&mut action, &mut status, &mut diagnostic, &mut worst, &mut delayed);
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "action" => action = Some(value.to_owned()),
                "status" => status = Some(value.split_whitespace().next().unwrap_or("").to_owned()),
                "diagnostic-code" => {
                    diagnostic = Some(value.split_once(';').map_or(value, |(_, d)| d.trim()).to_owned())
                }
                _ => {}
            }
        }
    }
    flush(&mut action, &mut status, &mut diagnostic, &mut worst, &mut delayed);
    match worst {
        Some((status, words)) => Verdict::Bounce(format!("{status} {words}").chars().take(500).collect()),
        None if delayed => Verdict::Ignore("a delay or temporary failure: the receiving side still tries".into()),
        None => Verdict::Ignore("a delivery report without a permanent failure".into()),
    }
}

/// What a relay's webhook says. Understands a plain form
/// (`{"event": "bounce"|"complaint", "message_id": "<…>", "permanent": true, "reason": "…"}`),
/// Amazon SES notifications and Mailgun events; anything else is ignored.
pub fn read_event(event: &Json) -> Verdict {
    let text = |v: &Json| v.as_str().unwrap_or("").to_ascii_lowercase();
    // Amazon SES (`notificationType` in SNS notifications, `eventType` in event publishing).
    let ses = text(event.get("notificationType").or_else(|| event.get("eventType")).unwrap_or(&Json::Null));
    if ses == "bounce" {
        let b = &event["bounce"];
        return if text(&b["bounceType"]) == "permanent" {
            let why = b["bouncedRecipients"][0]["diagnosticCode"].as_str().unwrap_or("a permanent bounce");
            Verdict::Bounce(why.chars().take(500).collect())
        } else {
            Verdict::Ignore("a transient bounce: the relay still tries".into())
        };
    }
    if ses == "complaint" {
        return Verdict::Complaint;
    }
    // Mailgun: `event-data.event` is `failed` (with `severity`) or `complained`.
    if let Some(data) = event.get("event-data") {
        return match text(&data["event"]).as_str() {
            "failed" if text(&data["severity"]) == "permanent" => {
                let why = data["delivery-status"]["description"]
                    .as_str()
                    .or_else(|| data["reason"].as_str())
                    .unwrap_or("a permanent failure");
                Verdict::Bounce(why.chars().take(500).collect())
            }
            "failed" => Verdict::Ignore("a temporary failure: the relay still tries".into()),
            "complained" => Verdict::Complaint,
            other => Verdict::Ignore(format!("the event {other:?} is not a bounce or a complaint")),
        };
    }
    match text(&event["event"]).as_str() {
        "bounce" | "bounced" if event["permanent"].as_bool() != Some(false) => {
            Verdict::Bounce(event["reason"].as_str().unwrap_or("reported by the relay").chars().take(500).collect())
        }
        "bounce" | "bounced" => Verdict::Ignore("a temporary bounce: the relay still tries".into()),
        "complaint" | "complained" | "spam" => Verdict::Complaint,
        other => Verdict::Ignore(format!("the event {other:?} is not a bounce or a complaint")),
    }
}

impl Engine {
    /// A report received at the bounce address, whole (as the mail server hands it on), with
    /// the address it was sent to when known (the VERP return path).
    ///
    /// # Errors
    /// A database failure.
    pub async fn email_report(&self, raw: &[u8], recipient: Option<&str>) -> Result<Reported> {
        let text = String::from_utf8_lossy(raw);
        // The return path it came to names the delivery best; then the Message-ID it quotes.
        let mut refs = recipient.map(references).unwrap_or_default();
        refs.extend(references(&text));
        self.apply_report(&refs, read_report(&text)).await
    }

    /// An event from a relay's webhook (one JSON object).
    ///
    /// # Errors
    /// A database failure.
    pub async fn email_event(&self, event: &Json) -> Result<Reported> {
        let refs = references(&event.to_string());
        self.apply_report(&refs, read_event(event)).await
    }

    async fn apply_report(&self, refs: &[Reference], verdict: Verdict) -> Result<Reported> {
        let mut ours = None;
        for r in refs {
            let Some((ws_id, delivery)) = self.store.delivery_anywhere(r.delivery).await? else { continue };
            if delivery.message_id != r.message {
                continue;
            }
            let Some(ws) = self.store.workspace(ws_id).await? else { continue };
            if verify_message_tag(&ws.email.secret, ws_id, r.delivery, &r.tag) {
                ours = Some((ws_id, delivery));
                break;
            }
        }
        let Some((ws, delivery)) = ours else { return Ok(Reported::NotOurs) };
        let now = self.now();
        match verdict {
            Verdict::Bounce(reason) => {
                if self.store.report_bounce(ws, delivery.id, &reason, now).await? {
                    tracing::info!(workspace = ws, delivery = delivery.id, "a bounce was reported after sending");
                    self.moved(ws, BTreeMap::from([(delivery.message_id, 1)]), Moved::Bounced);
                    Ok(Reported::Bounced { delivery: delivery.id })
                } else {
                    Ok(Reported::Ignored { why: format!("the delivery is {}", delivery.state.as_str()) })
                }
            }
            Verdict::Complaint => {
                if self.store.report_complaint(ws, delivery.id, now).await? {
                    tracing::info!(workspace = ws, delivery = delivery.id, "a contact marked an email as spam");
                }
                Ok(Reported::Complained { delivery: delivery.id })
            }
            Verdict::Ignore(why) => Ok(Reported::Ignored { why }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_in_addresses_and_headers() {
        let t = "To: bounces+d12.m3.00112233aabbccdd@mail.acme.test\nMessage-ID: <d9.m1.ffeeddccbbaa9988@acme.test>";
        let r = references(t);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].delivery, r[0].message, r[0].tag.as_str()), (12, 3, "00112233aabbccdd"));
        assert_eq!((r[1].delivery, r[1].message), (9, 1));
        assert!(references("d12.m3.0011").is_empty(), "a short tag");
        assert!(references("od12.m3.00112233aabbccdd").is_empty(), "inside a word");
        assert!(references("d12.m3.00112233aabbccddee").is_empty(), "a longer tag");
    }

    #[test]
    fn a_permanent_failure_bounces_and_a_delay_does_not() {
        let dsn = |action: &str, status: &str| {
            format!(
                "From: MAILER-DAEMON@mx.test\nContent-Type: multipart/report; report-type=delivery-status;\n boundary=\"b\"\n\n\
                 --b\nContent-Type: text/plain\n\nSorry.\n\n--b\nContent-Type: message/delivery-status\n\n\
                 Reporting-MTA: dns; mx.test\n\nFinal-Recipient: rfc822; bob@example.test\nAction: {action}\n\
                 Status: {status}\nDiagnostic-Code: smtp; 550 5.1.1 <bob@example.test>: User unknown\n\n--b--\n"
            )
        };
        assert_eq!(
            read_report(&dsn("failed", "5.1.1")),
            Verdict::Bounce("5.1.1 550 5.1.1 <bob@example.test>: User unknown".into())
        );
        assert!(matches!(read_report(&dsn("delayed", "4.4.1")), Verdict::Ignore(_)));
        assert!(matches!(read_report(&dsn("failed", "4.2.2")), Verdict::Ignore(_)));
    }

    #[test]
    fn automatic_replies_are_not_bounces() {
        let ooo = "From: bob@example.test\nSubject: Out of Office: News\nAuto-Submitted: auto-replied\n\nI am away.";
        assert!(matches!(read_report(ooo), Verdict::Ignore(w) if w.contains("automatic reply")));
        let outlook = "From: bob@example.test\nSubject: Automatic reply: News\nX-Auto-Response-Suppress: All\n\nAway.";
        assert!(matches!(read_report(outlook), Verdict::Ignore(w) if w.contains("automatic reply")));
        let arf = "Content-Type: multipart/report; report-type=feedback-report; boundary=x\n\n--x--";
        assert_eq!(read_report(arf), Verdict::Complaint);
    }

    #[test]
    fn relay_events_are_read() {
        let ses = serde_json::json!({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent",
            "bouncedRecipients": [{"diagnosticCode": "smtp; 550 no such user"}]}});
        assert_eq!(read_event(&ses), Verdict::Bounce("smtp; 550 no such user".into()));
        let soft = serde_json::json!({"notificationType": "Bounce", "bounce": {"bounceType": "Transient"}});
        assert!(matches!(read_event(&soft), Verdict::Ignore(_)));
        let mg = serde_json::json!({"event-data": {"event": "failed", "severity": "permanent",
            "delivery-status": {"description": "No such mailbox"}}});
        assert_eq!(read_event(&mg), Verdict::Bounce("No such mailbox".into()));
        assert_eq!(read_event(&serde_json::json!({"event-data": {"event": "complained"}})), Verdict::Complaint);
        assert_eq!(read_event(&serde_json::json!({"event": "complaint"})), Verdict::Complaint);
        assert!(matches!(read_event(&serde_json::json!({"event": "delivered"})), Verdict::Ignore(_)));
    }
}
