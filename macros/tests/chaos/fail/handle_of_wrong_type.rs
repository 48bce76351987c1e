use mischief::{InjectedFault, chaos};

struct Settings {
    failure_rate: f64,
}

#[chaos(chaos = settings.failure_rate)]
fn charge(settings: &Settings) -> Result<(), InjectedFault> {
    Ok(())
}

fn main() {
    let _ = charge(&Settings { failure_rate: 0.1 });
}
