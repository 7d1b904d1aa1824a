//! Transport security and authorization for every acorn server, configured by [`SecurityArgs`]
//! (flattened into [`crate::serve::ServeArgs`]):
//!
//! - TLS (rustls, ring provider) from PEM files: `--tls-cert` and `--tls-key`; with
//!   `--tls-client-ca` every client must present a certificate that CA signed (mTLS), and one that
//!   it did not sign is refused during the TLS handshake.
//! - Bearer tokens (`authorization: Bearer <token>`) from `--auth-tokens-file` (one a line) and/or
//!   `ACORN_AUTH_TOKENS` (comma-separated). When any is configured, every call but health
//!   (`grpc.health.v1`) and reflection needs one of them (so every acorn RPC: the writes and the
//!   reads of stored results alike), else it is answered `UNAUTHENTICATED`. Presented
//!   tokens are compared in constant time (`subtle`) over their SHA-256 digests, so neither the
//!   contents nor the lengths of the configured tokens leak through timing; no token is ever logged.
//! - `--reflection false` turns reflection off; `--health-listen` adds a plaintext listener that
//!   serves only `grpc.health.v1` (kubelet's native gRPC probes cannot speak TLS).
//! - [`ClientArgs`] and [`Bearer`]: the same from the client side (the CA of the server's
//!   certificate, a client certificate, the token sent).

use std::{
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tonic::{
    codegen::http,
    transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig},
};

/// Command-line flags of transport security and authorization (part of `ServeArgs`).
#[derive(Debug, Clone, clap::Args)]
pub struct SecurityArgs {
    /// TLS certificate chain (PEM). With --tls-key the server speaks TLS only.
    #[arg(long, env = "ACORN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) of --tls-cert.
    #[arg(long, env = "ACORN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM) of client certificates: with it every client must present a
    /// certificate one of them signed (mutual TLS); others are refused at the handshake.
    #[arg(long, env = "ACORN_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// File of bearer tokens, one a line (blank lines and lines starting with # are skipped).
    /// With any token configured, every acorn RPC needs `authorization: Bearer <token>`.
    #[arg(long, env = "ACORN_AUTH_TOKENS_FILE")]
    pub auth_tokens_file: Option<PathBuf>,
    /// Bearer tokens, comma-separated (prefer the environment or the file: flags show in `ps`).
    #[arg(
        long,
        env = "ACORN_AUTH_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub auth_tokens: Vec<String>,
    /// Serve gRPC reflection (v1 and v1alpha).
    #[arg(long, env = "ACORN_REFLECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub reflection: bool,
    /// Also serve grpc.health.v1 alone, in plaintext, on this address (for probes that cannot
    /// speak TLS, such as kubelet's gRPC probes).
    #[arg(long, env = "ACORN_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,
}

impl Default for SecurityArgs {
    /// What the flags default to: plaintext, no tokens (every call open), reflection on.
    fn default() -> Self {
        Self {
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            auth_tokens_file: None,
            auth_tokens: Vec::new(),
            reflection: true,
            health_listen: None,
        }
    }
}

impl SecurityArgs {
    /// The server TLS configuration, `None` without `--tls-cert`. Reads the files now, so that a
    /// missing or unreadable file stops the server at startup with the file's name.
    pub fn tls(&self) -> anyhow::Result<Option<ServerTlsConfig>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let identity = Identity::from_pem(read(cert, "--tls-cert")?, read(key, "--tls-key")?);
        let mut tls = ServerTlsConfig::new().identity(identity);
        if let Some(ca) = &self.tls_client_ca {
            tls = tls.client_ca_root(Certificate::from_pem(read(ca, "--tls-client-ca")?));
        }
        Ok(Some(tls))
    }

    /// The bearer tokens of `--auth-tokens-file` and `--auth-tokens`, `None` when there are none
    /// (every call is then let through).
    pub fn tokens(&self) -> anyhow::Result<Option<Tokens>> {
        let mut tokens: Vec<String> = self
            .auth_tokens
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(path) = &self.auth_tokens_file {
            let text = String::from_utf8(read(path, "--auth-tokens-file")?)
                .with_context(|| format!("--auth-tokens-file {}: not UTF-8", path.display()))?;
            tokens.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        Tokens::new(&tokens)
    }
}

