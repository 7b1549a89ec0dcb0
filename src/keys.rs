//! The service's own keys: the Ed25519 key that signs publications (served as a JWK Set
//! so portals can check what they show), and the key of the audit chain's MACs. Neither
//! lives in the database, so an insider with database access alone can neither forge a
//! publication nor re-chain rewritten audit events.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::config::KeysConfig;

/// The file a development signing key is made in, inside `keys.dev_dir`.
pub const DEV_SIGNING_KEY: &str = "quanze-dev-signing-key.pem";
/// The file a development audit key is made in, inside `keys.dev_dir`.
pub const DEV_AUDIT_KEY: &str = "quanze-dev-audit-key.hex";

/// A public key in a JWK Set (RFC 8037: an Ed25519 key is `kty` OKP, `crv` Ed25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    /// The key's id: its RFC 7638 thumbprint.
    pub kid: String,
    /// `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

impl Jwk {
    /// The JWK of a public key.
    pub fn of(key: &VerifyingKey) -> Jwk {
        let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let thumbprint = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            kid: URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes())),
            x,
            alg: Some("EdDSA".into()),
            key_use: Some("sig".into()),
        }
    }

    /// The Ed25519 public key this JWK carries.
    pub fn verifying_key(&self) -> Result<VerifyingKey, String> {
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return Err(format!(
                "key {} is {}/{}, not OKP/Ed25519",
                self.kid, self.kty, self.crv
            ));
        }
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&self.x)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("key {} has no 32-byte x", self.kid))?;
        VerifyingKey::from_bytes(&bytes).map_err(|e| format!("key {}: {e}", self.kid))
    }
}

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct JwkSet {
    /// The current key first, then retired keys that old signatures still name.
    pub keys: Vec<Jwk>,
}

/// The protected header of quanze's signatures.
#[derive(Serialize, Deserialize)]
struct JwsHeader {
    alg: String,
    kid: String,
}

impl JwkSet {
    /// Checks a detached JWS (RFC 7515 Appendix F, `header..signature`) over `payload`;
    /// returns the id of the key that made it.
    pub fn verify_detached(&self, jws: &str, payload: &[u8]) -> Result<String, String> {
        let (header, middle, signature) = split_compact(jws)?;
        if !middle.is_empty() {
            return Err("the signature is not detached: it carries a payload".into());
        }
        self.verify_parts(header, &URL_SAFE_NO_PAD.encode(payload), signature)
    }

    /// Checks a compact JWS that carries its payload; returns the payload.
    pub fn verify_compact(&self, jws: &str) -> Result<Vec<u8>, String> {
        let (header, payload, signature) = split_compact(jws)?;
        self.verify_parts(header, payload, signature)?;
        URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| "the payload is not base64url".into())
    }

    fn verify_parts(&self, header: &str, payload: &str, signature: &str) -> Result<String, String> {
        let header_json = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| "the header is not base64url".to_string())?;
        let parsed: JwsHeader = serde_json::from_slice(&header_json)
            .map_err(|e| format!("the header is not a JWS header: {e}"))?;
        if parsed.alg != "EdDSA" {
            return Err(format!("algorithm {} is not EdDSA", parsed.alg));
        }
        let jwk = self
            .keys
            .iter()
            .find(|k| k.kid == parsed.kid)
            .ok_or_else(|| format!("no key {} in the key set", parsed.kid))?;
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("the signature is not 64 bytes of base64url")?;
        let input = format!("{header}.{payload}");
        jwk.verifying_key()?
            .verify_strict(input.as_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| format!("the signature does not match (key {})", parsed.kid))?;
        Ok(parsed.kid)
    }
}

fn split_compact(jws: &str) -> Result<(&str, &str, &str), String> {
    let mut parts = jws.trim().split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() && !s.is_empty() => Ok((h, p, s)),
        _ => Err("a compact JWS has three parts separated by dots".into()),
    }
}

/// The key that signs publications, and the public keys of those it replaced.
pub struct SigningKeys {
    current: SigningKey,
    header: String,
    set: JwkSet,
}

