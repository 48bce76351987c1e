//! The installed plan, and a per-thread cache of it for the hot path.
//!
//! `ArcSwap::load` is lock-free but costs two atomic read-modify-writes (take
//! and release a debt slot), which dominated the enabled pass path. Instead
//! each thread keeps its own `Arc<Plan>` per engine with the version it was
//! read at; a decision reads the version (one load) and uses the cached plan
//! while the version is unchanged. An update stores the new plan, then bumps
//! the version, so a thread that sees the new version also sees the new plan.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use super::plan::Plan;
use super::stats::{SHARED_STRIPE, Stripe};
#[cfg(feature = "guard")]
use crate::guard::GuardState;

/// Engines a thread keeps a cached plan for; the least recently used goes
/// first.
const CACHED_ENGINES: usize = 8;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Current {
    /// Unique for the process's lifetime (never reused, unlike an address).
    id: u64,
    version: AtomicU64,
    plan: ArcSwap<Plan>,
    /// The installed plan's [`Plan::stamp`], readable without loading the
    /// plan: fault points compare it with their cached one (see `site.rs`).
    stamp: AtomicU64,
    /// The engine's guardrail state, which cache entries carry.
    #[cfg(feature = "guard")]
    guard: Arc<GuardState>,
}

struct Entry {
    id: u64,
    version: u64,
    plan: Arc<Plan>,
    /// The engine's guardrail state, for recording the outcome of a call
    /// without finding the engine (see [`with_cached`]).
    #[cfg(feature = "guard")]
    guard: Arc<GuardState>,
}

/// What a thread keeps for the engines: its counter stripe and its cached
/// plans, in one thread-local so a decision reaches both with one access.
struct Local {
    stripe: Stripe,
    plans: RefCell<Vec<Entry>>,
}

thread_local! {
    static LOCAL: Local = Local { stripe: Stripe::claim(), plans: RefCell::new(Vec::new()) };
}

/// This thread's counter stripe (the shared one during thread exit).
#[inline]
pub(crate) fn stripe() -> usize {
    LOCAL.try_with(|l| l.stripe.index()).unwrap_or(SHARED_STRIPE)
}

impl Current {
    pub(crate) fn new(plan: Plan, #[cfg(feature = "guard")] guard: Arc<GuardState>) -> Self {
        #[cfg(feature = "guard")]
        guard.set_plan_stamp(plan.stamp);
        Current {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            version: AtomicU64::new(0),
            stamp: AtomicU64::new(plan.stamp),
            plan: ArcSwap::from_pointee(plan),
            #[cfg(feature = "guard")]
            guard,
        }
    }

    /// The engine's id: unique for the process's lifetime.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The plan, for admin paths (status, config, updates).
    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<Plan>> {
        self.plan.load()
    }

    /// Installs `plan` for every decision that starts after this returns.
    pub(crate) fn store(&self, plan: Plan) {
        let stamp = plan.stamp;
        self.plan.store(Arc::new(plan));
        self.version.fetch_add(1, Ordering::Release);
        self.stamp.store(stamp, Ordering::Release);
        #[cfg(feature = "guard")]
        self.guard.set_plan_stamp(stamp);
    }

    /// The installed plan's stamp: one atomic load. During an update it may
    /// still name the previous plan for a moment, like a decision that
    /// started just before the update.
    #[inline(always)]
    #[cfg_attr(not(any(feature = "macros", feature = "guard")), allow(dead_code))]
    pub(crate) fn stamp(&self) -> u64 {
        self.stamp.load(Ordering::Relaxed)
    }

    /// Runs `f` with the current plan, from this thread's cache when it is
    /// up to date. Falls back to a plain load when the cache is not usable
    /// (re-entered from a tracing subscriber, or during thread exit).
    /// `f` also gets the thread's counter stripe.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl Fn(&Plan, usize) -> R) -> R {
        let version = self.version.load(Ordering::Acquire);
        LOCAL
            .try_with(|local| {
                let stripe = local.stripe.index();
                let Ok(mut cache) = local.plans.try_borrow_mut() else {
                    return f(&self.plan.load(), stripe);
                };
                // The engine used last on this thread is first: one compare
                // of id and version in the common case of one engine.
                if !cache.first().is_some_and(|e| e.id == self.id && e.version == version) {
                    self.refresh(&mut cache, version);
                }
                match cache.first() {
                    Some(e) => f(&e.plan, stripe),
                    None => f(&self.plan.load(), stripe),
                }
            })
            .unwrap_or_else(|_| f(&self.plan.load(), SHARED_STRIPE))
    }

    /// Brings this engine's entry, up to date, to the front of the cache.
    #[inline(never)]
    fn refresh(&self, cache: &mut Vec<Entry>, version: u64) {
        match cache.iter().position(|e| e.id == self.id) {
            Some(pos) => {
                let e = &mut cache[pos];
                if e.version != version {
                    e.plan = self.plan.load_full();
                    e.version = version;
                }
                cache[..=pos].rotate_right(1);
            }
            None => {
                // Entries of engines dropped since go first: they would hold
                // their plans (and clocks) until pushed out.
                #[cfg(feature = "guard")]
                cache.retain(|e| e.guard.plan_stamp() != 0);
                if cache.len() == CACHED_ENGINES {
                    cache.pop();
                }
                cache.insert(
                    0,
                    Entry {
                        id: self.id,
                        version,
                        plan: self.plan.load_full(),
                        #[cfg(feature = "guard")]
                        guard: Arc::clone(&self.guard),
                    },
                );
            }
        }
    }
}

/// Runs `f` with engine `id`'s plan stamped `stamp`, the engine's
/// guardrail state and the thread's counter stripe, if that plan is still
/// the engine's installed one and this thread's cache holds it: no lock, no
/// lookup of the engine. `None` otherwise: another thread decided the call,
/// the engine installed another plan since (a cache that has not seen the
/// update yet still holds the old one), or the engine is gone (its entries
/// linger in caches until evicted).
#[cfg(feature = "guard")]
#[inline]
pub(crate) fn with_cached<R>(id: u64, stamp: u64, f: impl FnOnce(&Plan, &GuardState, usize) -> R) -> Option<R> {
    LOCAL
        .try_with(|local| {
            // Only a shared borrow: `f` may log, and a subscriber that makes
            // a decision meanwhile finds the cache borrowed and loads the
            // plan itself (see `Current::with`).
            let cache = local.plans.try_borrow().ok()?;
            let entry = cache.iter().find(|e| e.id == id && e.plan.stamp == stamp)?;
            if entry.guard.plan_stamp() != stamp {
                return None;
            }
            Some(f(&entry.plan, &entry.guard, local.stripe.index()))
        })
        .ok()
        .flatten()
}
