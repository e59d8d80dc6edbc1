use audit_core::audited;

#[audited("first", name = "second")]
fn f() {}

fn main() {}
