//! The response timeout of a client connection's requests, on one timer that is re-armed lazily.
//!
//! A fresh tokio timer per request costs an insertion into the runtime's timer wheel and a
//! removal, each under the wheel's lock, for a deadline that almost never passes. Instead each
//! client connection keeps one [`Sleep`], whose deadline is never later than that of the request
//! waiting on it. A request whose deadline is later (the usual case: it started after the one
//! that armed the timer) waits on the earlier timer as it is; only when that timer fires is it
//! re-armed to the request's own deadline. With a 60 s timeout and requests arriving faster than
//! that, the timer is re-armed about once a minute per connection instead of twice per request,
//! and a request still times out exactly at its own deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::time::{Instant, Sleep};

/// One client connection's timer; requests on the connection take turns with it.
#[derive(Default)]
pub(crate) struct ResponseTimer {
    sleep: Option<Pin<Box<Sleep>>>,
}

impl ResponseTimer {
    /// Waits for `fut`, or until `deadline` has passed (`None`).
    pub(crate) async fn within<F: Future>(&mut self, deadline: Instant, fut: F) -> Option<F::Output> {
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            self.poll_expired(deadline, cx).map(|()| None)
        })
        .await
    }

    /// Ready once `deadline` has passed; meanwhile the task is woken at or before it.
    fn poll_expired(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        // A later deadline can wait on an earlier timer; an earlier one (the timeout was
        // shortened) cannot.
        if sleep.deadline() > deadline {
            sleep.as_mut().reset(deadline);
        }
        loop {
            ready!(sleep.as_mut().poll(cx));
            if sleep.deadline() >= deadline {
                return Poll::Ready(());
            }
            // Armed by an earlier request: wait on until this one's deadline.
            sleep.as_mut().reset(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Runs `within` on a future that never finishes; how long it took to give up, in paused time.
    async fn gives_up_after(timer: &mut ResponseTimer, timeout: Duration) -> Duration {
        let start = Instant::now();
        assert!(timer.within(start + timeout, std::future::pending::<()>()).await.is_none());
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_ready_future_is_not_cut_off() {
        let mut timer = ResponseTimer::default();
        assert_eq!(timer.within(Instant::now(), async { 7 }).await, Some(7));
        assert_eq!(timer.within(Instant::now() + MS, async { 8 }).await, Some(8));
    }

    /// Each request times out at its own deadline, whichever earlier or later deadline the
    /// shared timer was armed with, including a deadline that is already past.
    #[tokio::test(start_paused = true)]
    async fn each_wait_ends_at_its_own_deadline() {
        let mut timer = ResponseTimer::default();
        let cases = [60_000, 60_000, 5, 60_000, 1, 0, 300, 60_000];
        for ms in cases {
            let timeout = ms * MS;
            assert_eq!(gives_up_after(&mut timer, timeout).await, timeout, "timeout {ms} ms");
        }
    }

    /// Requests that finish before the deadline leave the timer armed with the first one's
    /// deadline; a later request still gets its full timeout, not the remainder of the first.
    #[tokio::test(start_paused = true)]
    async fn a_later_request_gets_its_full_timeout() {
        let mut timer = ResponseTimer::default();
        let timeout = 1_000 * MS;
        for _ in 0..3 {
            let answer = tokio::time::sleep(100 * MS);
            assert!(timer.within(Instant::now() + timeout, answer).await.is_some());
        }
        assert_eq!(gives_up_after(&mut timer, timeout).await, timeout);
    }

    /// An answer that comes just before the deadline wins over the timer.
    #[tokio::test(start_paused = true)]
    async fn an_answer_before_the_deadline_is_kept() {
        let mut timer = ResponseTimer::default();
        let start = Instant::now();
        let answer = async {
            tokio::time::sleep(999 * MS).await;
            "answer"
        };
        assert_eq!(timer.within(start + 1_000 * MS, answer).await, Some("answer"));
    }
}
