//! The engine's background work: each task is a `step(now)` run on a tick, supervised (a step
//! that panics is logged and the task goes on at the next tick) and stopped gracefully (the step
//! under way finishes, then each task that must runs one last step, so the last second of pings
//! is written).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Engine;

type Step = fn(Arc<Engine>, i64) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// One kind of background work.
struct Task {
    name: &'static str,
    every: Duration,
    step: Step,
    /// Whether the step runs once more when the tasks stop (work that must not be left behind,
    /// like the last second of pings), rather than only on its ticks.
    last: bool,
}

/// How often scheduled messages, opened delivery windows, snoozed conversations whose time came
/// and the team's words due for a reply email are looked for, and pings written.
pub const TICK: Duration = Duration::from_secs(1);

static TASKS: [Task; 6] = [
    Task {
        name: "scheduler",
        every: TICK,
        last: true,
        step: |engine, now| {
            Box::pin(async move {
                crate::scheduler::step(&engine, now).await;
            })
        },
    },
    Task {
        name: "windows",
        every: TICK,
        last: true,
        step: |engine, now| {
            Box::pin(async move {
                crate::windows::step(&engine, now).await;
            })
        },
    },
    Task {
        name: "snoozes",
        every: TICK,
        last: true,
        step: |engine, now| {
            Box::pin(async move {
                crate::inbox::step(&engine, now).await;
            })
        },
    },
    Task {
        name: "reply emails",
        every: TICK,
        last: true,
        step: |engine, now| {
            Box::pin(async move {
                crate::email::replies::step(&engine, now).await;
            })
        },
    },
    Task {
        name: "presence",
        every: TICK,
        last: true,
        step: |engine, now| {
            Box::pin(async move {
                crate::presence::step(&engine, now).await;
            })
        },
    },
    Task {
        name: "imports",
        // A third of the time after which an import whose heartbeat stopped is taken over.
        every: Duration::from_secs(10),
        // Not as the server stops: an import taken over then would wait for the next server.
        last: false,
        step: |engine, now| {
            Box::pin(async move {
                crate::import::jobs::step(&engine, now).await;
            })
        },
    },
];

/// The running background tasks.
pub struct Background {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Starts the scheduler, the window waker, the snooze waker, the reply emails, the
    /// presence writer and the takeover of imports whose server stopped.
    pub fn start_background(self: &Arc<Self>) -> Background {
        let (stop, stopped) = watch::channel(false);
        let handles = TASKS.iter().map(|task| tokio::spawn(supervise(self.clone(), task, stopped.clone()))).collect();
        Background { stop, handles }
    }
}

impl Background {
    /// Stops every task: the step under way finishes, then each that must runs one last step.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = h.await;
        }
    }
}

async fn supervise(engine: Arc<Engine>, task: &'static Task, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(task.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => break,
        }
        run_once(&engine, task.name, task.step).await;
    }
    if task.last {
        run_once(&engine, task.name, task.step).await;
    }
}

/// One step, in a task of its own so that a panic is caught here, not the end of the work.
async fn run_once(engine: &Arc<Engine>, name: &'static str, step: Step) {
    let span = tracing::debug_span!("step", task = name);
    let now = engine.now();
    let run = tokio::spawn(tracing::Instrument::instrument(step(engine.clone(), now), span));
    if let Err(e) = run.await {
        tracing::error!(task = name, error = %e, "a background step failed; it runs again at the next tick");
    }
}