impl SigningKeys {
    /// The current key and the retired public keys.
    pub fn new(current: SigningKey, retired: Vec<VerifyingKey>) -> SigningKeys {
        let jwk = Jwk::of(&current.verifying_key());
        let header = serde_json::to_vec(&JwsHeader {
            alg: "EdDSA".into(),
            kid: jwk.kid.clone(),
        })
        .expect("a header serialises");
        let mut keys = vec![jwk];
        for key in retired {
            let retired = Jwk::of(&key);
            if !keys.contains(&retired) {
                keys.push(retired);
            }
        }
        SigningKeys {
            current,
            header: URL_SAFE_NO_PAD.encode(header),
            set: JwkSet { keys },
        }
    }

    /// The id of the current key.
    pub fn kid(&self) -> &str {
        &self.set.keys[0].kid
    }

    /// The public keys, current first.
    pub fn jwk_set(&self) -> &JwkSet {
        &self.set
    }

    fn sign_input(&self, payload_b64: &str) -> String {
        let input = format!("{}.{payload_b64}", self.header);
        URL_SAFE_NO_PAD.encode(self.current.sign(input.as_bytes()).to_bytes())
    }

    /// A detached JWS over `payload` (RFC 7515 Appendix F): `header..signature`.
    pub fn sign_detached(&self, payload: &[u8]) -> String {
        let signature = self.sign_input(&URL_SAFE_NO_PAD.encode(payload));
        format!("{}..{signature}", self.header)
    }

    /// A compact JWS that carries `payload`.
    pub fn sign_compact(&self, payload: &[u8]) -> String {
        let payload = URL_SAFE_NO_PAD.encode(payload);
        let signature = self.sign_input(&payload);
        format!("{}.{payload}.{signature}", self.header)
    }
}

/// The key of the audit chain's HMAC-SHA256.
#[derive(Clone)]
pub struct AuditKey(Vec<u8>);

impl AuditKey {
    /// The shortest key accepted, in bytes.
    pub const MIN_BYTES: usize = 32;

    /// A key from its bytes; too short a key is refused.
    pub fn new(bytes: Vec<u8>) -> Result<AuditKey, String> {
        if bytes.len() < Self::MIN_BYTES {
            return Err(format!(
                "an audit key has at least {} bytes, this one {}",
                Self::MIN_BYTES,
                bytes.len()
            ));
        }
        Ok(AuditKey(bytes))
    }

    /// The key's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Reads a key file: hex text.
    pub fn read(path: &Path) -> Result<AuditKey, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the audit key {}: {e}", path.display()))?;
        let bytes = hex::decode(text.trim())
            .map_err(|_| format!("the audit key {} is not hex text", path.display()))?;
        AuditKey::new(bytes).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// Both keys, as configured.
pub struct ServiceKeys {
    /// Signs publications.
    pub signing: SigningKeys,
    /// Keys the audit chain.
    pub audit: AuditKey,
    /// Development keys in use, with where they are, for the start-up log.
    pub development: Vec<PathBuf>,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no randomness from the system: {e}"))?;
    Ok(bytes)
}

/// A new signing key as PKCS#8 PEM (what `openssl genpkey -algorithm ed25519` writes).
pub fn new_signing_key_pem() -> Result<String, String> {
    let key = SigningKey::from_bytes(&random_bytes::<32>()?);
    Ok(key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode the key: {e}"))?
        .to_string())
}

/// A new audit key as hex text.
pub fn new_audit_key_hex() -> Result<String, String> {
    Ok(format!("{}\n", hex::encode(random_bytes::<32>()?)))
}

/// Writes a new key file; never overwrites one (a lost key cannot be made again).
pub fn write_new_key_file(path: &Path, text: &str) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads a signing key (PKCS#8 PEM).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the signing key {}: {e}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
        format!(
            "{} is not an Ed25519 private key in PKCS#8 PEM: {e}",
            path.display()
        )
    })
}

/// Reads a public key: a PEM public key, or the private key it belongs to.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the key {}: {e}", path.display()))?;
    VerifyingKey::from_public_key_pem(&pem)
        .or_else(|_| SigningKey::from_pkcs8_pem(&pem).map(|k| k.verifying_key()))
        .map_err(|_| format!("{} holds no Ed25519 key in PEM", path.display()))
}

