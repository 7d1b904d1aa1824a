//! The one shape of the servers' HTTP middleware (concurrency limit and metrics, deadlines,
//! bearer tokens): a [`Hook`] says what a layer does with one call, and [`HookLayer`] wraps it
//! around the routes as a tower layer.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use tonic::codegen::http;

/// The answer to one call, as the layers return it.
pub type Answer<E> =
    Pin<Box<dyn Future<Output = Result<http::Response<tonic::body::Body>, E>> + Send>>;

/// What a layer does with one call: answers it itself, or passes it to `inner` (and may look at
/// or change the answer).
pub trait Hook: Clone {
    /// Handles `req`, in front of `inner`.
    fn call<S, B>(&self, inner: &mut S, req: http::Request<B>) -> Answer<S::Error>
    where
        S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
        S::Future: Send + 'static;
}

/// A tower layer that puts its [`Hook`] in front of every call.
#[derive(Debug, Clone)]
pub struct HookLayer<H>(pub(crate) H);

impl<S, H: Clone> tower_layer::Layer<S> for HookLayer<H> {
    type Service = Hooked<S, H>;

    fn layer(&self, inner: S) -> Self::Service {
        Hooked {
            inner,
            hook: self.0.clone(),
        }
    }
}

/// The service a [`HookLayer`] wraps around the routes.
#[derive(Debug, Clone)]
pub struct Hooked<S, H> {
    inner: S,
    hook: H,
}

impl<S, B, H> tower_service::Service<http::Request<B>> for Hooked<S, H>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    H: Hook,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Answer<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        self.hook.call(&mut self.inner, req)
    }
}

/// A stand-in handler for the layers' tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::{future::Future, pin::Pin, task::Context, task::Poll, time::Duration};

    use tonic::codegen::http;

    use crate::serve::Deadline;

    /// Holds each call for `delay`, then answers `code` (`Ok`: an empty answer without a status;
    /// else that status in the headers, as tonic does), reporting the deadline it was given, if
    /// any, in an `x-remaining-ms` header.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Slow {
        pub(crate) delay: Duration,
        pub(crate) code: tonic::Code,
    }

    impl tower_service::Service<http::Request<()>> for Slow {
        type Response = http::Response<tonic::body::Body>;
        type Error = std::convert::Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: http::Request<()>) -> Self::Future {
            let Slow { delay, code } = *self;
            let left = req.extensions().get::<Deadline>().map(Deadline::remaining);
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                let mut res = match code {
                    tonic::Code::Ok => http::Response::new(tonic::body::Body::default()),
                    code => tonic::Status::new(code, "no such record").into_http(),
                };
                if let Some(left) = left {
                    let ms = left.as_millis().to_string();
                    res.headers_mut().insert(
                        "x-remaining-ms",
                        http::HeaderValue::from_str(&ms).expect("digits"),
                    );
                }
                Ok(res)
            })
        }
    }
}
