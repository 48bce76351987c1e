use mischief::{InjectedFault, chaos};

#[chaos(name = "payments.charge", name = "payments.refund")]
fn charge() -> Result<(), InjectedFault> {
    Ok(())
}

fn main() {}
