// A body that does not parse: the compiler's own error at its place, and ours saying the
// function is not audited; the function itself still reaches the compiler.
use audit_core::audited;

#[audited("broken")]
fn broken(x: u32) -> u32 {
    let y = x +;
    y
}

fn main() {
    let _ = broken;
}
