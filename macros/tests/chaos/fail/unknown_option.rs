use mischief::{InjectedFault, chaos};

#[chaos(nmae = "payments.charge")]
fn charge() -> Result<(), InjectedFault> {
    Ok(())
}

fn main() {}
