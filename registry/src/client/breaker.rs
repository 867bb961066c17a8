//! What keeps registries that never answer from starving the ones that do: a circuit breaker
//! and a share of the lookup pool per registry host, paired as resilience libraries pair a
//! breaker with a bulkhead (resilience4j's `CircuitBreakerStateMachine` beside its
//! `Bulkhead`, Envoy's outlier detection beside its per-cluster circuit breakers).
//!
//! - **Breaker** ([`Breaker`], one per host, pure: time comes in as an argument). Closed, it
//!   counts lookups that timed out with no answer between them; at
//!   [`ClientConfig::breaker_threshold`] in a row it opens, and lookups of that host fail at
//!   once for a cool-down. The cool-down is `breaker_cool_down` times the number of openings
//!   since the host last answered, capped at `breaker_max_cool_down` (Envoy's ejection time:
//!   `base_ejection_time` times the ejection count, capped by `max_ejection_time`, in
//!   envoy api/envoy/config/cluster/v3/outlier_detection.proto). After the cool-down one
//!   lookup at a time goes through as a probe (resilience4j's half-open state, in
//!   resilience4j-circuitbreaker/src/main/java/io/github/resilience4j/circuitbreaker/internal/
//!   CircuitBreakerStateMachine.java, with one permitted call): an answer closes the
//!   breaker, anything else opens it again.
//! - **Shares** ([`Gate`], [`Shares`]). A host that has answered its latest lookups is
//!   *proven* and may run `max_lookups_per_registry` lookups at once. Any other host (never
//!   heard from, its last lookup timed out, or being probed) is *unproven*: it may run only
//!   [`probation_share`] lookups at once, and all unproven hosts together hold at most
//!   [`unproven_pool`] of the process's `max_concurrent_lookups`. However many silent
//!   registries a caller names, the other half of the pool stays with registries that
//!   answer, and a registry never seen before still finds room among the unproven.
//!   Without `slow_start` (the command line: one person's run) an unproven host has its full
//!   share and the unproven the whole pool, so a stack on a new registry goes at once.
//!
//! A lookup takes its permits in one order: its host's slot, then (unproven) the host's
//! probation slot and the unproven pool, then the process-wide pool. A process-wide permit is
//! never held while waiting for a host's permit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, SemaphorePermit};

use crate::config::ClientConfig;
use crate::error::Error;

/// How many lookups at once an unproven host may run: an eighth of a proven host's share,
/// at least one (2 of 16 in the service, 8 of 64 in the `mquery` command).
pub fn probation_share(config: &ClientConfig) -> usize {
    match config.slow_start {
        true => (config.max_lookups_per_registry.max(1) / 8).max(1),
        false => config.max_lookups_per_registry.max(1),
    }
}

/// How many of the process's lookups all unproven hosts together may hold: half (32 of 64 in
/// the service, 64 of 128 in the `mquery` command), at least one.
pub fn unproven_pool(config: &ClientConfig) -> usize {
    match config.slow_start {
        true => (config.max_concurrent_lookups.max(1) / 2).max(1),
        false => config.max_concurrent_lookups.max(1),
    }
}

/// The breaker's settings, from [`ClientConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Timeouts in a row that open the breaker.
    pub threshold: u32,
    /// The first cool-down; each reopening without an answer between adds it again.
    pub cool_down: Duration,
    pub max_cool_down: Duration,
}

impl Settings {
    pub fn from_config(config: &ClientConfig) -> Settings {
        Settings {
            threshold: config.breaker_threshold.max(1),
            cool_down: config.breaker_cool_down,
            max_cool_down: config.breaker_max_cool_down.max(config.breaker_cool_down),
        }
    }

    /// The cool-down after the `opened`th opening in a row.
    fn cool_down(&self, opened: u32) -> Duration {
        self.cool_down
            .saturating_mul(opened.max(1))
            .min(self.max_cool_down)
    }
}

