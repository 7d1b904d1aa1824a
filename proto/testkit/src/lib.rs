//! Test support shared by the services' tests (a dev-dependency only).
//!
//! - [`Running`]: a real server on 127.0.0.1:0 under [`acorn_proto::serve::serve`] (the binaries'
//!   stack: deadline layer, health, reflection, graceful shutdown) and a client channel to it;
//!   [`served`]: one on a SQLite file of its own, with a client, and [`restart`] on that file.
//! - [`encodings`]: every text form an identifier could take inside a page token, for the checks
//!   that tokens are opaque.
//!   [`assert_opaque`]: a token shows none of them.
//! - [`bad_request_fields`]: the fields an `INVALID_ARGUMENT` names, [`assert_invalid_argument`]:
//!   a call refused naming them; [`assert_refused`]: a call refused with a code,
//!   [`assert_already_exists`]: a changed retry is refused.
//! - [`health`]: the health a server reports for a service.
//! - [`pages`]: every page of a paginated list, with the tokens that led to them; [`listed`]: of a
//!   list RPC.
//! - [`db`]: the stores a test runs against (SQLite, and PostgreSQL when configured).
//! - [`process`]: a service binary as a child process (killed with SIGKILL, or several on one
//!   database).
//! - [`durability`]: the kill -9 and two-servers-on-one-database checks of a service binary.
//! - [`fixtures`]: CMS rows the tests of several crates send.
//! - [`tls`]: a CA made in the test and the certificates it signs.

pub mod db;
pub mod durability;
pub mod fixtures;
pub mod process;
pub mod tls;

use std::{net::SocketAddr, path::Path};

use acorn_proto::serve::{self, LogFormat, ServeArgs};
use base64::Engine as _;
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{Status, service::Routes, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_types::StatusExt as _;

/// The flags the tests serve with: text logs, 4 MiB requests, a 30 s request timeout and a 5 s
/// shutdown grace (change a field with `ServeArgs { request_timeout: 1, ..serve_args() }`).
pub fn serve_args() -> ServeArgs {
    ServeArgs {
        listen: None,
        log_format: LogFormat::Text,
        max_request_bytes: 4 * 1024 * 1024,
        request_timeout: 30,
        shutdown_grace: 5,
        security: acorn_proto::security::SecurityArgs::default(),
        ops: acorn_proto::ops::OpsArgs::default(),
        telemetry: acorn_proto::telemetry::TelemetryArgs::default(),
    }
}

/// A server running on 127.0.0.1 at a port of the system's choosing, until [`Running::stop`] (or
/// until it is dropped, which starts its shutdown).
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Serves `routes` (the gRPC service named `service`, e.g. `acorn.settlement.v1.SettlementService`)
    /// with `args`, as the binary's `serve` does.
    pub async fn start(routes: Routes, service: &'static str, args: ServeArgs) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve::serve(listener, routes, &[service], &args, async {
                let _ = stopped.await;
            })
            .await
        });
        Self { addr, stop, task }
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A connected channel to the server.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect")
    }

    /// A connected client, e.g. `server.client(SettlementServiceClient::new).await`.
    pub async fn client<C>(&self, new: impl FnOnce(Channel) -> C) -> C {
        new(self.channel().await)
    }

    /// Shuts the server down and checks that it exits cleanly.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("join")
            .expect("server exits cleanly");
    }
}

/// A server that `start` starts on the SQLite file `file` in a new temporary folder, and a client
/// of it made with `new` (e.g. `SettlementServiceClient::new`). The folder is removed when dropped:
/// hold it to the end of the test.
pub async fn served<C>(
    file: &str,
    start: impl AsyncFnOnce(&Path) -> Running,
    new: impl FnOnce(Channel) -> C,
) -> (TempDir, Running, C) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join(file)).await;
    let client = server.client(new).await;
    (dir, server, client)
}

/// Stops `server` (checking that it exits cleanly) and starts it again with `start` on the same
/// SQLite file `db`, with a new client made with `new`.
pub async fn restart<C>(
    server: Running,
    db: &Path,
    start: impl AsyncFnOnce(&Path) -> Running,
    new: impl FnOnce(Channel) -> C,
) -> (Running, C) {
    server.stop().await;
    let server = start(db).await;
    let client = server.client(new).await;
    (server, client)
}

/// The health `channel`'s server reports for `service` (`""`: the server as a whole), or the
/// status of the check.
pub async fn health(channel: Channel, service: &str) -> Result<ServingStatus, Status> {
    let request = HealthCheckRequest {
        service: service.into(),
    };
    let response = HealthClient::new(channel).check(request).await?;
    Ok(response.into_inner().status())
}

/// Pages a list to its end: `page(token)` reads the page at `token` (empty for the first) and
/// returns its items and its next page token. Returns every item in order and the tokens issued
/// (each non-empty next page token, in order).
pub async fn pages<T>(
    mut page: impl AsyncFnMut(String) -> (Vec<T>, String),
) -> (Vec<T>, Vec<String>) {
    let mut items = Vec::new();
    let mut tokens = Vec::new();
    let mut token = String::new();
    loop {
        let (page_items, next) = page(token).await;
        items.extend(page_items);
        if next.is_empty() {
            return (items, tokens);
        }
        tokens.push(next.clone());
        token = next;
    }
}

/// A list RPC's response: one page of items and the token of the next page (empty after the
/// last).
pub trait Listing {
    /// What the list holds.
    type Item;

    /// The page's items and its next page token.
    fn into_page(self) -> (Vec<Self::Item>, String);
}