/// The public key of a signing key, as PEM.
pub fn public_key_pem(key: &VerifyingKey) -> Result<String, String> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode the key: {e}"))
}

/// The development key at `path`, made now if it is not there. Several processes may
/// start at once: the key is written beside and linked into place, so each reads the
/// one that won.
fn development_key(path: &Path, make: fn() -> Result<String, String>) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let scratch = path.with_extension(format!("new-{}", hex::encode(random_bytes::<8>()?)));
    write_new_key_file(&scratch, &make()?)?;
    let linked = std::fs::hard_link(&scratch, path);
    let _ = std::fs::remove_file(&scratch);
    match linked {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(format!("cannot create {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

impl ServiceKeys {
    /// Loads the configured keys, or makes and uses development keys where none is
    /// configured.
    pub fn load(config: &KeysConfig) -> Result<ServiceKeys, String> {
        let mut development = Vec::new();
        let mut configured = |file: &str, dev_name: &str, make| -> Result<PathBuf, String> {
            if !file.is_empty() {
                return Ok(PathBuf::from(file));
            }
            let path = Path::new(&config.dev_dir).join(dev_name);
            development_key(&path, make)?;
            development.push(path.clone());
            Ok(path)
        };
        let signing_path = configured(
            &config.signing_key_file,
            DEV_SIGNING_KEY,
            new_signing_key_pem,
        )?;
        let audit_path = configured(&config.audit_key_file, DEV_AUDIT_KEY, new_audit_key_hex)?;
        let retired = config
            .retired_signing_keys
            .iter()
            .map(|file| read_public_key(Path::new(file)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ServiceKeys {
            signing: SigningKeys::new(read_signing_key(&signing_path)?, retired),
            audit: AuditKey::read(&audit_path)?,
            development,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SigningKeys {
        SigningKeys::new(SigningKey::from_bytes(&[7; 32]), Vec::new())
    }

    #[test]
    fn a_detached_signature_verifies_over_its_payload_only() {
        let keys = keys();
        let jws = keys.sign_detached(b"{\"a\":1}");
        assert!(jws.contains(".."), "{jws}");
        assert_eq!(
            keys.jwk_set().verify_detached(&jws, b"{\"a\":1}").unwrap(),
            keys.kid()
        );
        assert!(keys.jwk_set().verify_detached(&jws, b"{\"a\":2}").is_err());
        let compact = keys.sign_compact(b"anchor");
        assert_eq!(keys.jwk_set().verify_compact(&compact).unwrap(), b"anchor");
        assert!(keys.jwk_set().verify_detached(&compact, b"anchor").is_err());
    }

    #[test]
    fn the_key_id_is_the_rfc_7638_thumbprint() {
        // RFC 8037 Appendix A.3: the thumbprint of its example key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(
            Jwk::of(&key).kid,
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn a_signature_by_a_key_not_in_the_set_is_refused() {
        let other = SigningKeys::new(SigningKey::from_bytes(&[9; 32]), Vec::new());
        let jws = other.sign_detached(b"x");
        assert!(keys()
            .jwk_set()
            .verify_detached(&jws, b"x")
            .unwrap_err()
            .contains("no key"));
        // A retired key stays in the set, so what it signed still verifies.
        let rotated = SigningKeys::new(
            SigningKey::from_bytes(&[7; 32]),
            vec![SigningKey::from_bytes(&[9; 32]).verifying_key()],
        );
        assert!(rotated.jwk_set().verify_detached(&jws, b"x").is_ok());
    }

    #[test]
    fn keys_round_trip_through_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.pem");
        write_new_key_file(&path, &new_signing_key_pem().unwrap()).unwrap();
        assert!(
            write_new_key_file(&path, "x").is_err(),
            "an existing key is never overwritten"
        );
        let key = read_signing_key(&path).unwrap();
        assert_eq!(read_public_key(&path).unwrap(), key.verifying_key());
        let audit = dir.path().join("audit.hex");
        write_new_key_file(&audit, &new_audit_key_hex().unwrap()).unwrap();
        assert_eq!(AuditKey::read(&audit).unwrap().bytes().len(), 32);
        std::fs::write(dir.path().join("short"), "abcd").unwrap();
        assert!(AuditKey::read(&dir.path().join("short")).is_err());
    }
}
