//! `crate = <path>`: mischief reached through a re-export (an in-house
//! platform crate, say), for every shape of function.
#![deny(warnings)]

mod platform {
    pub use mischief as faults;
}

use platform::faults::{Chaos, InjectedFault, chaos};

#[derive(Debug)]
#[allow(dead_code)]
struct Error(InjectedFault);

impl From<InjectedFault> for Error {
    fn from(fault: InjectedFault) -> Self {
        Error(fault)
    }
}

static CHAOS: std::sync::LazyLock<Chaos> = std::sync::LazyLock::new(Chaos::disabled);

#[chaos(crate = platform::faults, chaos = *CHAOS)]
fn charge(cents: u64) -> Result<u64, Error> {
    Ok(cents)
}

#[chaos(crate = crate::platform::faults, chaos = *CHAOS, name = "log")]
fn log(line: &str) -> usize {
    line.len()
}

#[chaos(crate = platform::faults, chaos = *CHAOS)]
async fn fetch(id: u64) -> Result<u64, Error> {
    Ok(id)
}

fn main() {
    assert_eq!(charge(5).unwrap(), 5);
    assert_eq!(log("abc"), 3);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert_eq!(rt.block_on(fetch(7)).unwrap(), 7);
}
