use audit_core::audited;

#[audited(skip_all, skip(a))]
fn f(a: u32) -> u32 {
    a
}

fn main() {}
