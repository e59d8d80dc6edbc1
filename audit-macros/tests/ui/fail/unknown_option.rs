use audit_core::audited;

#[audited(colour = "red")]
fn f() {}

fn main() {}
