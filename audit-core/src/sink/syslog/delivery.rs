//! How the syslog sink delivers: the connection's health, sending a batch, the spool and its
//! replay, and what a failed send leaves to send again.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::connection::{Connection, Health, Transport};
use super::{message, SyslogSink};
use crate::entry::AuditEntry;
use crate::error::SinkError;

impl SyslogSink {
    /// Looks whether the collector closed the connection; batches it surely read are
    /// forgotten, those it may have dropped are handed back to be sent again.
    pub(super) async fn check(&mut self) -> Vec<AuditEntry> {
        let Some(connection) = self.connection.as_mut() else {
            return Vec::new();
        };
        match connection.health().await {
            Health::Open => {
                let now = Instant::now();
                while self
                    .unconfirmed
                    .front()
                    .is_some_and(|(at, _)| now.duration_since(*at) >= self.confirm_after)
                {
                    self.unconfirmed.pop_front();
                }
                Vec::new()
            }
            // A clean close says the collector read every byte, not that it stored every
            // message it read (rsyslog drops what its queue holds when its shutdown times
            // out): the batches of the last moment are sent again either way.
            Health::Closed => self.lost("the collector closed the connection".into()),
            Health::Reset => self.lost("the collector reset the connection".into()),
        }
    }

    /// The connection is gone and may have taken unread batches with it: they are sent again.
    fn lost(&mut self, why: String) -> Vec<AuditEntry> {
        self.connection = None;
        let again: Vec<AuditEntry> = self
            .unconfirmed
            .drain(..)
            .flat_map(|(_, batch)| batch)
            .collect();
        self.stats
            .inner
            .resent
            .fetch_add(again.len() as u64, Ordering::Relaxed);
        self.failed(why);
        again
    }

    fn failed(&mut self, error: String) {
        let wait = self.backoff.failed(None);
        if self.last_error.as_deref() != Some(error.as_str()) {
            tracing::warn!(target = %self.target(), retry_in = ?wait, error = %error, "the syslog collector cannot take audit entries; spooling them locally");
        }
        self.last_error = Some(error);
    }

    async fn ensure_connected(&mut self) -> bool {
        if self.connection.is_some() {
            return true;
        }
        if !self.backoff.ready() {
            return false;
        }
        let tls = self
            .tls
            .as_ref()
            .map(|(config, name)| (config, name.as_str()));
        match Connection::open(self.transport, &self.address, tls, self.timeout).await {
            Ok(connection) => {
                self.connection = Some(connection);
                self.stats.inner.connects.fetch_add(1, Ordering::Relaxed);
                if self.last_error.take().is_some() {
                    tracing::info!(target = %self.target(), "the syslog collector takes audit entries again");
                }
                self.backoff.succeeded();
                true
            }
            Err(e) => {
                self.failed(format!("cannot connect: {e}"));
                false
            }
        }
    }

    /// Writes `batch` on the connection; on failure the connection is dropped and what it
    /// may have lost is handed back.
    async fn send(&mut self, batch: &[AuditEntry]) -> Result<(), Undelivered> {
        let Some(connection) = self.connection.as_mut() else {
            return Err(Undelivered::none_of(batch));
        };
        let mut buf = std::mem::take(&mut self.buf);
        let mut message = Vec::with_capacity(1024);
        let mut result = Ok(());
        buf.clear();
        let relp = matches!(self.transport, Transport::Relp | Transport::RelpTls);
        let mut messages = Vec::with_capacity(if relp { batch.len() } else { 0 });
        for entry in batch {
            message.clear();
            if message::write(&self.header, entry, &mut message) {
                self.stats.inner.truncated.fetch_add(1, Ordering::Relaxed);
            }
            if relp {
                messages.push(message.clone());
            } else if self.transport == Transport::Udp {
                result = connection.send(&message, self.timeout).await;
                if result.is_err() {
                    break;
                }
            } else {
                message::frame(&message, &mut buf);
            }
        }
        let mut confirmed = vec![false; batch.len()];
        if relp {
            result = connection
                .send_relp(&messages, &mut confirmed, self.timeout)
                .await;
        } else if self.transport != Transport::Udp && result.is_ok() {
            result = connection.send(&buf, self.timeout).await;
        }
        self.buf = buf;
        match result {
            Ok(()) => {
                self.stats
                    .inner
                    .sent
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                // TCP and TLS only: UDP cannot tell, RELP already told.
                if matches!(self.transport, Transport::Tcp | Transport::Tls) {
                    self.unconfirmed.push_back((Instant::now(), batch.to_vec()));
                }
                Ok(())
            }
            Err(e) => {
                // RELP: what the collector answered it has; only the rest goes again.
                let taken = confirmed.iter().filter(|c| **c).count();
                self.stats
                    .inner
                    .sent
                    .fetch_add(taken as u64, Ordering::Relaxed);
                Err(Undelivered {
                    earlier: self.lost(format!("write failed: {e}")),
                    confirmed,
                })
            }
        }
    }

