//! RELP, the Reliable Event Logging Protocol (rsyslog's `imrelp`, syslog-ng's `relp()`): each
//! message is a numbered transaction the collector answers once it has taken the message, so
//! a sender knows what arrived and sends again exactly what did not.
//!
//! Frames are `TXNR SP COMMAND SP DATALEN [SP DATA] LF`; a session opens with `open` (offering
//! `commands=syslog`), carries `syslog` transactions answered by `rsp` frames (`200 OK`), and
//! ends with `close`; the collector may announce its own end with `serverclose`.

use std::collections::BTreeMap;
use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connection::Stream;

/// What the session offers when it opens.
const OFFERS: &str = concat!(
    "relp_version=0\nrelp_software=audited,",
    env!("CARGO_PKG_VERSION"),
    ",https://github.com/audited-rs/audited\ncommands=syslog"
);

/// Transaction numbers run from 1 to 999,999,999, then start again at 1.
const MAX_TXNR: u32 = 999_999_999;

/// A RELP session over a stream (TCP or TLS).
pub(super) struct Session<S> {
    stream: S,
    next: u32,
    read: Vec<u8>,
}

fn protocol(detail: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, detail.into())
}

/// One frame the collector sent.
#[derive(Debug, PartialEq, Eq)]
struct Frame {
    txnr: u32,
    command: String,
    data: Vec<u8>,
}

/// Parses a frame from the start of `buf`: the frame and its length, or `None` when more bytes
/// are needed.
fn parse(buf: &[u8]) -> io::Result<Option<(Frame, usize)>> {
    let mut fields = Vec::with_capacity(3);
    let mut start = 0;
    let mut at = 0;
    // TXNR SP COMMAND SP DATALEN, then SP DATA LF or LF.
    while fields.len() < 3 {
        let Some(&byte) = buf.get(at) else {
            return Ok(None);
        };
        if byte == b' ' || (fields.len() == 2 && byte == b'\n') {
            fields.push(&buf[start..at]);
            start = at + 1;
        }
        at += 1;
        if at > 64 && fields.len() < 3 {
            return Err(protocol("a RELP frame header longer than 64 bytes"));
        }
    }
    let text = |b: &[u8]| {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| protocol("a RELP header that is not text"))
    };
    let txnr: u32 = text(fields[0])?
        .parse()
        .map_err(|_| protocol("a RELP transaction number that is not a number"))?;
    let command = text(fields[1])?;
    let len: usize = text(fields[2])?
        .parse()
        .map_err(|_| protocol("a RELP data length that is not a number"))?;
    if len == 0 {
        // `TXNR COMMAND 0 LF`: the LF was the header's end.
        return Ok(buf.get(at - 1).filter(|b| **b == b'\n').map(|_| {
            (
                Frame {
                    txnr,
                    command,
                    data: Vec::new(),
                },
                at,
            )
        }));
    }
    let end = at + len;
    if buf.len() < end + 1 {
        return Ok(None);
    }
    if buf[end] != b'\n' {
        return Err(protocol("a RELP frame without its trailing LF"));
    }
    Ok(Some((
        Frame {
            txnr,
            command,
            data: buf[at..end].to_vec(),
        },
        end + 1,
    )))
}

impl<S: Stream> Session<S> {
    /// Opens a session on `stream`: offers `syslog` and checks the collector takes it.
    pub async fn open(stream: S) -> io::Result<Session<S>> {
        let mut session = Session {
            stream,
            next: 1,
            read: Vec::new(),
        };
        let txnr = session.write_frame("open", OFFERS.as_bytes()).await?;
        session.stream.flush().await?;
        let answer = session.read_frame().await?;
        if answer.txnr != txnr || answer.command != "rsp" || !answer.data.starts_with(b"200") {
            return Err(protocol(format!(
                "the collector refused the RELP session: {}",
                String::from_utf8_lossy(&answer.data)
            )));
        }
        let offers = String::from_utf8_lossy(&answer.data);
        if !offers
            .lines()
            .any(|l| l.starts_with("commands=") && l.split([',', '=']).any(|c| c == "syslog"))
        {
            return Err(protocol(
                "the collector's RELP session does not take syslog messages",
            ));
        }
        Ok(session)
    }

    async fn write_frame(&mut self, command: &str, data: &[u8]) -> io::Result<u32> {
        let txnr = self.next;
        self.next = if self.next >= MAX_TXNR {
            1
        } else {
            self.next + 1
        };
        let mut frame = format!("{txnr} {command} {}", data.len()).into_bytes();
        if !data.is_empty() {
            frame.push(b' ');
            frame.extend_from_slice(data);
        }
        frame.push(b'\n');
        self.stream.write_all(&frame).await?;
        Ok(txnr)
    }

