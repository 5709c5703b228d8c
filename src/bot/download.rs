//! Files users send the bot, downloaded into memory under a cap.

use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::FileId;

use super::context::BotError;

/// An in-memory download that fails once it would grow past its cap (whatever sizes were
/// announced before).
pub struct CappedBuffer {
    bytes: Vec<u8>,
    cap: usize,
}

impl CappedBuffer {
    pub fn new(cap: usize) -> Self {
        Self {
            bytes: Vec::new(),
            cap,
        }
    }
    pub fn into_inner(self) -> Vec<u8> {
        self.bytes
    }
}

impl tokio::io::AsyncWrite for CappedBuffer {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.bytes.len() + buf.len() > self.cap {
            return std::task::Poll::Ready(Err(std::io::Error::other(
                "the file is larger than allowed",
            )));
        }
        self.bytes.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Downloads a file of at most `cap` bytes; `None` when it is larger (announced or actual).
pub async fn download_capped(
    bot: &Bot,
    id: FileId,
    cap: usize,
) -> Result<Option<Vec<u8>>, BotError> {
    let file = bot.get_file(id).await?;
    if file.size as usize > cap {
        return Ok(None);
    }
    let mut sink = CappedBuffer::new(cap);
    match bot.download_file(&file.path, &mut sink).await {
        Ok(()) => Ok(Some(sink.into_inner())),
        Err(teloxide::DownloadError::Io(e)) if sink_full(&e) => Ok(None),
        Err(e) => Err(BotError::Internal(format!("downloading a file: {e}"))),
    }
}

fn sink_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::Other
}
