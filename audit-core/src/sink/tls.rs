//! rustls client settings shared by the sinks that speak TLS (PostgreSQL, syslog, HTTP): the
//! roots a server is verified against, from a PEM file or the system's store.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::error::SinkError;

/// The certificates of `ca` (a PEM file), or the system's roots when `None`.
pub(crate) fn root_store(ca: Option<&Path>) -> Result<rustls::RootCertStore, SinkError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let not_pem = |e: &dyn std::fmt::Display| {
                SinkError::Tls(format!("{} is not a PEM certificate: {e}", path.display()))
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| not_pem(&e))?
                .collect::<Result<_, _>>()
                .map_err(|e| not_pem(&e))?;
            if certs.is_empty() {
                return Err(not_pem(&"no certificate in it"));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| not_pem(&e))?;
            }
        }
        None => {
            let system = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(system.certs);
            if added == 0 {
                return Err(SinkError::Tls(
                    "no system root certificate found to verify the server: give one (a PEM file) in the sink's settings".into(),
                ));
            }
        }
    }
    Ok(roots)
}

/// A client configuration that verifies servers against `roots`, and shows the server the
/// certificate and key in `identity` (PEM files) when given: mutual TLS, which RFC 5425
/// collectors and RELP over TLS ask for.
#[cfg(any(feature = "syslog", feature = "http"))]
pub(crate) fn verifying_client(
    roots: rustls::RootCertStore,
    identity: Option<(&Path, &Path)>,
) -> Result<rustls::ClientConfig, SinkError> {
    use rustls::pki_types::PrivateKeyDer;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SinkError::Tls(format!("could not be set up: {e}")))?
        .with_root_certificates(roots);
    let Some((cert, key)) = identity else {
        return Ok(builder.with_no_client_auth());
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| SinkError::Tls(format!("{} is not a PEM certificate: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| SinkError::Tls(format!("{} is not a PEM private key: {e}", key.display())))?;
    builder
        .with_client_auth_cert(chain, key)
        .map_err(|e| SinkError::Tls(format!("the client certificate cannot be used: {e}")))
}

/// The ring provider, for settings that build their own verifier.
#[cfg(feature = "postgres-rustls")]
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