    fn spool(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        let path = self.spool.push(batch)?;
        self.stats
            .inner
            .spooled_batches
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(file = %path.display(), entries = batch.len(), "audit batch spooled until the syslog collector takes it");
        Ok(())
    }

    /// Sends the spooled batches, oldest first, several files at a time (a collector back
    /// after an outage finds thousands of one-entry files); stops at the first send that
    /// fails. What it returns then is what the connection had not confirmed; of the chunk
    /// that failed, the files keep what the collector did not take (RELP says which).
    async fn replay(&mut self) -> Result<(), Vec<AuditEntry>> {
        const CHUNK: usize = 1024;
        let files = self.spool.files().unwrap_or_default();
        let mut files = files.into_iter().peekable();
        while files.peek().is_some() {
            let mut chunk = Vec::new();
            let mut taken = Vec::new();
            while chunk.len() < CHUNK {
                let Some(file) = files.next() else { break };
                if let Some(batch) = self.spool.take(&file) {
                    taken.push((file, batch.len()));
                    chunk.extend(batch);
                }
            }
            if chunk.is_empty() {
                continue;
            }
            if let Err(undelivered) = self.send(&chunk).await {
                // The files keep what the collector did not take, in their place.
                let mut at = 0;
                for (file, entries) in &taken {
                    let of_file = at..at + entries;
                    at += entries;
                    let (Some(sent), Some(confirmed)) = (
                        chunk.get(of_file.clone()),
                        undelivered.confirmed.get(of_file),
                    ) else {
                        continue;
                    };
                    if confirmed.iter().any(|c| *c) {
                        let rest: Vec<AuditEntry> = sent
                            .iter()
                            .zip(confirmed)
                            .filter(|(_, confirmed)| !**confirmed)
                            .map(|(entry, _)| entry.clone())
                            .collect();
                        self.spool.keep_only(file, *entries, &rest);
                    }
                }
                return Err(undelivered.earlier);
            }
            for (file, entries) in &taken {
                self.spool.sent(file, *entries);
            }
            self.stats
                .inner
                .replayed_batches
                .fetch_add(taken.len() as u64, Ordering::Relaxed);
            tracing::info!(
                files = taken.len(),
                entries = chunk.len(),
                "sent spooled audit entries to the syslog collector"
            );
        }
        Ok(())
    }

    /// Sends what the collector may have lost, the spool, then `batch`; spools what cannot go.
    pub(super) async fn deliver(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        let again = self.check().await;
        if !self.ensure_connected().await {
            self.spool(&again)?;
            return self.spool(batch);
        }
        if !again.is_empty() {
            if let Err(undelivered) = self.send(&again).await {
                self.spool(&undelivered.into_entries(&again))?;
                return self.spool(batch);
            }
        }
        if self.spool.entries() > 0 {
            if let Err(lost) = self.replay().await {
                // Spool files are sent in name (first id, so time) order: these go back in
                // their place.
                self.spool(&lost)?;
                return self.spool(batch);
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        match self.send(batch).await {
            Ok(()) => Ok(()),
            Err(undelivered) => self.spool(&undelivered.into_entries(batch)),
        }
    }
}

/// What a failed send leaves to send again.
struct Undelivered {
    /// Batches sent earlier on the lost connection, not known to be read (TCP, TLS).
    earlier: Vec<AuditEntry>,
    /// Which entries of the batch the collector confirmed (RELP's answers).
    confirmed: Vec<bool>,
}

impl Undelivered {
    fn none_of(batch: &[AuditEntry]) -> Self {
        Undelivered {
            earlier: Vec::new(),
            confirmed: vec![false; batch.len()],
        }
    }

    /// The earlier batches, then what of `batch` was not confirmed.
    fn into_entries(self, batch: &[AuditEntry]) -> Vec<AuditEntry> {
        let mut entries = self.earlier;
        entries.extend(
            batch
                .iter()
                .zip(&self.confirmed)
                .filter(|(_, confirmed)| !**confirmed)
                .map(|(entry, _)| entry.clone()),
        );
        entries
    }
}