/// What a finished lookup says about its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The host answered (a manifest, a 404, a 429, a 5xx: anything over HTTP).
    Answered,
    /// No answer within the request's or the lookup's deadline.
    TimedOut,
    /// Says nothing about whether the host answers (refused connection, guard refusal, a
    /// lookup that spent its deadline waiting for a turn).
    Neutral,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Lookups run. `timeouts`: lookups in a row that timed out; `answered`: the latest
    /// counted lookup got an answer (the host is proven).
    Closed { timeouts: u32, answered: bool },
    /// Lookups fail at once until `until`. `opened`: openings since the host last answered.
    Open {
        until: Instant,
        opened: u32,
        timeouts: u32,
    },
    /// The cool-down is over: one lookup at a time may go through as a probe.
    HalfOpen {
        probing: bool,
        opened: u32,
        timeouts: u32,
    },
}

/// Leave to run one lookup, from [`Breaker::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Whether this lookup is the half-open breaker's probe.
    probe: bool,
}

/// Why a lookup may not run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The timeouts in a row that opened the breaker.
    pub timeouts: u32,
    /// How long until the host is tried again; `None`: a probe is under way.
    pub retry_in: Option<Duration>,
}

impl Refusal {
    /// The error a refused lookup fails with: `UPSTREAM_ERROR`, saying the host is not
    /// answering and when it is tried again.
    pub fn error(&self, registry: &str) -> Error {
        let when = match self.retry_in {
            // rounded up: "in 0 s" would be wrong for the last fraction of a second
            Some(wait) => format!(
                "tried again in {} s",
                wait.as_millis().div_ceil(1000).max(1)
            ),
            None => "being tried again now".to_owned(),
        };
        Error::Transport {
            registry: registry.to_owned(),
            detail: format!(
                "not answering ({} lookups in a row timed out); {when}",
                self.timeouts
            ),
        }
    }
}

/// What [`Breaker::record`] changed, for logs and for waiting lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    /// The host answered and is proven again (its lookups may use its full share).
    Proven,
    /// The host's latest lookup timed out: it is unproven.
    Unproven,
    /// The breaker opened for this long.
    Opened(Duration),
    /// The probe got an answer: closed, and proven.
    Closed,
}

/// One host's circuit breaker: a pure state machine, time passed in.
#[derive(Debug, Clone)]
pub struct Breaker {
    settings: Settings,
    state: State,
}

impl Breaker {
    pub fn new(settings: Settings) -> Breaker {
        Breaker {
            settings,
            state: State::Closed {
                timeouts: 0,
                answered: false,
            },
        }
    }

    /// Whether the host answered its latest counted lookup and is running normally.
    pub fn proven(&self) -> bool {
        matches!(self.state, State::Closed { answered: true, .. })
    }

    /// Whether a lookup would be refused now, without changing anything (checked before a
    /// lookup queues for a turn).
    pub fn refusal(&self, now: Instant) -> Option<Refusal> {
        match self.state {
            State::Closed { .. } => None,
            State::Open {
                until, timeouts, ..
            } if now < until => Some(Refusal {
                timeouts,
                retry_in: Some(until - now),
            }),
            State::Open { .. } => None,
            State::HalfOpen {
                probing: true,
                timeouts,
                ..
            } => Some(Refusal {
                timeouts,
                retry_in: None,
            }),
            State::HalfOpen { probing: false, .. } => None,
        }
    }

    /// Lets a lookup run, or refuses it. After the cool-down the first lookup let through is
    /// the probe, and others are refused until it finishes.
    pub fn admit(&mut self, now: Instant) -> Result<Pass, Refusal> {
        if let Some(refusal) = self.refusal(now) {
            return Err(refusal);
        }
        match self.state {
            State::Closed { .. } => Ok(Pass { probe: false }),
            State::Open {
                opened, timeouts, ..
            }
            | State::HalfOpen {
                opened, timeouts, ..
            } => {
                self.state = State::HalfOpen {
                    probing: true,
                    opened,
                    timeouts,
                };
                Ok(Pass { probe: true })
            }
        }
    }