fn read(path: &Path, flag: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{flag} {}", path.display()))
}

/// The accepted bearer tokens, kept as SHA-256 digests.
#[derive(Clone)]
pub struct Tokens(Arc<[[u8; 32]]>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.0.len())
    }
}

impl Tokens {
    /// The tokens accepted, `None` for an empty list. A token must be visible ASCII without
    /// spaces (what an HTTP/2 `authorization` header can carry after `Bearer `), at least 16
    /// characters long.
    pub fn new(tokens: &[impl AsRef<str>]) -> anyhow::Result<Option<Self>> {
        if tokens.is_empty() {
            return Ok(None);
        }
        let mut digests = Vec::with_capacity(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
            let token = token.as_ref();
            anyhow::ensure!(
                token.len() >= 16 && token.bytes().all(|b| b.is_ascii_graphic()),
                "bearer token #{}: must be at least 16 visible ASCII characters without spaces",
                i + 1
            );
            digests.push(Sha256::digest(token.as_bytes()).into());
        }
        Ok(Some(Self(digests.into())))
    }

    /// Whether `presented` is one of the tokens: every configured token is compared, in constant
    /// time, whatever matches.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        self.0
            .iter()
            .fold(subtle::Choice::from(0), |found, t| found | t.ct_eq(&digest))
            .into()
    }

    /// The number of tokens configured.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false (an empty list is `None`, see [`Tokens::new`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether a call to `path` (`/package.Service/Method`) needs a token: all but health and
/// reflection (so every acorn service's, and any unknown path).
fn needs_token(path: &str) -> bool {
    !(path.starts_with("/grpc.health.v1.Health/")
        || path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/"))
}

/// Why a call was refused (never the token itself).
fn check(tokens: &Tokens, headers: &http::HeaderMap) -> Result<(), &'static str> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or("missing bearer token: send the metadata `authorization: Bearer <token>`")?;
    let value = value.as_bytes();
    let token = value
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
        .and_then(|_| value.get(7..))
        .ok_or("the authorization metadata is not of the form `Bearer <token>`")?;
    if tokens.accepts(token) {
        Ok(())
    } else {
        Err("invalid bearer token")
    }
}

/// Answers `UNAUTHENTICATED` to calls that need a token (see [`needs_token`]) and lack a valid one.
#[derive(Debug, Clone)]
pub(crate) struct AuthLayer {
    tokens: Option<Tokens>,
}

impl AuthLayer {
    pub(crate) fn new(tokens: Option<Tokens>) -> Self {
        Self { tokens }
    }
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around the routes.
#[derive(Debug, Clone)]
pub(crate) struct AuthService<S> {
    inner: S,
    tokens: Option<Tokens>,
}

impl<S, B> tower_service::Service<http::Request<B>> for AuthService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if let Some(tokens) = &self.tokens
            && needs_token(req.uri().path())
            && let Err(reason) = check(tokens, req.headers())
        {
            tracing::info!(
                path = req.uri().path(),
                reason,
                "call refused: unauthenticated"
            );
            let status = tonic::Status::unauthenticated(reason);
            return Box::pin(async move { Ok(status.into_http()) });
        }
        Box::pin(self.inner.call(req))
    }
}

/// Command-line flags of a client of the acorn services (`simulator load`, `simulator --via
/// grpc`), the counterpart of [`SecurityArgs`]: TLS towards an `https://` server whose
/// certificate `--tls-ca` signed, a client certificate for a server run with `--tls-client-ca`,
/// and the bearer token a server run with `--auth-tokens[-file]` accepts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientArgs {
    /// CA certificates (PEM) that sign the server's certificate; needs an https:// address.
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate chain (PEM), for servers that require one (mutual TLS).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Name the server's certificate must carry, when it is not the address's host.
    #[arg(long, requires = "tls_ca")]
    pub tls_domain: Option<String>,
    /// File whose first line (blank lines and # comments skipped) is the bearer token sent with
    /// every call.
    #[arg(long, env = "ACORN_AUTH_TOKEN_FILE", conflicts_with = "auth_token")]
    pub auth_token_file: Option<PathBuf>,
    /// The bearer token sent with every call (prefer the environment or the file: flags show in
    /// `ps`).
    #[arg(long, env = "ACORN_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
}

