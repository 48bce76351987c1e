//! The compile-time off switch, in both builds:
//!
//! ```sh
//! cargo test -p mischief-macros --test off
//! CARGO_TARGET_DIR=target/mischief-off RUSTFLAGS="--cfg mischief_off" MISCHIEF_EXPECT_OFF=1 \
//!     cargo test -p mischief-macros --test off
//! ```
//!
//! (A separate target directory keeps the two builds from evicting each
//! other's artifacts.)

use std::sync::LazyLock;

use mischief::config::{Abort, Config, Rule};
use mischief::{Chaos, InjectedFault, chaos, chaos_point};

/// Fails every call of every point.
static ALWAYS: LazyLock<Chaos> = LazyLock::new(|| {
    Chaos::new(Config::new().rule(Rule::new("always").abort(Abort::status(503).percentage(100.0)))).unwrap()
});

#[chaos(name = "off.charge", chaos = ALWAYS)]
fn charge() -> Result<u8, InjectedFault> {
    Ok(1)
}

#[chaos(name = "off.charge_async", chaos = ALWAYS)]
async fn charge_async() -> Result<u8, InjectedFault> {
    Ok(2)
}

fn point() -> Result<u8, InjectedFault> {
    chaos_point!("off.point", chaos = ALWAYS);
    Ok(3)
}

/// The build is the one the command asked for: `MISCHIEF_EXPECT_OFF`
/// comes with `--cfg mischief_off` (CI sets both), so a flag lost on the
/// way (another `RUSTFLAGS` source taking precedence) fails here instead of
/// testing the normal build twice.
#[test]
fn this_is_the_build_asked_for() {
    let off_expected = std::env::var_os("MISCHIEF_EXPECT_OFF").is_some();
    assert_eq!(mischief::compiled_in(), !off_expected, "MISCHIEF_EXPECT_OFF set: {off_expected}");
    assert_eq!(mischief::compiled_in(), !cfg!(mischief_off));
}

#[tokio::test]
async fn points_inject_only_when_compiled_in() {
    let results = [charge(), charge_async().await, point()];
    let matched = ALWAYS.status().rules[0].matched;
    if mischief::compiled_in() {
        assert!(results.iter().all(Result::is_err), "{results:?}");
        assert_eq!(matched, 3);
    } else {
        assert_eq!(results.map(Result::unwrap), [1, 2, 3]);
        assert_eq!(matched, 0, "the engine is never asked");
    }
}

/// With points compiled out, the attribute leaves the plain function: not
/// even its options are evaluated.
#[cfg(mischief_off)]
mod off {
    use super::*;

    // Only named in the attribute's option, which the off build discards.
    #[allow(dead_code)]
    fn unreachable_handle() -> &'static Chaos {
        panic!("the handle expression must not be evaluated")
    }

    #[chaos(chaos = unreachable_handle())]
    fn plain() -> Result<u8, InjectedFault> {
        Ok(4)
    }

    /// `chaos_point!` expands to nothing: it even fits in a `const fn`
    /// (and one that does not return a `Result`).
    const fn in_const() -> u8 {
        chaos_point!("off.const");
        5
    }

    const _: () = assert!(in_const() == 5);

    #[test]
    fn the_attribute_leaves_the_plain_function() {
        assert_eq!(plain().unwrap(), 4);
    }
}