    /// Counts what a lookup let through by `pass` found. Outcomes of lookups admitted before
    /// the breaker opened are not counted once it has (the probe decides).
    pub fn record(&mut self, pass: Pass, verdict: Verdict, now: Instant) -> Change {
        match (self.state, pass.probe) {
            (
                State::HalfOpen {
                    probing: true,
                    opened,
                    timeouts,
                },
                true,
            ) => {
                if verdict == Verdict::Answered {
                    self.state = State::Closed {
                        timeouts: 0,
                        answered: true,
                    };
                    return Change::Closed;
                }
                let opened = opened.saturating_add(1);
                let timeouts = timeouts.saturating_add(u32::from(verdict == Verdict::TimedOut));
                self.open(now, opened, timeouts)
            }
            (State::Closed { timeouts, answered }, false) => match verdict {
                Verdict::Answered => {
                    self.state = State::Closed {
                        timeouts: 0,
                        answered: true,
                    };
                    if answered {
                        Change::None
                    } else {
                        Change::Proven
                    }
                }
                Verdict::TimedOut => {
                    let timeouts = timeouts.saturating_add(1);
                    if timeouts >= self.settings.threshold {
                        return self.open(now, 1, timeouts);
                    }
                    self.state = State::Closed {
                        timeouts,
                        answered: false,
                    };
                    if answered {
                        Change::Unproven
                    } else {
                        Change::None
                    }
                }
                Verdict::Neutral => Change::None,
            },
            _ => Change::None,
        }
    }

    /// A probe that ended without a verdict (its caller gave up): the next lookup probes.
    pub fn release(&mut self, pass: Pass) {
        if let (
            State::HalfOpen {
                probing: true,
                opened,
                timeouts,
            },
            true,
        ) = (self.state, pass.probe)
        {
            self.state = State::HalfOpen {
                probing: false,
                opened,
                timeouts,
            };
        }
    }

    fn open(&mut self, now: Instant, opened: u32, timeouts: u32) -> Change {
        let cool_down = self.settings.cool_down(opened);
        self.state = State::Open {
            until: now + cool_down,
            opened,
            timeouts,
        };
        Change::Opened(cool_down)
    }
}

/// The process-wide pools every lookup draws from.
#[derive(Debug)]
pub struct Shares {
    /// Every lookup holds one of these while it runs (`max_concurrent_lookups`).
    lookups: Semaphore,
    /// Lookups of unproven hosts hold one of these too ([`unproven_pool`]).
    unproven: Semaphore,
}

impl Shares {
    pub fn new(config: &ClientConfig) -> Shares {
        Shares {
            lookups: Semaphore::new(config.max_concurrent_lookups.max(1)),
            unproven: Semaphore::new(unproven_pool(config)),
        }
    }
}

/// One registry host's breaker and shares.
#[derive(Debug)]
pub struct Gate {
    host: String,
    breaker: Mutex<Breaker>,
    /// Mirrors `breaker.proven()`, read without the lock on the way in.
    proven: AtomicBool,
    /// Wakes lookups waiting for an unproven host's turn when it is proven.
    promoted: Notify,
    /// Lookups in flight to this host: `max_lookups_per_registry` (the bulkhead).
    slots: Arc<Semaphore>,
    /// Of those, what an unproven host may run: [`probation_share`].
    probation: Arc<Semaphore>,
}

