use mischief::chaos;

#[chaos]
struct Payments {
    provider: String,
}

fn main() {}