macro_rules! listing {
    ($($response:ty => $items:ident: $item:ty),* $(,)?) => {
        $(impl Listing for $response {
            type Item = $item;

            fn into_page(self) -> (Vec<$item>, String) {
                (self.$items, self.next_page_token)
            }
        })*
    };
}

listing! {
    acorn_proto::settlement::v1::ListReconciliationsResponse => reconciliations:
        acorn_proto::settlement::v1::Reconciliation,
    acorn_proto::benchmark::v1::ListBenchmarksResponse => benchmarks:
        acorn_proto::benchmark::v1::Benchmark,
    acorn_proto::attribution::v1::ListAssignmentRunsResponse => runs:
        acorn_proto::attribution::v1::AssignmentRun,
    acorn_proto::attribution::v1::ListAssignedBeneficiariesResponse => assignments:
        acorn_proto::attribution::v1::BeneficiaryAssignment,
}

/// How many items a list RPC lists, over all its pages ([`listed`]).
pub async fn count<R: Listing>(
    list: impl AsyncFnMut(String) -> Result<tonic::Response<R>, Status>,
) -> usize {
    listed(list).await.0.len()
}

/// [`pages`] of a list RPC: `list(token)` calls it for the page at `token`, which must be
/// answered. Returns every item in order and the tokens issued.
pub async fn listed<R: Listing>(
    mut list: impl AsyncFnMut(String) -> Result<tonic::Response<R>, Status>,
) -> (Vec<R::Item>, Vec<String>) {
    pages(async |token| list(token).await.expect("list").into_inner().into_page()).await
}

/// Asserts that `answer`, a retry under the same request_id with `field` changed, was refused as
/// ALREADY_EXISTS (a retry must be the same request, never answered with the first one's result).
pub fn assert_already_exists<T>(field: &str, answer: Result<T, Status>) {
    assert_refused(tonic::Code::AlreadyExists, field, answer);
}

/// Asserts that `answer` (of the call `what`) was refused with `code`; returns the status.
pub fn assert_refused<T>(code: tonic::Code, what: &str, answer: Result<T, Status>) -> Status {
    let status = answer.map(|_| ()).expect_err(what);
    assert_eq!(status.code(), code, "{what}: {status:?}");
    status
}

/// Asserts that `status` is INVALID_ARGUMENT and that its `google.rpc.BadRequest` detail names
/// exactly `fields`, in order (`case` says which call it was).
pub fn assert_invalid_argument(status: &Status, fields: &[&str], case: &str) {
    assert_eq!(
        status.code(),
        tonic::Code::InvalidArgument,
        "{case}: {status:?}"
    );
    assert_eq!(bad_request_fields(status), fields, "{case}");
}

/// Asserts that `token` shows none of `secrets` in any of the forms [`encodings`] lists.
pub fn assert_opaque(token: &str, secrets: &[impl AsRef<str>]) {
    for secret in secrets {
        let secret = secret.as_ref();
        for form in encodings(secret.as_bytes()) {
            assert!(
                !token.contains(&form),
                "token {token} shows {secret} as {form}"
            );
        }
    }
}

/// The fields named by the `google.rpc.BadRequest` detail of `status` (none without one).
pub fn bad_request_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|f| f.field).collect())
        .unwrap_or_default()
}

/// Every text form `id` could take in a page token, for asserting that a token shows none of them:
/// as is, in lower and upper case; hex in either case; decimal (the bytes as one big-endian number,
/// wrapping past 128 bits, and each byte's code); and base64, standard and URL-safe, at each of the
/// three alignments, both the characters made of the id's bits alone and the shorter run that
/// leaves out the last four characters of the padded encoding. Forms shorter than four characters
/// are left out (a short one could stand in any token by chance).
pub fn encodings(id: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = String::from_utf8_lossy(id).to_string();
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![
        text.clone(),
        text.to_lowercase(),
        text.to_uppercase(),
        hex.clone(),
        hex.to_uppercase(),
        id.iter()
            .fold(0u128, |n, b| {
                n.wrapping_mul(256).wrapping_add(u128::from(*b))
            })
            .to_string(),
        id.iter().map(|b| b.to_string()).collect(),
    ];
    for pad in 0..3usize {
        let mut shifted = vec![0u8; pad];
        shifted.extend_from_slice(id);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let b64 = engine.encode(&shifted);
            let (start, end) = ((pad * 8).div_ceil(6), ((pad + id.len()) * 8) / 6);
            out.extend(b64.get(start..end).map(str::to_string));
        }
        for engine in [&STANDARD, &URL_SAFE] {
            let b64 = engine.encode(&shifted);
            let start = (pad * 4).div_ceil(3);
            out.extend(
                b64.get(start..b64.len().saturating_sub(4))
                    .map(str::to_string),
            );
        }
    }
    out.retain(|form| form.len() >= 4);
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::encodings;

    #[test]
    fn encodings_of_an_id() {
        let forms = encodings(b"A1215");
        for form in [
            "A1215",
            "a1215",
            "4131323135",
            // 0x4131323135
            "279998247221",
            "6549504953",
            // base64 of "A1215" at alignment 0, standard and URL-safe alike.
            "QTEyMT",
            // at alignment 1 (after one zero byte): "AEExMjE1" without its first two characters.
            "ExMjE1",
        ] {
            assert!(forms.iter().any(|f| f == form), "{form} in {forms:?}");
        }
        assert!(forms.iter().all(|f| f.len() >= 4), "{forms:?}");
        // Too short for any form but its hex and decimal ones.
        assert_eq!(encodings(b"A1"), ["16689", "4131", "6549"]);
    }
}
