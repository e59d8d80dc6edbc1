//! Compile-time behaviour of `#[audited]`: every supported form compiles without warnings under
//! `#![deny(warnings)]`; every misuse fails with the message in its `.stderr` file.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
