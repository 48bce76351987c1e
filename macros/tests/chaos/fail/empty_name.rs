use mischief::{InjectedFault, chaos};

#[chaos(name = "")]
fn charge() -> Result<(), InjectedFault> {
    Ok(())
}

fn main() {}
