use mischief::chaos;

unsafe extern "C" {
    #[chaos]
    fn abs(x: i32) -> i32;
}

fn main() {}
