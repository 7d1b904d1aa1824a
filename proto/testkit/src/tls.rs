//! Certificates made in the test (rcgen): a CA and the leaf certificates it signs, written to PEM
//! files for the servers' `--tls-*` and the clients' `--tls-ca`/`--tls-cert` flags.

use std::path::{Path, PathBuf};

use acorn_proto::{
    security::{ClientArgs, SecurityArgs},
    serve::ServeArgs,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A CA (self-signed) and what it issues.
pub struct Ca {
    /// The CA's certificate (PEM).
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("self-signed CA");
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `names`, signed by this CA: (certificate PEM, key PEM).
    pub fn issue(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        (cert.pem(), key.serialize_pem())
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write pem");
    path
}

/// Mutual TLS with a bearer token, in files under a test's directory: a CA; the server's
/// certificate for `localhost`, trusting the client certificates the CA signs and accepting the
/// token; and a client certificate the CA signed, with a token file (a `#` comment line, then the
/// token).
#[derive(Debug, Clone)]
pub struct MutualTls {
    /// The server's flags (`--tls-cert`, `--tls-key`, `--tls-client-ca`, `--auth-tokens`): put them
    /// in a `ServeArgs`.
    pub server: SecurityArgs,
    /// The client's flags (`--tls-ca`, `--tls-cert`, `--tls-key`, `--auth-token-file`).
    pub client: ClientArgs,
}

impl MutualTls {
    /// The bearer token the server accepts and the client's token file holds.
    pub const TOKEN: &str = "test-token-0123456789abcdef";

    /// Writes the certificates, keys and token file into `dir` (the client's certificate is
    /// for `client.acorn.test`).
    pub fn new(dir: &Path) -> Self {
        let ca = Ca::new("acorn test CA");
        let (cert, key) = ca.issue(&["localhost"]);
        let (client_cert, client_key) = ca.issue(&["client.acorn.test"]);
        let ca_file = write(dir, "ca.crt", &ca.pem);
        Self {
            server: SecurityArgs {
                tls_cert: Some(write(dir, "server.crt", &cert)),
                tls_key: Some(write(dir, "server.key", &key)),
                tls_client_ca: Some(ca_file.clone()),
                auth_tokens: vec![Self::TOKEN.into()],
                ..SecurityArgs::default()
            },
            client: ClientArgs {
                tls_ca: Some(ca_file),
                tls_cert: Some(write(dir, "client.crt", &client_cert)),
                tls_key: Some(write(dir, "client.key", &client_key)),
                auth_token_file: Some(write(
                    dir,
                    "token",
                    &format!("# the client's\n{}\n", Self::TOKEN),
                )),
                ..ClientArgs::default()
            },
        }
    }

    /// The tests' serving flags ([`crate::serve_args`]) with the server's side of this TLS.
    pub fn serve_args(&self) -> ServeArgs {
        ServeArgs {
            security: self.server.clone(),
            ..crate::serve_args()
        }
    }

    /// The client's TLS flags as a command line takes them: `--tls-ca`, `--tls-cert`, `--tls-key`.
    pub fn tls_flags(&self) -> Vec<String> {
        let c = &self.client;
        flags(&[
            ("--tls-ca", &c.tls_ca),
            ("--tls-cert", &c.tls_cert),
            ("--tls-key", &c.tls_key),
        ])
    }

    /// The client's token flag: `--auth-token-file`.
    pub fn token_flags(&self) -> Vec<String> {
        flags(&[("--auth-token-file", &self.client.auth_token_file)])
    }
}

fn flags(pairs: &[(&str, &Option<PathBuf>)]) -> Vec<String> {
    pairs
        .iter()
        .filter_map(|(flag, path)| Some([flag.to_string(), path.as_ref()?.to_str()?.to_owned()]))
        .flatten()
        .collect()
}
