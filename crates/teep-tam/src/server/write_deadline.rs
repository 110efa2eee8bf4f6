//! A write deadline for a connection: hyper has a timer for reading headers but none for
//! writing, so a client that asks and then never reads its answer would hold the connection
//! (and its place under the connection caps) for as long as it likes once the kernel's send
//! buffer is full. A write that makes no progress for the deadline fails with `TimedOut`,
//! which ends the connection; any progress starts the wait again, so a large answer on a
//! slow link passes.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// `io` whose writes fail once stalled for `timeout`; `timed_out` says so afterwards.
pub(crate) struct WriteDeadline<I> {
    io: I,
    timeout: Duration,
    /// Armed when a write returns pending, dropped when one makes progress: no timer on
    /// the usual path, where the send buffer takes the whole answer.
    stalled: Option<Pin<Box<Sleep>>>,
    pub(crate) timed_out: Arc<AtomicBool>,
}

impl<I> WriteDeadline<I> {
    pub(crate) fn new(io: I, timeout: Duration) -> WriteDeadline<I> {
        WriteDeadline {
            io,
            timeout,
            stalled: None,
            timed_out: Arc::default(),
        }
    }

    /// What a write-side poll returned, with the deadline applied.
    fn deadline<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let timeout = self.timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.timed_out.store(true, Ordering::Relaxed);
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client read nothing of the answer for {timeout:?}"),
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

use std::future::Future as _;

impl<I: AsyncRead + Unpin> AsyncRead for WriteDeadline<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.deadline(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.deadline(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.deadline(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        self.deadline(cx, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A peer that reads nothing: the writer stalls once the pipe is full, and fails after
    /// the deadline instead of waiting for ever.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_write_fails_after_the_deadline() {
        let (a, _b) = tokio::io::duplex(1024);
        let mut w = WriteDeadline::new(a, Duration::from_secs(10));
        let flag = w.timed_out.clone();
        let e = w.write_all(&[0u8; 4096]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(flag.load(Ordering::Relaxed));
    }

    /// A reader that keeps up, however slowly, never trips it.
    #[tokio::test(start_paused = true)]
    async fn progress_restarts_the_wait() {
        use tokio::io::AsyncReadExt;
        let (a, mut b) = tokio::io::duplex(1024);
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 256];
            while got < 8192 {
                tokio::time::sleep(Duration::from_secs(6)).await;
                got += b.read(&mut buf).await.unwrap();
            }
            got
        });
        let mut w = WriteDeadline::new(a, Duration::from_secs(10));
        w.write_all(&[0u8; 8192]).await.unwrap();
        assert!(!w.timed_out.load(Ordering::Relaxed));
        assert_eq!(reader.await.unwrap(), 8192);
    }
}
