use audit_core::audited;

#[audited(level = "verbose")]
fn f() {}

fn main() {}
