//! Connections to the collector: TCP, TLS (rustls) or UDP, and how to tell whether the
//! collector is still reading.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;

use super::relp::Session;

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// RFC 6587 octet counting over TCP (default port 514).
    Tcp,
    /// RFC 5425: TLS, octet counting (default port 6514).
    Tls,
    /// RFC 5426: one datagram per message (default port 514). Nothing tells a sender that a
    /// datagram was lost: use it only where the collector offers nothing else.
    Udp,
    /// RELP (rsyslog's `imrelp`, default port 2514): the collector answers each message once
    /// it has taken it, so nothing is lost across its restarts and only what was in flight
    /// when it went may be sent twice.
    Relp,
    /// RELP over TLS.
    RelpTls,
}

impl Transport {
    /// The port used when the address names none.
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tls => 6514,
            Transport::Tcp | Transport::Udp => 514,
            Transport::Relp | Transport::RelpTls => 2514,
        }
    }
}

/// A stream a RELP session runs on: TCP or TLS.
pub(super) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {
    /// Asks the kernel to acknowledge what arrives next at once (Linux `TCP_QUICKACK`).
    ///
    /// A collector answers a window of transactions with small frames; with Nagle's algorithm
    /// on its side (librelp's), every answer after the first waits for our acknowledgement of
    /// the first, which the kernel delays by up to 40 ms: a whole window then took 40 ms
    /// instead of a round trip. Not permanent, so it is asked again before each read.
    fn quickack(&self);
}

impl Stream for TcpStream {
    fn quickack(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let _ = self.set_quickack(true);
    }
}

impl Stream for TlsStream<TcpStream> {
    fn quickack(&self) {
        Stream::quickack(self.get_ref().0);
    }
}

impl Stream for Box<dyn Stream> {
    fn quickack(&self) {
        (**self).quickack();
    }
}

pub(super) enum Connection {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Udp(UdpSocket),
    Relp(Session<Box<dyn Stream>>),
}

/// What a look at the connection found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Health {
    /// Open; nothing to say.
    Open,
    /// The collector closed it after reading everything it had been sent.
    Closed,
    /// The collector closed it and dropped bytes it had not read (a reset, now or in answer
    /// to bytes that reached it after it closed).
    Reset,
}

impl Connection {
    pub async fn open(
        transport: Transport,
        address: &str,
        tls: Option<(&Arc<rustls::ClientConfig>, &str)>,
        timeout: Duration,
    ) -> io::Result<Connection> {
        let timed_out = || {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {timeout:?}"),
            )
        };
        if transport == Transport::Udp {
            let socket = UdpSocket::bind(if address.starts_with('[') {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            })
            .await?;
            socket.connect(address).await?;
            return Ok(Connection::Udp(socket));
        }
        let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| timed_out())??;
        stream.set_nodelay(true)?;
        let relp = |stream: Box<dyn Stream>| async move {
            tokio::time::timeout(timeout, Session::open(stream))
                .await
                .map_err(|_| timed_out())?
                .map(Connection::Relp)
        };
        match (transport, tls) {
            (Transport::Relp, _) => relp(Box::new(stream) as Box<dyn Stream>).await,
            (Transport::Tls | Transport::RelpTls, Some((config, server_name))) => {
                let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
                    .map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("`{server_name}` is not a TLS server name: {e}"),
                        )
                    })?;
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                let tls = tokio::time::timeout(timeout, connector.connect(name, stream))
                    .await
                    .map_err(|_| timed_out())??;
                if transport == Transport::RelpTls {
                    return relp(Box::new(tls) as Box<dyn Stream>).await;
                }
                Ok(Connection::Tls(Box::new(tls)))
            }
            _ => Ok(Connection::Tcp(stream)),
        }
    }

    /// Sends `bytes`: the frames of a batch (TCP, TLS), or one message (UDP).
    pub async fn send(&mut self, bytes: &[u8], timeout: Duration) -> io::Result<()> {
        let sent = async {
            match self {
                Connection::Relp(_) => {
                    Err(io::Error::other("a RELP session sends messages, not bytes"))
                }
                Connection::Tcp(stream) => {
                    stream.write_all(bytes).await?;
                    stream.flush().await
                }
                Connection::Tls(stream) => {
                    stream.write_all(bytes).await?;
                    stream.flush().await
                }
                Connection::Udp(socket) => socket.send(bytes).await.map(|_| ()),
            }
        };
        tokio::time::timeout(timeout, sent).await.map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the collector took no bytes for {timeout:?}"),
            )
        })?
    }

    /// Sends `messages` in a RELP session and waits until the collector took each; `answered`
    /// says which it took, also when this fails.
    pub async fn send_relp(
        &mut self,
        messages: &[Vec<u8>],
        answered: &mut [bool],
        timeout: Duration,
    ) -> io::Result<()> {
        let Connection::Relp(session) = self else {
            return Err(io::Error::other("not a RELP session"));
        };
        tokio::time::timeout(timeout, session.send(messages, answered))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the collector answered no RELP transaction for {timeout:?}"),
                )
            })?
    }

    /// Ends the connection politely where the protocol has a way (RELP `close`, TLS
    /// `close_notify`).
    pub async fn close(&mut self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, async {
            match self {
                Connection::Relp(session) => session.close().await,
                Connection::Tls(stream) => stream.shutdown().await,
                Connection::Tcp(stream) => stream.shutdown().await,
                Connection::Udp(_) => Ok(()),
            }
        })
        .await;
    }

    /// Whether the collector still reads, without waiting. A collector never sends on a
    /// syslog connection, so a readable socket means it closed: with a FIN after reading
    /// everything, or with a reset (now or when our later bytes reached a closed socket,
    /// which the socket's pending error tells).
    pub async fn health(&mut self) -> Health {
        let mut byte = [0u8; 64];
        let read = match self {
            Connection::Udp(_) => return Health::Open,
            // Every message was answered before `send` returned: nothing to send again.
            Connection::Relp(session) => {
                return if session.ended().await {
                    Health::Closed
                } else {
                    Health::Open
                }
            }
            Connection::Tcp(stream) => stream.read(&mut byte).now_or_never(),
            Connection::Tls(stream) => stream.read(&mut byte).now_or_never(),
        };
        match read {
            None | Some(Ok(1..)) => Health::Open,
            Some(Err(_)) => Health::Reset,
            Some(Ok(0)) => {
                // A reset answering bytes that arrived after the collector's close comes
                // right behind its FIN.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let stream = match self {
                    Connection::Tcp(stream) => stream,
                    Connection::Tls(stream) => stream.get_ref().0,
                    Connection::Udp(_) | Connection::Relp(_) => return Health::Open,
                };
                match stream.take_error() {
                    Ok(None) => Health::Closed,
                    _ => Health::Reset,
                }
            }
        }
    }
}
