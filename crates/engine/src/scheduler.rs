//! Sends scheduled manual messages when their time comes.
//!
//! The schedule lives in the database, so a message whose time passed while every node was down
//! goes out at the next start. Sending is the same conditional move from `scheduled` to `sent`
//! as a teammate's send, so when several nodes (or a step and a restart) find the same message
//! due, exactly one sends it and the others are refused.

use tidings_core::message::MessageState;

use crate::Engine;

/// One pass: sends every message due at `now`. Returns how many this call sent.
pub async fn step(engine: &Engine, now: i64) -> usize {
    let due = match engine.store().due_messages(now).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "could not read scheduled messages; will retry");
            return 0;
        }
    };
    let mut sent = 0;
    for (workspace, id) in due {
        match send_one(engine, workspace, id).await {
            Ok(true) => sent += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(workspace, message = id, error = %e, "scheduled message not sent; will retry"),
        }
    }
    sent
}

/// Sends one due message; `false` when another node (or step) sent it first.
async fn send_one(engine: &Engine, workspace: i64, id: i64) -> crate::Result<bool> {
    let Some(ws) = engine.workspace(workspace).await? else { return Ok(false) };
    let Some(m) = engine.store().message(workspace, id).await? else { return Ok(false) };
    if m.state != MessageState::Scheduled {
        return Ok(false);
    }
    match engine.send_message(&ws, m).await {
        Ok(_) => Ok(true),
        // Sent meanwhile by someone else: exactly what the conditional move is for.
        Err(crate::EngineError::Conflict { code: "message_already_sent" | "message_stopped", .. }) => Ok(false),
        Err(e) => Err(e),
    }
}
