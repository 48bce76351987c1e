use mischief::{InjectedFault, chaos};

#[chaos]
const fn answer() -> Result<u8, InjectedFault> {
    Ok(42)
}

fn main() {}
