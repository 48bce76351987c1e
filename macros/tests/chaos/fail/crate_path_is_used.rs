// The expansion goes through the path given as `crate`, not `::mischief`:
// a path that leads nowhere is an error.
use mischief::{InjectedFault, chaos};

mod platform {}

#[chaos(crate = platform::faults)]
fn charge() -> Result<(), InjectedFault> {
    Ok(())
}

fn main() {}
