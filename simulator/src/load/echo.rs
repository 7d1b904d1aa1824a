//! The framework limit: a trivial echo gRPC service (`acorn.load.v1.Echo/Echo` answers its
//! request bytes, a `google.protobuf.BytesValue`), written against tonic's own server and client
//! machinery with nothing of acorn's in between, so that each RPC's throughput can be stated as a
//! fraction of what tonic itself does on the same machine in the same run.
//!
//! `simulator echo --listen ADDR` serves it; `simulator load --call Echo` drives it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::server::NamedService;
use tonic::transport::{Channel, Server, server::TcpIncoming};
use tonic_prost::ProstCodec;

/// The gRPC service name.
pub const SERVICE: &str = "acorn.load.v1.Echo";
/// The one method's path.
pub const PATH: &str = "/acorn.load.v1.Echo/Echo";
/// Default listen port of `simulator echo`.
pub const DEFAULT_PORT: u16 = 50060;

/// The echo service (a tower service of HTTP/2 requests, as tonic-generated servers are).
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoServer;

impl NamedService for EchoServer {
    const NAME: &'static str = SERVICE;
}

#[derive(Debug, Clone, Copy)]
struct Echo;

impl tonic::server::UnaryService<Vec<u8>> for Echo {
    type Response = Vec<u8>;
    type Future = std::future::Ready<Result<tonic::Response<Vec<u8>>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<Vec<u8>>) -> Self::Future {
        std::future::ready(Ok(tonic::Response::new(request.into_inner())))
    }
}

impl<B> tonic::codegen::Service<http::Request<B>> for EchoServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() == PATH {
            Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(ProstCodec::<Vec<u8>, Vec<u8>>::default());
                Ok(grpc.unary(Echo, req).await)
            })
        } else {
            Box::pin(async move {
                Ok(
                    tonic::Status::unimplemented("the echo service has one method, Echo")
                        .into_http(),
                )
            })
        }
    }
}

/// Serves the echo service on `listener` (TCP_NODELAY, as acorn's servers) until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .add_service(EchoServer)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

/// `simulator echo`: serves on `addr` until SIGINT.
pub async fn run(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("echo: serving {SERVICE} on {}", listener.local_addr()?);
    serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Calls Echo with `payload`, returning the echoed bytes.
pub async fn call(
    channel: Channel,
    request: tonic::Request<Vec<u8>>,
) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("echo: not ready: {e}")))?;
    let codec = ProstCodec::<Vec<u8>, Vec<u8>>::default();
    let path = http::uri::PathAndQuery::from_static(PATH);
    Ok(grpc.unary(request, path, codec).await?.into_inner())
}
