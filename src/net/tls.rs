//! The TLS client configuration for the room's own streams (TURN over TLS): the system's root
//! certificates plus the ones in `[network] ca_file` (a private CA, or a TLS-inspecting proxy's).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("[network] ca_file {path}: {why}")]
    CaFile { path: PathBuf, why: String },
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A client configuration trusting the system's roots and every certificate in `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    // A system without a bundle still works with `ca_file` alone: the errors are only logged.
    let system = rustls_native_certs::load_native_certs();
    for error in &system.errors {
        tracing::debug!("system root certificates: {error}");
    }
    roots.add_parsable_certificates(system.certs);
    if let Some(path) = ca_file {
        let problem = |why: String| TlsError::CaFile {
            path: path.to_path_buf(),
            why,
        };
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| problem(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| problem(e.to_string()))?;
        if certificates.is_empty() {
            return Err(problem("no PEM certificate in it".into()));
        }
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|e| problem(format!("not a usable CA certificate: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// What went wrong in a TLS handshake, in words that name the certificate problem (an
/// unknown issuer is what a TLS-inspecting proxy without its CA in `ca_file` gives).
pub fn describe(error: &std::io::Error) -> String {
    let inner = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) => {
            "certificate not trusted: unknown issuer (add its CA to [network] ca_file)".into()
        }
        Some(rustls::Error::InvalidCertificate(why)) => format!("invalid certificate: {why:?}"),
        Some(other) => other.to_string(),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = client_config(Some(&path)).unwrap_err().to_string();
        assert!(
            error.contains("ca_file") && error.contains("ca.pem"),
            "{error}"
        );
        let missing = dir.path().join("missing.pem");
        let error = client_config(Some(&missing)).unwrap_err().to_string();
        assert!(error.contains("missing.pem"), "{error}");
    }
}
