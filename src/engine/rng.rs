//! The engine's random numbers: a thread-local wyrand generator, or a
//! counter-based sequence when a seed is configured.
//!
//! wyrand is small, fast and passes the usual statistical batteries; it is not
//! meant for cryptography, and fault injection needs none.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

const WY0: u64 = 0xa076_1d64_78bd_642f;
const WY1: u64 = 0xe703_7ed1_a0b4_28db;

#[inline]
fn mix(s: u64) -> u64 {
    let t = u128::from(s) * u128::from(s ^ WY1);
    ((t >> 64) as u64) ^ (t as u64)
}

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

fn entropy() -> u64 {
    // Each `RandomState` has fresh keys (random per thread, then incremented),
    // so hashing a constant gives a different value every time.
    RandomState::new().hash_one(0x6d69_7363_6869_6566_u64) | 1
}

/// Where random draws come from.
#[derive(Debug)]
pub(crate) enum Rng {
    /// Each thread has its own generator seeded from the OS.
    Thread,
    /// The n-th draw of the plan is always the same for a given seed,
    /// whichever thread makes it.
    Seeded { seed: u64, draws: AtomicU64 },
}

impl Rng {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        match seed {
            None => Rng::Thread,
            Some(seed) => Rng::Seeded { seed, draws: AtomicU64::new(0) },
        }
    }

    /// A uniformly distributed `u64`.
    #[inline]
    pub(crate) fn next_u64(&self) -> u64 {
        match self {
            Rng::Thread => STATE.with(|s| {
                let mut x = s.get();
                if x == 0 {
                    x = entropy();
                }
                x = x.wrapping_add(WY0);
                s.set(x);
                mix(x)
            }),
            Rng::Seeded { seed, draws } => {
                let n = draws.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
                mix(seed.wrapping_add(n.wrapping_mul(WY0)))
            }
        }
    }

    /// A uniformly distributed value in `0..=max`.
    #[inline]
    pub(crate) fn up_to(&self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        ((u128::from(self.next_u64()) * u128::from(max + 1)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_repeat_and_differ_by_seed() {
        let draw = |seed| {
            let rng = Rng::new(Some(seed));
            (0..64).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
    }

    #[test]
    fn thread_rng_is_roughly_uniform() {
        // 100_000 draws into 10 buckets: each bucket is Binomial(n, 0.1),
        // sigma = sqrt(n * 0.1 * 0.9) ~ 95; a 6 sigma bound never flakes.
        let rng = Rng::Thread;
        let n = 100_000u64;
        let mut buckets = [0u64; 10];
        for _ in 0..n {
            buckets[rng.up_to(9) as usize] += 1;
        }
        let sigma = ((n as f64) * 0.1 * 0.9).sqrt();
        for b in buckets {
            assert!(((b as f64) - (n as f64) * 0.1).abs() < 6.0 * sigma, "{buckets:?}");
        }
    }

    #[test]
    fn up_to_stays_in_range() {
        let rng = Rng::new(Some(1));
        // In range, and every value of it drawn about equally: each of the
        // four has n = 10,000 draws at p = 1/4, so within 5 sigma
        // (sqrt(n p (1 - p)) = 43.3) of 2,500.
        let mut seen = [0u32; 4];
        for _ in 0..10_000 {
            let v = rng.up_to(3);
            assert!(v <= 3, "{v}");
            seen[v as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n.abs_diff(2_500) <= 217), "{seen:?}");
        assert!((0..100).all(|_| rng.up_to(0) == 0));
        assert!((0..100).any(|_| rng.up_to(u64::MAX) > u64::MAX / 2), "the whole range is reachable");
    }
}
