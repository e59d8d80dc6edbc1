use audit_core::audited;

#[audited("fallible", err(Json))]
fn fallible() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
