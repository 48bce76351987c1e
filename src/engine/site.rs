//! The engine side of fault points (`#[chaos]`, `chaos_point!`): a cache per
//! call site of "which rule applies to me".
//!
//! Which rule matches a point depends only on the plan and the point's name
//! (a point has no method, path, host or headers), so each call site keeps
//! the answer in one `AtomicU64`: the plan's process-unique
//! [`stamp`](super::plan::Plan::stamp) in the high 48 bits and the index of
//! the first matching rule (or [`NO_RULE`]) in the low 16. While the stamp
//! is current, a point that no rule selects passes after two loads and a
//! compare, and a selected point goes straight to its rule: no string is
//! compared per call. A new plan has a new stamp, so the first call after an
//! update looks again. Stamps are unique across handles, so a call site used
//! with several handles stays correct (it looks again whenever the handle
//! changes).
// Without the `macros` feature nothing reads the cache; the counters below
// are kept all the same.
#![cfg_attr(not(feature = "macros"), allow(dead_code))]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::{Chaos, Decision, Target};

/// How many handles in the process are switched on, plus one until the
/// global handle exists. Points on the global handle check it first: while
/// it is 0 (the usual state of a service with chaos off), such a point is
/// one relaxed load of this static and a branch, and does not touch the
/// handle. The extra one makes the first such point create the global
/// handle (from the environment), which may well be on.
///
/// Kept by [`count_enabled`], called wherever a handle's switch can change
/// (its creation, `set_enabled`, its drop), and by [`global_created`]. Any
/// new code that writes `Shared::enabled` must call `count_enabled` too.
static ENABLED_HANDLES: AtomicUsize = AtomicUsize::new(1);

/// The global handle now exists (it counts itself if it is on).
pub(super) fn global_created() {
    ENABLED_HANDLES.fetch_sub(1, Ordering::Relaxed);
}

/// Records a handle's switch going from `was` to `now`.
pub(super) fn count_enabled(was: bool, now: bool) {
    match (was, now) {
        (false, true) => {
            ENABLED_HANDLES.fetch_add(1, Ordering::Relaxed);
        }
        (true, false) => {
            ENABLED_HANDLES.fetch_sub(1, Ordering::Relaxed);
        }
        _ => {}
    }
}

/// `false` when no handle in the process is switched on and the global
/// handle exists: no point on the global handle can inject anything. `true`
/// means "ask the handle".
#[inline(always)]
pub(crate) fn any_enabled() -> bool {
    ENABLED_HANDLES.load(Ordering::Relaxed) != 0
}

/// Bits of the rule index in a cache word.
const INDEX_BITS: u32 = 16;
/// The index that means "no rule matches this point".
const NO_RULE: u64 = (1 << INDEX_BITS) - 1;

/// One call site's cached rule. Starts empty (stamp 0 is never used).
#[derive(Debug, Default)]
pub(crate) struct SiteCache(AtomicU64);

impl SiteCache {
    pub(crate) const fn new() -> Self {
        SiteCache(AtomicU64::new(0))
    }
}

#[inline(always)]
fn word(stamp: u64, index: u64) -> u64 {
    (stamp << INDEX_BITS) | index
}

impl Chaos {
    /// `true` when the cache says no rule of the installed plan selects this
    /// point: one load of the plan's stamp, one of the cache, a compare.
    /// `false` means "decide" (a rule applies, or the cache is stale).
    #[inline(always)]
    pub(crate) fn point_passes(&self, cache: &SiteCache) -> bool {
        cache.0.load(Ordering::Relaxed) == word(self.inner.plan.stamp(), NO_RULE)
    }

    /// Decides for the point `name`, through and into its call site's cache.
    /// `fails` is `false` for a point that can only be delayed: a failure
    /// its rule rolls is skipped there (see `roll`).
    pub(crate) fn decide_point(&self, name: &str, cache: &SiteCache, fails: bool) -> Decision {
        self.inner.plan.with(|plan, stripe| {
            // The percentage cap counts every call, so under it a point
            // must come here each time: "no rule" is then never cached.
            #[cfg(feature = "guard")]
            let counts_calls = plan.counts_calls();
            #[cfg(not(feature = "guard"))]
            let counts_calls = false;
            #[cfg(feature = "guard")]
            if counts_calls {
                self.inner.guard.count_call(stripe);
            }
            let target = Target::point(name);
            let cached = cache.0.load(Ordering::Relaxed);
            let index = if cached >> INDEX_BITS == plan.stamp & (u64::MAX >> INDEX_BITS) {
                usize::try_from(cached & NO_RULE).ok().filter(|&i| i as u64 != NO_RULE)
            } else {
                let found = plan.first_match(&target);
                // A plan with 65535 rules or more is not cached beyond that index.
                match found.map_or(Some(NO_RULE), |i| u64::try_from(i).ok().filter(|&i| i < NO_RULE)) {
                    Some(NO_RULE) if counts_calls => cache.0.store(0, Ordering::Relaxed),
                    Some(index) => cache.0.store(word(plan.stamp, index), Ordering::Relaxed),
                    None => cache.0.store(0, Ordering::Relaxed),
                }
                found
            };
            // Points do not report outcomes to the abort conditions (a point
            // does not know how its function's call ended): no `observe`.
            match index.and_then(|i| plan.rules.get(i)) {
                Some(rule) => self.decide_matched(plan, rule, &target, Decision::PASS, stripe, fails),
                None => Decision::PASS,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Abort, Config, Match, Rule};
    use crate::{Chaos, Door};

    fn chaos(rules: &[(&str, Match)]) -> Chaos {
        let config = rules.iter().fold(Config::new(), |c, (name, when)| {
            c.rule(Rule::new(*name).when(when.clone()).abort(Abort::status(503).percentage(100.0)))
        });
        Chaos::new(config).unwrap()
    }

    #[test]
    fn the_cache_remembers_misses_and_rules_per_plan() {
        let chaos = chaos(&[
            ("http-only", Match::new().door(Door::Http)),
            ("pay", Match::new().door(Door::Point).name("payments.*")),
        ]);
        let (miss, hit) = (SiteCache::new(), SiteCache::new());
        assert!(!chaos.point_passes(&miss), "an empty cache never passes");
        assert!(chaos.decide_point("inventory.reserve", &miss, true).is_pass());
        assert!(chaos.point_passes(&miss));

        assert_eq!(chaos.decide_point("payments.charge", &hit, true).rule(), Some("pay"));
        assert!(!chaos.point_passes(&hit));
        assert_eq!(hit.0.load(Ordering::Relaxed) & NO_RULE, 1);
        assert_eq!(chaos.decide_point("payments.charge", &hit, true).rule(), Some("pay"));

        // A new plan invalidates both.
        chaos.update(Config::new().rule(Rule::new("all").abort(Abort::status(500).percentage(100.0)))).unwrap();
        assert!(!chaos.point_passes(&miss));
        assert_eq!(chaos.decide_point("inventory.reserve", &miss, true).rule(), Some("all"));
        assert_eq!(chaos.decide_point("payments.charge", &hit, true).rule(), Some("all"));
    }

    #[test]
    fn one_site_with_two_handles_follows_each() {
        let a = chaos(&[("a", Match::new().name("p"))]);
        let b = chaos(&[("b-other", Match::new().name("q"))]);
        let site = SiteCache::new();
        for _ in 0..3 {
            assert_eq!(a.decide_point("p", &site, true).rule(), Some("a"));
            assert!(b.decide_point("p", &site, true).is_pass());
            assert!(b.point_passes(&site) && !a.point_passes(&site));
        }
    }
}