impl Gate {
    pub fn new(host: &str, config: &ClientConfig) -> Gate {
        Gate {
            host: host.to_owned(),
            breaker: Mutex::new(Breaker::new(Settings::from_config(config))),
            proven: AtomicBool::new(false),
            promoted: Notify::new(),
            slots: Arc::new(Semaphore::new(config.max_lookups_per_registry.max(1))),
            probation: Arc::new(Semaphore::new(probation_share(config))),
        }
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // the breaker is plain data, consistent even if a holder panicked
        self.breaker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a lookup would be refused now: checked before it queues, so a lookup of an
    /// open host fails at once.
    pub fn refusal(&self, now: Instant) -> Option<Refusal> {
        self.breaker().refusal(now)
    }

    /// Waits for this host's turn and the pools' permits, in that order, and asks the breaker.
    /// The wait is bounded by the caller's deadline.
    pub async fn enter<'a>(self: &Arc<Self>, shares: &'a Shares) -> Result<Entry<'a>, Error> {
        let closed = || Error::Transport {
            registry: self.host.clone(),
            detail: "the client is shutting down".to_owned(),
        };
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| closed())?;
        let probation = self
            .probation_permits(&shares.unproven)
            .await
            .map_err(|_| closed())?;
        // the breaker may have opened while this lookup waited
        let pass = self
            .breaker()
            .admit(Instant::now())
            .map_err(|refusal| refusal.error(&self.host))?;
        let ticket = Ticket {
            gate: Arc::clone(self),
            pass: Some(pass),
        };
        let global = shares.lookups.acquire().await.map_err(|_| closed())?;
        Ok(Entry {
            ticket,
            started: Instant::now(),
            _global: global,
            _probation: probation,
            _slot: slot,
        })
    }

    /// For an unproven host, its probation slot and a permit of the unproven pool; nothing
    /// for a proven one. A lookup waiting here goes on without them as soon as its host is
    /// proven.
    async fn probation_permits<'a>(
        &self,
        unproven: &'a Semaphore,
    ) -> Result<Option<(OwnedSemaphorePermit, SemaphorePermit<'a>)>, tokio::sync::AcquireError>
    {
        if self.proven.load(Ordering::Acquire) {
            return Ok(None);
        }
        loop {
            // registered before the check, so a promotion between the two is not missed
            let promoted = self.promoted.notified();
            tokio::pin!(promoted);
            promoted.as_mut().enable();
            if self.proven.load(Ordering::Acquire) {
                return Ok(None);
            }
            let permits = async {
                let own = Arc::clone(&self.probation).acquire_owned().await?;
                let pooled = unproven.acquire().await?;
                Ok((own, pooled))
            };
            tokio::select! {
                permits = permits => return permits.map(Some),
                () = &mut promoted => {}
            }
        }
    }

    fn record(&self, pass: Pass, verdict: Verdict, now: Instant) {
        let change = {
            let mut breaker = self.breaker();
            let change = breaker.record(pass, verdict, now);
            // under the lock, so concurrent records leave the mirror as the breaker is
            self.proven.store(breaker.proven(), Ordering::Release);
            change
        };
        match change {
            Change::None | Change::Unproven => {}
            Change::Proven | Change::Closed => {
                self.promoted.notify_waiters();
                if change == Change::Closed {
                    tracing::info!(registry = %self.host, "registry answers again; its lookups run normally");
                }
            }
            Change::Opened(cool_down) => {
                tracing::warn!(
                    registry = %self.host,
                    cool_down_s = cool_down.as_secs(),
                    "registry is not answering; its lookups fail at once until it is tried again"
                );
            }
        }
    }
}

/// A breaker pass that must be accounted for: a probe dropped without a verdict frees the
/// probe for the next lookup.
#[derive(Debug)]
struct Ticket {
    gate: Arc<Gate>,
    pass: Option<Pass>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(pass) = self.pass.take()
            && pass.probe
        {
            self.gate.breaker().release(pass);
        }
    }
}

/// A running lookup's permits; released when dropped.
#[derive(Debug)]
pub struct Entry<'a> {
    ticket: Ticket,
    started: Instant,
    _global: SemaphorePermit<'a>,
    _probation: Option<(OwnedSemaphorePermit, SemaphorePermit<'a>)>,
    _slot: OwnedSemaphorePermit,
}

