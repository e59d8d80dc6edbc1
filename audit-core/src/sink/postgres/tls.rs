//! TLS to the database, as the URL's `sslmode` says (`prefer`, the default, tries TLS first;
//! `require` insists; `disable` never) and verified as libpq does: without a root certificate
//! the connection is encrypted but the server is not authenticated; with one, the server's
//! chain and host name are checked against it. Two implementations: rustls (feature
//! `postgres-rustls`, pure Rust) and the system's through native-tls (feature `postgres-tls`,
//! OpenSSL on Linux).

use std::path::PathBuf;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use super::connection::open_connection;
use crate::error::SinkError;

/// Which TLS implementation connects to PostgreSQL, when both are built in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsProvider {
    /// rustls (feature `postgres-rustls`): pure Rust; the default when it is built in.
    #[default]
    Rustls,
    /// The system's TLS through native-tls (feature `postgres-tls`): OpenSSL on Linux.
    Native,
}

/// The TLS settings of a sink or reader.
#[derive(Debug, Clone, Default)]
pub(super) struct TlsOptions {
    pub root_cert: Option<PathBuf>,
    pub verify: Option<bool>,
    pub provider: Option<TlsProvider>,
}

impl TlsOptions {
    /// Whether the server is authenticated: by default when a root certificate is given.
    #[cfg(any(feature = "postgres-tls", feature = "postgres-rustls"))]
    fn verifies(&self) -> bool {
        self.verify.unwrap_or(self.root_cert.is_some())
    }
}

/// A ready TLS connector.
#[derive(Clone)]
pub(super) enum Tls {
    #[cfg(feature = "postgres-tls")]
    Native(postgres_native_tls::MakeTlsConnector),
    #[cfg(feature = "postgres-rustls")]
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// The connector the settings and the URL's `sslmode` call for (`None`: plain TCP).
pub(super) fn connector(
    options: &TlsOptions,
    config: &tokio_postgres::Config,
) -> Result<Option<Tls>, SinkError> {
    use tokio_postgres::config::SslMode;
    if config.get_ssl_mode() == SslMode::Disable {
        return Ok(None);
    }
    let asks_tls = config.get_ssl_mode() == SslMode::Require
        || options.root_cert.is_some()
        || options.verify.is_some();
    let provider = options
        .provider
        .unwrap_or(if cfg!(feature = "postgres-rustls") {
            TlsProvider::Rustls
        } else {
            TlsProvider::Native
        });
    // With both implementations built in, the fallback arms cannot be reached.
    #[allow(unreachable_patterns)]
    match provider {
        #[cfg(feature = "postgres-rustls")]
        TlsProvider::Rustls => rustls_connector(options).map(Some),
        #[cfg(feature = "postgres-tls")]
        TlsProvider::Native => native_connector(options).map(Some),
        // `prefer` without a TLS build: plain TCP, as libpq without SSL support does.
        _ if !asks_tls => Ok(None),
        other => Err(SinkError::Tls(format!(
            "asked for (sslmode=require or a TLS option) with {other:?}, but audit-core was built without its {} feature: enable it",
            match other {
                TlsProvider::Rustls => "`postgres-rustls`",
                TlsProvider::Native => "`postgres-tls`",
            }
        ))),
    }
}

/// Connects with `tls` (or plain TCP), waiting at most `timeout`.
pub(super) async fn connect(
    config: &tokio_postgres::Config,
    tls: Option<&Tls>,
    timeout: Duration,
) -> Result<Client, String> {
    match tls {
        None => open_connection(config.connect(NoTls), timeout).await,
        #[cfg(feature = "postgres-tls")]
        Some(Tls::Native(tls)) => open_connection(config.connect(tls.clone()), timeout).await,
        #[cfg(feature = "postgres-rustls")]
        Some(Tls::Rustls(tls)) => open_connection(config.connect(tls.clone()), timeout).await,
        #[cfg(not(any(feature = "postgres-tls", feature = "postgres-rustls")))]
        Some(tls) => match *tls {},
    }
}

#[cfg(feature = "postgres-tls")]
fn native_connector(options: &TlsOptions) -> Result<Tls, SinkError> {
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(path) = &options.root_cert {
        let pem = std::fs::read(path)
            .map_err(|e| SinkError::io("read the TLS root certificate", path, e))?;
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
            SinkError::Tls(format!("{} is not a PEM certificate: {e}", path.display()))
        })?;
        builder.add_root_certificate(cert);
    }
    let verify = options.verifies();
    builder.danger_accept_invalid_certs(!verify);
    builder.danger_accept_invalid_hostnames(!verify);
    let connector = builder
        .build()
        .map_err(|e| SinkError::Tls(format!("could not be set up: {e}")))?;
    Ok(Tls::Native(postgres_native_tls::MakeTlsConnector::new(
        connector,
    )))
}

/// rustls: with a root certificate, only that root is trusted (libpq's `sslrootcert`);
/// verifying without one trusts the system's roots; not verifying encrypts only.
#[cfg(feature = "postgres-rustls")]
fn rustls_connector(options: &TlsOptions) -> Result<Tls, SinkError> {
    use std::sync::Arc;

    let provider = crate::sink::tls::provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SinkError::Tls(format!("could not be set up: {e}")))?;
    let config = if options.verifies() {
        let roots = crate::sink::tls::root_store(options.root_cert.as_deref())?;
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth()
    };
    Ok(Tls::Rustls(tokio_postgres_rustls::MakeRustlsConnect::new(
        config,
    )))
}

/// libpq's `sslmode=require` without a root: the connection is encrypted, the server's
/// certificate is not checked (its handshake signatures still are).
#[cfg(feature = "postgres-rustls")]
#[derive(Debug)]
struct EncryptOnly(std::sync::Arc<rustls::crypto::CryptoProvider>);

#[cfg(feature = "postgres-rustls")]
impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