impl ClientArgs {
    /// The endpoint of `url` (TCP_NODELAY; TLS with `--tls-ca`). Reads the files now, so that a
    /// missing one is reported with its flag.
    pub fn endpoint(&self, url: &str) -> anyhow::Result<Endpoint> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .with_context(|| format!("address {url:?}"))?
            .tcp_nodelay(true);
        let https = url.starts_with("https://");
        let Some(ca) = &self.tls_ca else {
            anyhow::ensure!(!https, "{url}: an https:// address needs --tls-ca");
            anyhow::ensure!(self.tls_cert.is_none(), "--tls-cert needs --tls-ca");
            return Ok(endpoint);
        };
        anyhow::ensure!(https, "{url}: --tls-ca needs an https:// address");
        let mut tls =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca, "--tls-ca")?));
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            tls = tls.identity(Identity::from_pem(
                read(cert, "--tls-cert")?,
                read(key, "--tls-key")?,
            ));
        }
        if let Some(domain) = &self.tls_domain {
            tls = tls.domain_name(domain.clone());
        }
        endpoint.tls_config(tls).context("--tls-ca")
    }

    /// The interceptor that sends the bearer token (none without `--auth-token[-file]`).
    pub fn bearer(&self) -> anyhow::Result<Bearer> {
        let token = match (&self.auth_token, &self.auth_token_file) {
            (Some(token), _) => token.trim().to_owned(),
            (None, Some(path)) => {
                let text = String::from_utf8(read(path, "--auth-token-file")?)
                    .with_context(|| format!("--auth-token-file {}: not UTF-8", path.display()))?;
                text.lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with('#'))
                    .with_context(|| format!("--auth-token-file {}: no token", path.display()))?
                    .to_owned()
            }
            (None, None) => return Ok(Bearer(None)),
        };
        Bearer::new(&token).map_err(anyhow::Error::msg)
    }
}

/// Adds `authorization: Bearer <token>` to every request (a `tonic` interceptor; the value is
/// marked sensitive, so it is never printed).
#[derive(Clone, Default)]
pub struct Bearer(Option<tonic::metadata::AsciiMetadataValue>);

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bearer({})",
            if self.0.is_some() { "token" } else { "none" }
        )
    }
}

impl Bearer {
    /// Sends `token` (visible ASCII without spaces, as the servers accept).
    pub fn new(token: &str) -> Result<Self, String> {
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the bearer token must be visible ASCII without spaces".into());
        }
        let mut value: tonic::metadata::AsciiMetadataValue = format!("Bearer {token}")
            .parse()
            .map_err(|_| "the bearer token must be visible ASCII without spaces".to_string())?;
        value.set_sensitive(true);
        Ok(Self(Some(value)))
    }

    /// `request` with the token added.
    pub fn apply<T>(&self, mut request: tonic::Request<T>) -> tonic::Request<T> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        request
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        Ok(self.apply(request))
    }
}

