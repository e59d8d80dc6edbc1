//! A real rsyslog (Debian's `rsyslog`, `rsyslog-openssl` and `rsyslog-relp`), started on
//! loopback ports with a configuration of its own: TCP, TLS (RFC 5425, a CA made for the run),
//! RELP and RELP over TLS (with a client certificate, as librelp asks) inputs whose messages
//! it writes, as received, one per line, to a file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[path = "../../../audit-core/tests/common/test_ca.rs"]
mod test_ca;
use std::time::{Duration, Instant};
use test_ca::TestCa;

pub struct Rsyslog {
    dir: PathBuf,
    child: Option<Child>,
    pub tcp_port: u16,
    pub tls_port: u16,
    pub relp_port: u16,
    pub relp_tls_port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Rsyslog {
    /// Makes a CA and a server certificate for `localhost`/127.0.0.1, writes the
    /// configuration and starts rsyslogd in the foreground.
    pub fn start(dir: &Path) -> Rsyslog {
        assert!(
            Path::new("/usr/sbin/rsyslogd").exists(),
            "rsyslogd is missing: apt-get install rsyslog rsyslog-openssl rsyslog-relp (.ci/run does)"
        );
        std::fs::create_dir_all(dir.join("work")).unwrap();
        let ca = TestCa::new(dir);
        ca.issue(
            "server",
            "/CN=localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        );
        ca.issue(
            "client",
            "/CN=audited-client",
            "extendedKeyUsage=clientAuth",
        );
        let (tcp_port, tls_port) = (free_port(), free_port());
        let (relp_port, relp_tls_port) = (free_port(), free_port());
        let d = dir.display();
        std::fs::write(
            dir.join("rsyslog.conf"),
            format!(
                r#"global(workDirectory="{d}/work" maxMessageSize="64k")
module(load="imtcp" maxSessions="200")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="audit") {{ action(type="omfile" file="{d}/received.log" template="raw") }}
input(type="imtcp" port="{tcp_port}" address="127.0.0.1" ruleset="audit")
input(type="imtcp" port="{tls_port}" address="127.0.0.1" ruleset="audit"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon"
      streamDriver.CAFile="{d}/ca.pem" streamDriver.CertFile="{d}/server.pem" streamDriver.KeyFile="{d}/server.key")
module(load="imrelp")
input(type="imrelp" port="{relp_port}" address="127.0.0.1" ruleset="audit")
input(type="imrelp" port="{relp_tls_port}" address="127.0.0.1" ruleset="audit" tls="on"
      tls.caCert="{d}/ca.pem" tls.myCert="{d}/server.pem" tls.myPrivKey="{d}/server.key" tls.authMode="certvalid")
"#
            ),
        )
        .unwrap();
        let mut rsyslog = Rsyslog {
            dir: dir.to_owned(),
            child: None,
            tcp_port,
            tls_port,
            relp_port,
            relp_tls_port,
        };
        rsyslog.resume();
        rsyslog
    }

    /// The CA the server's certificate is signed by.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The client certificate and key RELP over TLS is opened with.
    pub fn client_identity(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("client.pem"), self.dir.join("client.key"))
    }

    /// Starts rsyslogd (again) and waits until both ports listen.
    pub fn resume(&mut self) {
        assert!(self.child.is_none());
        let child = Command::new("/usr/sbin/rsyslogd")
            .args(["-n", "-f"])
            .arg(self.dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in [
            self.tcp_port,
            self.tls_port,
            self.relp_port,
            self.relp_tls_port,
        ] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "rsyslogd does not listen on {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// SIGTERM, as `systemctl stop rsyslog` sends, and waits for the exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            child.wait().unwrap();
        }
    }

    /// The messages received so far, as received (one per line).
    pub fn received(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("received.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
