//! The web surface's accounts on disk (`accounts.json`, 0600): people (name, role, argon2id
//! password hash) and API tokens (name, role, SHA-256 of the secret: tokens are long random
//! strings, so a fast hash is enough and keeps every API call cheap), and the one-time setup
//! code while the room is unclaimed (`setup.json`, which `salle status` reads to show it).

use super::files;
use super::Role;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("hashing: {0}")]
    Hash(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// argon2id, PHC string.
    pub password_hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    /// Public part of the token (`salle_<id>_<secret>`), to find it and to revoke it.
    pub id: String,
    pub name: String,
    pub role: Role,
    /// SHA-256 of the secret part, hex.
    pub secret_sha256: String,
    pub created: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Accounts {
    pub users: Vec<User>,
    pub tokens: Vec<Token>,
}

/// What `setup.json` holds: read by `salle status` (and the room screen) on the device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SetupInfo {
    /// The one-time code while nobody has claimed the room.
    pub setup_code: Option<String>,
    pub fingerprint: String,
    pub url: String,
}

pub struct Store {
    dir: PathBuf,
    pub accounts: Accounts,
    pub setup_code: Option<String>,
}

/// Letters and digits nobody confuses on a screen (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

impl Store {
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        files::private_dir(dir).map_err(io(dir))?;
        let path = dir.join("accounts.json");
        let accounts: Accounts = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Accounts::default(),
            Err(e) => return Err(io(&path)(e)),
        };
        let setup_code = accounts.users.is_empty().then(new_setup_code);
        Ok(Store {
            dir: dir.to_path_buf(),
            accounts,
            setup_code,
        })
    }

    pub fn claimed(&self) -> bool {
        !self.accounts.users.is_empty()
    }

    pub fn save(&self) -> Result<(), StoreError> {
        let path = self.dir.join("accounts.json");
        let bytes = serde_json::to_vec_pretty(&self.accounts).expect("accounts serialise");
        files::write_private(&path, &bytes).map_err(|source| StoreError::Io { path, source })
    }

    /// Publishes the setup code and fingerprint for `salle status` (mode 0600: root and the
    /// web surface's user read it).
    pub fn write_setup_info(&self, fingerprint: &str, url: &str) -> Result<(), StoreError> {
        let path = self.dir.join("setup.json");
        let info = SetupInfo {
            setup_code: self.setup_code.clone(),
            fingerprint: fingerprint.into(),
            url: url.into(),
        };
        let bytes = serde_json::to_vec_pretty(&info).expect("setup info serialises");
        files::write_private(&path, &bytes).map_err(|source| StoreError::Io { path, source })
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.accounts.users.iter().find(|u| u.name == name)
    }

    /// The role of a presented token (`salle_<id>_<secret>`), if it is one of ours.
    pub fn token_role(&self, presented: &str) -> Option<(String, Role)> {
        let rest = presented.strip_prefix("salle_")?;
        let (id, secret) = rest.split_once('_')?;
        let token = self.accounts.tokens.iter().find(|t| t.id == id)?;
        let digest = sha256_hex(secret.as_bytes());
        #[allow(deprecated)] // still the one constant-time comparison ring offers
        let same = ring::constant_time::verify_slices_are_equal(
            digest.as_bytes(),
            token.secret_sha256.as_bytes(),
        )
        .is_ok();
        same.then(|| (format!("token:{}", token.name), token.role))
    }

    /// Makes a token; returns it in full (shown once) and keeps only its hash.
    pub fn add_token(&mut self, name: &str, role: Role, now: &str) -> (Token, String) {
        let id = hex(&random::<6>());
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(random::<32>())
            .replace('_', "-");
        let token = Token {
            id: id.clone(),
            name: name.into(),
            role,
            secret_sha256: sha256_hex(secret.as_bytes()),
            created: now.into(),
        };
        self.accounts.tokens.push(token.clone());
        (token, format!("salle_{id}_{secret}"))
    }
}

pub fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt =
        SaltString::encode_b64(&random::<16>()).map_err(|e| StoreError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that both cases take as long.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password, never valid").expect("argon2 works"))
}

pub fn new_setup_code() -> String {
    let bytes = random::<8>();
    let chars: String = bytes
        .iter()
        .map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

pub fn random<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source works");
    bytes
}

pub fn random_string(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("the system's random source works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_codes_use_the_unambiguous_alphabet() {
        let code = new_setup_code();
        assert_eq!(code.len(), 9);
        assert!(code
            .chars()
            .all(|c| c == '-' || CODE_ALPHABET.contains(&(c as u8))));
    }

    #[test]
    fn a_token_is_found_by_its_secret_and_not_by_another() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let (_, full) = store.add_token("script", Role::Operator, "now");
        assert_eq!(
            store.token_role(&full),
            Some(("token:script".into(), Role::Operator))
        );
        let forged = format!("{}x", &full[..full.len() - 1]);
        assert_eq!(store.token_role(&forged), None);
        assert!(!serde_json::to_string(&store.accounts)
            .unwrap()
            .contains(full.rsplit('_').next().unwrap()));
    }

    #[test]
    fn passwords_are_argon2id() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
    }
}
