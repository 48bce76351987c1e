//! Compile tests of `#[chaos]` and `chaos_point!`: every supported shape
//! compiles (and runs), every unsupported one fails with a clear message.
//!
//! Regenerate the `.stderr` snapshots with
//! `TRYBUILD=overwrite cargo test -p mischief-macros --test trybuild`, then
//! review them. Not run with `--cfg mischief_off`, where the points vanish
//! (`tests/off.rs` covers that build).
#![cfg(not(mischief_off))]

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/chaos/pass/*.rs");
    t.pass("tests/chaos_point/pass/*.rs");
    t.compile_fail("tests/chaos/fail/*.rs");
    t.compile_fail("tests/chaos_point/fail/*.rs");
}
