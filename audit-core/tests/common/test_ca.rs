//! A certificate authority made for one test run by the `openssl` command (Debian's
//! `openssl`), and the certificates it issues: for the HTTPS receiver of the HTTP sink's tests
//! and for the rsyslog of the syslog tests (included by path there).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestCa {
    dir: PathBuf,
}

impl TestCa {
    /// Makes `ca.key` and `ca.pem` (subject `/CN=audit-test-ca`, valid two days) in `dir`.
    pub fn new(dir: &Path) -> TestCa {
        let ca = TestCa {
            dir: dir.to_owned(),
        };
        ca.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=audit-test-ca",
            "-days",
            "2",
        ]);
        ca
    }

    /// The CA's certificate.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Issues `<name>.pem` and `<name>.key` for `subject` with these X.509 `extensions`
    /// (`subjectAltName=…`, `extendedKeyUsage=…`, one per line); returns their paths.
    pub fn issue(&self, name: &str, subject: &str, extensions: &str) -> (PathBuf, PathBuf) {
        let (key, csr, cert, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.cnf"),
        );
        self.openssl(&[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", subject,
        ]);
        std::fs::write(
            self.dir.join(&ext),
            format!("basicConstraints=CA:FALSE\n{extensions}\n"),
        )
        .unwrap();
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
        (self.dir.join(cert), self.dir.join(key))
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .current_dir(&self.dir)
            .args(args)
            .output()
            .expect("openssl (the command) makes the test's certificates");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
