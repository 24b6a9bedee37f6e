//! The device's HTTPS identity: a configured certificate, or one generated at first start and
//! kept (0600) in the state directory. Its SHA-256 fingerprint is what people compare with the
//! one on the room screen and in `salle status` before trusting the console.

use super::files;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no certificate in it (PEM expected)", .0.display())]
    NoCertificate(PathBuf),
    #[error("{}: no private key in it (PEM expected)", .0.display())]
    NoKey(PathBuf),
    #[error("{}: {message}", path.display())]
    BadPem { path: PathBuf, message: String },
    #[error("generating the device certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("[web] certificate and key go together: set both or neither")]
    HalfConfigured,
}

/// The server's TLS configuration and the certificate's fingerprint.
pub struct Identity {
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the leaf certificate (DER), as `AB:CD:...`.
    pub fingerprint: String,
}

/// Loads the configured certificate, or the generated one (making it at first start).
pub fn identity(
    certificate: Option<&Path>,
    key: Option<&Path>,
    state_dir: &Path,
    host_name: &str,
) -> Result<Identity, TlsError> {
    let (cert_path, key_path) = match (certificate, key) {
        (Some(c), Some(k)) => (c.to_path_buf(), k.to_path_buf()),
        (None, None) => {
            let cert = state_dir.join("device-cert.pem");
            let key = state_dir.join("device-key.pem");
            if !cert.exists() || !key.exists() {
                generate(&cert, &key, host_name)?;
            }
            (cert, key)
        }
        _ => return Err(TlsError::HalfConfigured),
    };
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Io {
            path: path.into(),
            source,
        })
    };
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(&cert_path)?)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::BadPem {
            path: cert_path.clone(),
            message: e.to_string(),
        })?;
    let leaf = chain
        .first()
        .ok_or_else(|| TlsError::NoCertificate(cert_path.clone()))?;
    let fingerprint = fingerprint(leaf.as_ref());
    let key = PrivateKeyDer::from_pem_slice(&read(&key_path)?)
        .map_err(|_| TlsError::NoKey(key_path.clone()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Identity {
        config: Arc::new(config),
        fingerprint,
    })
}

/// A self-signed certificate for the device's names (host name, `<host>.local`, localhost).
fn generate(cert: &Path, key: &Path, host_name: &str) -> Result<(), TlsError> {
    let names = vec![
        host_name.to_string(),
        format!("{host_name}.local"),
        "localhost".to_string(),
    ];
    let rcgen::CertifiedKey {
        cert: c,
        signing_key,
    } = rcgen::generate_simple_self_signed(names)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Io { path, source }
    };
    files::write_private(key, signing_key.serialize_pem().as_bytes()).map_err(io(key))?;
    files::write_private(cert, c.pem().as_bytes()).map_err(io(cert))?;
    tracing::info!("generated the device certificate {}", cert.display());
    Ok(())
}

/// SHA-256 of DER bytes as colon-separated upper-case hex, the way browsers show it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
