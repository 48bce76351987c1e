use mischief::chaos_point;

fn log_line(line: &str) -> usize {
    chaos_point!("log.write");
    line.len()
}

fn main() {
    let _ = log_line("x");
}
