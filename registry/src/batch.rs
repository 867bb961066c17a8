//! Many lookups at once: [`gather`] runs one lookup per item, at most so many in flight, each
//! on its own task, optionally until a deadline, and hands the outcomes back in the items'
//! order. `mquery IMAGE...` and `mquery check` look their images up through it, and so does
//! the service's `POST /v1/check` (with its deadline, under API Gateway's 29 s).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::ErrorCode;

/// A lookup [`gather`] has no outcome for; each names its item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unfinished {
    /// Not finished by the deadline, the wait for its turn included: stopped. The one deadline
    /// gather is given is a check's (docs/errors.md, `UPSTREAM_TIMEOUT`).
    #[error("not looked up before the check's deadline")]
    TimedOut(String),
    /// The lookup's task panicked.
    #[error("lookup failed")]
    Failed(String),
}

impl Unfinished {
    /// The item whose lookup did not finish.
    pub fn item(&self) -> &str {
        match self {
            Unfinished::TimedOut(item) | Unfinished::Failed(item) => item,
        }
    }

    /// The code of the status table (docs/errors.md) it answers with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Unfinished::TimedOut(_) => ErrorCode::UpstreamTimeout,
            Unfinished::Failed(_) => ErrorCode::Internal,
        }
    }
}

/// Looks `items` up with `lookup`, concurrently, at most `in_flight` at once (each on its own
/// task); the outcomes come back in the order of `items`. A lookup that panicked is
/// [`Unfinished::Failed`]. With a `deadline`, a lookup not finished by then (waiting for its
/// turn included) is stopped and is [`Unfinished::TimedOut`]: the answer comes in time with
/// every lookup that finished.
pub async fn gather<T, F, Fut>(
    items: &[String],
    in_flight: usize,
    deadline: Option<Instant>,
    lookup: F,
) -> Vec<Result<T, Unfinished>>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let turns = Arc::new(Semaphore::new(in_flight.max(1)));
    let mut tasks = JoinSet::new();
    for (i, item) in items.iter().enumerate() {
        let (turns, lookup) = (Arc::clone(&turns), lookup(item.clone()));
        tasks.spawn(async move {
            let looked_up = async {
                // the semaphore is never closed: a permit always comes
                let _turn = turns.acquire().await;
                lookup.await
            };
            let outcome = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, looked_up).await.ok(),
                None => Some(looked_up.await),
            };
            (i, outcome)
        });
    }
    let mut outcomes: Vec<Option<T>> = items.iter().map(|_| None).collect();
    let mut timed_out = vec![false; items.len()];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, Some(outcome))) => outcomes[i] = Some(outcome),
            Ok((i, None)) => timed_out[i] = true,
            Err(_) => {}
        }
    }
    outcomes
        .into_iter()
        .zip(items)
        .zip(timed_out)
        .map(|((outcome, item), timed_out)| {
            outcome.ok_or_else(|| {
                if timed_out {
                    Unfinished::TimedOut(item.clone())
                } else {
                    Unfinished::Failed(item.clone())
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
    }

    /// A check's deadline covers the wait for a turn and the lookup: what finished is kept,
    /// the rest is a timed-out row, and the answer comes at the deadline, not after every
    /// lookup's own timeout.
    #[test]
    fn lookups_past_the_deadline_are_timed_out_rows() {
        let images: Vec<String> = (0..200).map(|i| format!("silent.example/app{i}")).collect();
        let started = std::time::Instant::now();
        let outcomes = runtime().block_on(async {
            let deadline = Instant::now() + Duration::from_millis(300);
            gather(&images, 32, Some(deadline), |image| async move {
                if image.ends_with("app0") {
                    return "alpine";
                }
                std::future::pending::<&str>().await
            })
            .await
        });
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert_eq!(outcomes.len(), 200);
        assert_eq!(outcomes[0], Ok("alpine"));
        for (outcome, image) in outcomes[1..].iter().zip(&images[1..]) {
            let error = outcome.as_ref().expect_err("timed out");
            assert_eq!(error.code(), ErrorCode::UpstreamTimeout);
            assert_eq!(error.item(), image.as_str());
            assert_eq!(
                error.to_string(),
                "not looked up before the check's deadline"
            );
        }
    }

    /// At most `in_flight` lookups run at once, the outcomes come back in the items' order
    /// whatever order they finish in, and a lookup that panics is an `INTERNAL` outcome of its
    /// own item only.
    #[test]
    fn bounded_ordered_and_a_panic_is_its_items_failure() {
        let items: Vec<String> = (0..12).map(|i| i.to_string()).collect();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let outcomes = runtime().block_on(gather(&items, 3, None, |item| {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let n: u64 = item.parse().expect("a number");
                // later items finish first
                tokio::time::sleep(Duration::from_millis(2 * (12 - n))).await;
                running.fetch_sub(1, Ordering::SeqCst);
                assert_ne!(n, 7, "lookup 7 panics");
                n * 10
            }
        }));
        assert_eq!(most.load(Ordering::SeqCst), 3);
        for (i, outcome) in outcomes.iter().enumerate() {
            match outcome {
                Err(failed) => {
                    assert_eq!(i, 7);
                    assert_eq!(failed, &Unfinished::Failed("7".to_owned()));
                    assert_eq!(failed.code(), ErrorCode::Internal);
                    assert_eq!(failed.to_string(), "lookup failed");
                }
                Ok(n) => assert_eq!(*n, 10 * i as u64),
            }
        }
        assert!(outcomes[7].is_err());
    }
}