impl Entry<'_> {
    /// How long the lookup has run since it got its permits.
    pub fn running_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    /// Tells the host's breaker what the lookup found, then frees the permits.
    pub fn finish(mut self, verdict: Verdict, now: Instant) {
        if let Some(pass) = self.ticket.pass.take() {
            self.ticket.gate.record(pass, verdict, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: Settings = Settings {
        threshold: 3,
        cool_down: Duration::from_secs(30),
        max_cool_down: Duration::from_secs(300),
    };

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Opens a fresh breaker with `threshold` timeouts at `at`.
    fn opened_at(at: Instant) -> Breaker {
        let mut b = Breaker::new(SETTINGS);
        for _ in 0..SETTINGS.threshold {
            let pass = b.admit(at).expect("closed");
            b.record(pass, Verdict::TimedOut, at);
        }
        b
    }

    #[test]
    fn timeouts_in_a_row_open_it_and_an_answer_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(SETTINGS);
        assert!(!b.proven(), "a host never heard from is not proven");
        let pass = b.admit(t0).expect("closed");
        assert_eq!(b.record(pass, Verdict::Answered, t0), Change::Proven);
        assert!(b.proven());
        // two timeouts, an answer, two timeouts: never three in a row
        for verdict in [
            Verdict::TimedOut,
            Verdict::TimedOut,
            Verdict::Answered,
            Verdict::TimedOut,
        ] {
            let pass = b.admit(t0).expect("still closed");
            b.record(pass, verdict, t0);
        }
        assert!(!b.proven(), "its latest lookup timed out");
        // neutral outcomes (a refused connection) neither count nor reset
        let pass = b.admit(t0).expect("closed");
        assert_eq!(b.record(pass, Verdict::Neutral, t0), Change::None);
        let pass = b.admit(t0).expect("closed");
        assert_eq!(b.record(pass, Verdict::TimedOut, t0), Change::None);
        let pass = b.admit(t0).expect("closed");
        assert_eq!(
            b.record(pass, Verdict::TimedOut, t0),
            Change::Opened(secs(30))
        );
        let refusal = b.admit(t0 + secs(1)).expect_err("open");
        assert_eq!(
            refusal,
            Refusal {
                timeouts: 3,
                retry_in: Some(secs(29))
            }
        );
        assert_eq!(b.refusal(t0 + secs(1)), Some(refusal));
    }

    #[test]
    fn a_proven_host_is_unproven_by_one_timeout() {
        let t0 = Instant::now();
        let mut b = Breaker::new(SETTINGS);
        let pass = b.admit(t0).expect("closed");
        b.record(pass, Verdict::Answered, t0);
        let pass = b.admit(t0).expect("closed");
        assert_eq!(b.record(pass, Verdict::TimedOut, t0), Change::Unproven);
        assert!(!b.proven());
        let pass = b.admit(t0).expect("closed");
        assert_eq!(b.record(pass, Verdict::Answered, t0), Change::Proven);
    }

    #[test]
    fn after_the_cool_down_one_probe_at_a_time() {
        let t0 = Instant::now();
        let mut b = opened_at(t0);
        assert!(b.refusal(t0 + secs(29)).is_some());
        assert_eq!(b.refusal(t0 + secs(30)), None, "cool-down over");
        let probe = b.admit(t0 + secs(30)).expect("the probe");
        assert!(probe.probe);
        assert_eq!(
            b.admit(t0 + secs(31)),
            Err(Refusal {
                timeouts: 3,
                retry_in: None
            }),
            "one probe at a time"
        );
        assert!(!b.proven());
        assert_eq!(
            b.record(probe, Verdict::Answered, t0 + secs(32)),
            Change::Closed
        );
        assert!(b.proven());
        assert_eq!(b.admit(t0 + secs(32)), Ok(Pass { probe: false }));
    }

    #[test]
    fn a_failed_probe_reopens_it_for_longer_up_to_the_cap() {
        let t0 = Instant::now();
        let mut b = opened_at(t0);
        let mut now = t0;
        let mut cool_downs = Vec::new();
        for _ in 0..12 {
            now = match b.refusal(now) {
                Some(Refusal {
                    retry_in: Some(wait),
                    ..
                }) => now + wait,
                other => panic!("not open: {other:?}"),
            };
            let probe = b.admit(now).expect("the probe");
            match b.record(probe, Verdict::TimedOut, now) {
                Change::Opened(cool_down) => cool_downs.push(cool_down.as_secs()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            cool_downs,
            [60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300, 300]
        );
        // a refused connection is no answer either
        let probe = b.admit(now + secs(300)).expect("the probe");
        assert!(matches!(
            b.record(probe, Verdict::Neutral, now + secs(300)),
            Change::Opened(_)
        ));
        // once it answers, the next opening starts from the first cool-down again
        let now = now + secs(600);
        let probe = b.admit(now).expect("the probe");
        assert_eq!(b.record(probe, Verdict::Answered, now), Change::Closed);
        for _ in 0..3 {
            let pass = b.admit(now).expect("closed");
            b.record(pass, Verdict::TimedOut, now);
        }
        assert_eq!(
            b.refusal(now).and_then(|r| r.retry_in),
            Some(secs(30)),
            "back to the first cool-down"
        );
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_lookup_probe() {
        let t0 = Instant::now();
        let mut b = opened_at(t0);
        let probe = b.admit(t0 + secs(30)).expect("the probe");
        assert!(b.admit(t0 + secs(30)).is_err());
        b.release(probe);
        let next = b.admit(t0 + secs(31)).expect("a new probe");
        assert!(next.probe);
        // releasing a pass that is not the probe changes nothing
        b.release(Pass { probe: false });
        assert!(b.admit(t0 + secs(31)).is_err());
    }

    #[test]
    fn outcomes_of_lookups_admitted_before_it_opened_do_not_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(SETTINGS);
        let stale: Vec<Pass> = (0..5).map(|_| b.admit(t0).expect("closed")).collect();
        for pass in &stale[..3] {
            b.record(*pass, Verdict::TimedOut, t0);
        }
        assert!(b.refusal(t0).is_some());
        // a late answer or timeout of a lookup started earlier neither closes nor extends it
        assert_eq!(b.record(stale[3], Verdict::Answered, t0), Change::None);
        assert_eq!(
            b.record(stale[4], Verdict::TimedOut, t0 + secs(10)),
            Change::None
        );
        assert_eq!(
            b.refusal(t0 + secs(10)).and_then(|r| r.retry_in),
            Some(secs(20))
        );
        // nor while the probe is out
        let probe = b.admit(t0 + secs(30)).expect("the probe");
        assert_eq!(
            b.record(Pass { probe: false }, Verdict::Answered, t0 + secs(30)),
            Change::None
        );
        assert!(b.admit(t0 + secs(30)).is_err());
        assert_eq!(
            b.record(probe, Verdict::Answered, t0 + secs(31)),
            Change::Closed
        );
    }

    #[test]
    fn the_refusal_says_when_the_host_is_tried_again() {
        let open = Refusal {
            timeouts: 3,
            retry_in: Some(Duration::from_millis(26_100)),
        };
        assert_eq!(
            open.error("r.example").to_string(),
            "registry r.example failed: not answering (3 lookups in a row timed out); \
             tried again in 27 s"
        );
        assert_eq!(open.error("r.example").code(), "UPSTREAM_ERROR");
        let probing = Refusal {
            timeouts: 4,
            retry_in: None,
        };
        assert_eq!(
            probing.error("r.example").to_string(),
            "registry r.example failed: not answering (4 lookups in a row timed out); \
             being tried again now"
        );
    }

    #[test]
    fn settings_are_sane_whatever_the_config() {
        let config = ClientConfig {
            breaker_threshold: 0,
            breaker_cool_down: secs(60),
            breaker_max_cool_down: secs(10),
            max_concurrent_lookups: 0,
            max_lookups_per_registry: 0,
            ..ClientConfig::default()
        };
        let s = Settings::from_config(&config);
        assert_eq!(s.threshold, 1);
        assert_eq!(
            s.cool_down(5),
            secs(60),
            "the cap is at least one cool-down"
        );
        assert_eq!((probation_share(&config), unproven_pool(&config)), (1, 1));
        let defaults = ClientConfig::default();
        assert_eq!(
            (probation_share(&defaults), unproven_pool(&defaults)),
            (2, 32)
        );
        // the command line's: no slow start, every lookup of a new host at once
        let cli = ClientConfig {
            max_concurrent_lookups: 128,
            max_lookups_per_registry: 64,
            slow_start: false,
            ..ClientConfig::default()
        };
        assert_eq!((probation_share(&cli), unproven_pool(&cli)), (64, 128));
    }

    fn config(lookups: usize, per_host: usize) -> ClientConfig {
        ClientConfig {
            max_concurrent_lookups: lookups,
            max_lookups_per_registry: per_host,
            ..ClientConfig::default()
        }
    }

    /// Whether `enter` is still waiting after a moment.
    async fn waits(gate: &Arc<Gate>, shares: &Shares) -> bool {
        pending(std::pin::pin!(gate.enter(shares))).await
    }

    /// A new host's gate, with the two lookups of its probation share admitted.
    async fn probation_taken<'a>(
        host: &str,
        config: &ClientConfig,
        shares: &'a Shares,
    ) -> (Arc<Gate>, Entry<'a>, Entry<'a>) {
        let gate = Arc::new(Gate::new(host, config));
        let first = gate.enter(shares).await.expect("admitted");
        let second = gate.enter(shares).await.expect("admitted");
        (gate, first, second)
    }

    /// Whether `future` is still pending after a moment.
    async fn pending(future: std::pin::Pin<&mut impl Future>) -> bool {
        tokio::time::timeout(Duration::from_millis(50), future)
            .await
            .is_err()
    }

    #[tokio::test]
    async fn unproven_hosts_share_half_the_pool_and_two_slots_each() {
        let config = config(8, 16);
        let shares = Shares::new(&config);
        let gates: Vec<Arc<Gate>> = (0..3)
            .map(|i| Arc::new(Gate::new(&format!("silent{i}"), &config)))
            .collect();
        let mut held = Vec::new();
        // two lookups of the first host, then its third waits for its own slot
        for _ in 0..2 {
            held.push(gates[0].enter(&shares).await.expect("admitted"));
        }
        assert!(waits(&gates[0], &shares).await);
        // the second host takes the rest of the unproven half (4 of 8)
        for _ in 0..2 {
            held.push(gates[1].enter(&shares).await.expect("admitted"));
        }
        assert!(
            waits(&gates[2], &shares).await,
            "a third unproven host waits for the unproven half"
        );
        // a proven host is not held up by them
        let healthy = Arc::new(Gate::new("healthy", &config));
        healthy.proven.store(true, Ordering::Release);
        for _ in 0..4 {
            held.push(healthy.enter(&shares).await.expect("the other half"));
        }
        assert!(waits(&healthy, &shares).await, "the whole pool is in use");
        drop(held);
    }

    #[tokio::test]
    async fn lookups_waiting_on_probation_go_on_once_the_host_answers() {
        let config = config(8, 16);
        let shares = Shares::new(&config);
        let (gate, first, second) = probation_taken("new", &config, &shares).await;
        let waiting = {
            let (gate, shares) = (Arc::clone(&gate), &shares);
            async move {
                gate.enter(shares)
                    .await
                    .map(|e| e.running_for(Instant::now()))
            }
        };
        tokio::pin!(waiting);
        assert!(
            pending(waiting.as_mut()).await,
            "the probation share is taken"
        );
        // the host answers one lookup: the waiting one goes on at once, the other still runs
        first.finish(Verdict::Answered, Instant::now());
        tokio::time::timeout(Duration::from_millis(500), waiting)
            .await
            .expect("woken by the promotion")
            .expect("admitted");
        assert!(gate.proven.load(Ordering::Acquire));
        drop(second);
    }

    #[tokio::test]
    async fn an_open_gate_refuses_before_and_after_waiting() {
        let config = ClientConfig {
            breaker_threshold: 2,
            ..config(8, 16)
        };
        let shares = Shares::new(&config);
        let (gate, a, b) = probation_taken("silent", &config, &shares).await;
        let queued = {
            let (gate, shares) = (Arc::clone(&gate), &shares);
            async move { gate.enter(shares).await.map(|_| ()) }
        };
        tokio::pin!(queued);
        assert!(pending(queued.as_mut()).await);
        a.finish(Verdict::TimedOut, Instant::now());
        b.finish(Verdict::TimedOut, Instant::now());
        // the queued lookup got its turn after the breaker opened: refused, not run
        let err = queued.await.expect_err("refused");
        assert!(err.to_string().contains("not answering"), "{err}");
        assert!(gate.refusal(Instant::now()).is_some());
        // and every permit is back
        assert_eq!(gate.slots.available_permits(), 16);
        assert_eq!(gate.probation.available_permits(), 2);
        assert_eq!(shares.unproven.available_permits(), 4);
        assert_eq!(shares.lookups.available_permits(), 8);
    }
}