/// A channel whose calls carry the [`Bearer`] token.
pub type AuthChannel =
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>;

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: Option<&str>) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        if let Some(a) = auth {
            h.insert(
                http::header::AUTHORIZATION,
                http::HeaderValue::from_str(a).expect("header"),
            );
        }
        h
    }

    #[test]
    fn only_a_configured_token_is_accepted() {
        let tokens = Tokens::new(&["0123456789abcdef-one", "0123456789abcdef-two"])
            .expect("valid")
            .expect("some");
        assert_eq!(tokens.len(), 2);
        for ok in [
            "Bearer 0123456789abcdef-one",
            "bearer 0123456789abcdef-two",
            "BEARER 0123456789abcdef-one",
        ] {
            assert_eq!(check(&tokens, &headers(Some(ok))), Ok(()), "{ok}");
        }
        for (bad, why) in [
            (None, "missing bearer token"),
            (Some("0123456789abcdef-one"), "not of the form"),
            (Some("Basic 0123456789abcdef-one"), "not of the form"),
            (Some("Bearer"), "not of the form"),
            (Some("Bearer 0123456789abcdef-on"), "invalid bearer token"),
            (Some("Bearer 0123456789abcdef-one "), "invalid bearer token"),
            (Some("Bearer "), "invalid bearer token"),
        ] {
            let reason = check(&tokens, &headers(bad)).expect_err("refused");
            assert!(reason.contains(why), "{bad:?}: {reason}");
            assert!(!reason.contains("0123456789abcdef"), "{reason}");
        }
    }

    #[test]
    fn short_or_spaced_tokens_are_refused_at_startup_and_none_means_open() {
        assert!(Tokens::new(&["short"]).is_err());
        assert!(Tokens::new(&["0123456789 abcdef"]).is_err());
        assert!(Tokens::new(&[] as &[&str]).expect("ok").is_none());
        let args = SecurityArgs {
            auth_tokens: vec![" ".into()],
            ..SecurityArgs::default()
        };
        assert!(args.tokens().expect("ok").is_none());
    }

    #[test]
    fn tokens_file_skips_blank_lines_and_comments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens");
        std::fs::write(
            &path,
            "# ops\n\n  0123456789abcdef-one  \n0123456789abcdef-two\n",
        )
        .expect("write");
        let args = SecurityArgs {
            auth_tokens_file: Some(path),
            auth_tokens: vec!["0123456789abcdef-env".into()],
            ..SecurityArgs::default()
        };
        let tokens = args.tokens().expect("ok").expect("some");
        assert_eq!(tokens.len(), 3);
        assert!(tokens.accepts(b"0123456789abcdef-one"));
        assert!(tokens.accepts(b"0123456789abcdef-env"));
        assert!(!tokens.accepts(b"# ops"));
        let missing = SecurityArgs {
            auth_tokens_file: Some(dir.path().join("absent")),
            ..SecurityArgs::default()
        };
        let e = missing.tokens().expect_err("missing file");
        assert!(format!("{e:#}").contains("--auth-tokens-file"), "{e:#}");
    }

    #[test]
    fn health_and_reflection_stay_open() {
        assert!(!needs_token("/grpc.health.v1.Health/Check"));
        assert!(!needs_token("/grpc.health.v1.Health/Watch"));
        assert!(!needs_token(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!needs_token(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        ));
        assert!(needs_token(
            "/acorn.settlement.v1.SettlementService/Reconcile"
        ));
        assert!(needs_token("/grpc.health.v1.HealthX/Check"));
        assert!(needs_token("/"));
    }

    #[test]
    fn a_client_sends_the_first_token_of_its_file_and_refuses_tls_mismatches() {
        let dir = std::env::temp_dir().join(format!("acorn-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "# comment\n\n  0123456789abcdef-one  \nsecond\n").unwrap();
        let args = ClientArgs {
            auth_token_file: Some(file.clone()),
            ..ClientArgs::default()
        };
        let request = args.bearer().unwrap().apply(tonic::Request::new(()));
        let sent = request.metadata().get("authorization").unwrap();
        assert_eq!(sent.to_str().unwrap(), "Bearer 0123456789abcdef-one");
        // Marked sensitive: never printed.
        assert!(!format!("{sent:?}").contains("0123456789abcdef"));
        assert!(!format!("{:?}", args.bearer().unwrap()).contains("0123"));
        std::fs::write(&file, "# only a comment\n").unwrap();
        assert!(args.bearer().unwrap_err().to_string().contains("no token"));
        let none = ClientArgs::default().bearer().unwrap();
        let request = none.apply(tonic::Request::new(()));
        assert!(request.metadata().get("authorization").is_none());
        assert!(Bearer::new("has space").is_err());

        assert!(ClientArgs::default().endpoint("http://127.0.0.1:1").is_ok());
        let https = ClientArgs::default()
            .endpoint("https://localhost:1")
            .unwrap_err();
        assert!(https.to_string().contains("needs --tls-ca"), "{https}");
        let ca = ClientArgs {
            tls_ca: Some(dir.join("missing.pem")),
            ..ClientArgs::default()
        };
        assert!(
            ca.endpoint("http://127.0.0.1:1")
                .unwrap_err()
                .to_string()
                .contains("https://")
        );
        let missing = ca.endpoint("https://localhost:1").unwrap_err();
        assert!(format!("{missing:#}").contains("--tls-ca"), "{missing:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
