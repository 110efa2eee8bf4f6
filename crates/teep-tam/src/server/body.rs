//! A request body with a deadline: `body_timeout_ms`, plus one second per `body_min_rate`
//! bytes received, so a large body on a slow link passes and a trickle does not.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Bytes, HttpBody};
use axum::BoxError;
use hyper::body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The body did not arrive in time; the request gets 408.
#[derive(Debug)]
pub(crate) struct BodyTimeout {
    pub received: u64,
}

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request body: not received in time ({} bytes received)",
            self.received
        )
    }
}

impl std::error::Error for BodyTimeout {}

/// How long a body may take.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyDeadline {
    pub base: Duration,
    /// Bytes per second that extend the time by one second; 0: no extension.
    pub min_rate: u64,
}

impl BodyDeadline {
    pub fn of(config: &crate::Config) -> BodyDeadline {
        BodyDeadline {
            base: Duration::from_millis(config.body_timeout_ms),
            min_rate: config.body_min_rate,
        }
    }

    pub fn wrap<B>(self, inner: B) -> DeadlineBody<B> {
        DeadlineBody {
            inner,
            limit: self,
            started: None,
            received: 0,
            sleep: None,
        }
    }
}

/// `inner` with a [`BodyDeadline`]. The clock starts when the body first has to be waited
/// for, and no timer exists before: a body that came with its headers, the usual TEEP
/// message, costs nothing.
pub(crate) struct DeadlineBody<B> {
    inner: B,
    limit: BodyDeadline,
    started: Option<Instant>,
    received: u64,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B> DeadlineBody<B> {
    fn deadline(&self, started: Instant) -> Instant {
        let extra = match self.limit.min_rate {
            0 => Duration::ZERO,
            rate => Duration::from_millis(self.received.saturating_mul(1000) / rate),
        };
        started + self.limit.base.saturating_add(extra)
    }
}

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.received = this.received.saturating_add(d.len() as u64);
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        let started = *this.started.get_or_insert_with(Instant::now);
        let deadline = this.deadline(started);
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() != deadline {
            sleep.as_mut().reset(deadline);
        }
        if sleep.as_mut().poll(cx).is_ready() {
            let received = this.received;
            return Poll::Ready(Some(Err(Box::new(BodyTimeout { received }))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