    async fn read_frame(&mut self) -> io::Result<Frame> {
        loop {
            if let Some((frame, used)) = parse(&self.read)? {
                self.read.drain(..used);
                return Ok(frame);
            }
            let mut chunk = [0u8; 4096];
            self.stream.quickack();
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the collector closed the RELP session",
                ));
            }
            self.read.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends `messages` as `syslog` transactions, all at once, and waits until the collector
    /// answered each `200 OK`, marking `answered[i]` as each answer comes. Any other answer, or
    /// a closed session, is an error; the messages answered before it were taken, the others
    /// must be sent again (`answered` says which, also when the caller's timeout cuts this
    /// short).
    pub async fn send(&mut self, messages: &[Vec<u8>], answered: &mut [bool]) -> io::Result<()> {
        let mut waiting = BTreeMap::new();
        for (index, message) in messages.iter().enumerate() {
            waiting.insert(self.write_frame("syslog", message).await?, index);
        }
        self.stream.flush().await?;
        while !waiting.is_empty() {
            let frame = self.read_frame().await?;
            match frame.command.as_str() {
                "rsp" if frame.data.starts_with(b"200") => {
                    if let Some(slot) = waiting
                        .remove(&frame.txnr)
                        .and_then(|i| answered.get_mut(i))
                    {
                        *slot = true;
                    }
                }
                "rsp" => {
                    return Err(protocol(format!(
                        "the collector refused a message: {}",
                        String::from_utf8_lossy(&frame.data)
                    )))
                }
                "serverclose" => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the collector ended the RELP session",
                    ))
                }
                other => return Err(protocol(format!("an unexpected RELP command `{other}`"))),
            }
        }
        Ok(())
    }

    /// Whether the collector announced the session's end (a `serverclose`, or a closed
    /// stream), without waiting.
    pub async fn ended(&mut self) -> bool {
        use futures_util::FutureExt;
        let mut chunk = [0u8; 256];
        match self.stream.read(&mut chunk).now_or_never() {
            None => false,
            Some(Ok(0) | Err(_)) => true,
            // The collector says nothing outside an answer but `serverclose`.
            Some(Ok(n)) => {
                self.read.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Ends the session politely (`close`), bounded by the caller's timeout.
    pub async fn close(&mut self) -> io::Result<()> {
        self.write_frame("close", b"").await?;
        self.stream.flush().await?;
        let _ = self.read_frame().await;
        self.stream.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Stream for tokio::io::DuplexStream {
        fn quickack(&self) {}
    }

    #[test]
    fn frames_parse_with_and_without_data() {
        let (frame, used) = parse(b"7 rsp 6 200 OK\nrest").unwrap().unwrap();
        assert_eq!(
            frame,
            Frame {
                txnr: 7,
                command: "rsp".into(),
                data: b"200 OK".to_vec()
            }
        );
        assert_eq!(used, 15);
        let (frame, used) = parse(b"0 serverclose 0\n").unwrap().unwrap();
        assert_eq!(
            (frame.txnr, frame.command.as_str(), frame.data.len(), used),
            (0, "serverclose", 0, 16)
        );
        assert!(parse(b"7 rsp 6 200").unwrap().is_none());
        assert!(parse(b"7 rs").unwrap().is_none());
        assert!(parse(b"x rsp 0\n").is_err());
        assert!(parse(b"7 rsp 2 OKX").is_err());
    }

    #[tokio::test]
    async fn a_session_sends_transactions_and_waits_for_their_answers() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let collector = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = Vec::new();
            loop {
                let mut chunk = [0u8; 1024];
                let n = server.read(&mut chunk).await.unwrap();
                if n == 0 {
                    return got;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some((frame, used)) = parse(&buf).unwrap() {
                    buf.drain(..used);
                    let reply = match frame.command.as_str() {
                        "open" => "200 OK\nrelp_version=0\ncommands=syslog".to_owned(),
                        "close" => String::new(),
                        _ => {
                            got.push(String::from_utf8(frame.data).unwrap());
                            // Answers may come in any order.
                            "200 OK".to_owned()
                        }
                    };
                    let out = if reply.is_empty() {
                        format!("{} rsp 0\n", frame.txnr)
                    } else {
                        format!("{} rsp {} {reply}\n", frame.txnr, reply.len())
                    };
                    server.write_all(out.as_bytes()).await.unwrap();
                }
            }
        });
        let mut session = Session::open(client).await.unwrap();
        let mut answered = [false; 2];
        session
            .send(
                &[
                    b"<134>1 - - - - - - one".to_vec(),
                    b"<134>1 - - - - - - two".to_vec(),
                ],
                &mut answered,
            )
            .await
            .unwrap();
        assert_eq!(answered, [true, true]);
        session.close().await.unwrap();
        drop(session);
        assert_eq!(
            collector.await.unwrap(),
            vec!["<134>1 - - - - - - one", "<134>1 - - - - - - two"]
        );
    }
}
