use audit_core::audited;

#[audited]
struct NotAFunction;

fn main() {}
