//! The in-memory reference backend: the contract of [`Store`] in its simplest form.
//! The conformance suite checks the other backends against it; it also serves `memory:`
//! URLs, for applications' own tests.

use std::collections::BTreeMap;

use super::error::{Result, StoreError};
use super::lease::{self, Fence, HostClock, LeaseInfo, LeaseRecord, LeaseRequest};
use super::store::{now_millis, KeyInfo, KeyWrite, KindStats, SessionStats, Store};

#[derive(Debug, Default)]
struct Session {
    creds: Option<Vec<u8>>,
    keys: BTreeMap<(String, String), Vec<u8>>,
    /// Last write, in ms since the epoch.
    updated_at_ms: i64,
}

impl Session {
    fn has_data(&self) -> bool {
        self.creds.is_some() || !self.keys.is_empty()
    }
}

#[derive(Debug)]
pub struct MemoryStore {
    sessions: BTreeMap<String, Session>,
    /// Kept apart from the sessions: a lease outlives its session's data (see `delete_session`).
    leases: BTreeMap<String, LeaseRecord>,
    /// The store's own records ([`Store::meta`]).
    meta: BTreeMap<String, Vec<u8>>,
    identity: String,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            sessions: BTreeMap::new(),
            leases: BTreeMap::new(),
            meta: BTreeMap::new(),
            identity: super::store::private_identity("memory"),
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The fence check of every write (see [`lease::check_write`]). A write without a fence to a
    /// session whose lease lapsed untaken ends that lease, so that its holder, should it wake,
    /// cannot write on with its still-matching fence.
    fn check_fence(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        let record = self.leases.get_mut(session);
        let live = record.as_ref().is_some_and(|r| lease::is_live(r, &HostClock::now(), || false));
        lease::check_write(session, record.as_ref().map(|r| (r.holder.as_str(), r.epoch, &r.owner)), live, fence)?;
        if let Some(record) = record.filter(|_| fence.is_none()) {
            record.holder.clear();
        }
        Ok(())
    }

    /// The stored lease `fence` names, or `ERR_SESSION_FENCED`.
    fn held(&mut self, session: &str, fence: &Fence) -> Result<&mut LeaseRecord> {
        match self.leases.get_mut(session) {
            Some(r) if r.holder == fence.holder && r.epoch == fence.epoch => Ok(r),
            other => Err(lease::fenced(session, fence, other.map(|r| (r.holder.as_str(), r.epoch, &r.owner)))),
        }
    }
}

impl Store for MemoryStore {
    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.sessions.get(session).and_then(|s| s.creds.clone()))
    }

    fn set_creds(&mut self, session: &str, creds: &[u8], fence: Option<&Fence>) -> Result<()> {
        self.check_fence(session, fence)?;
        let s = self.sessions.entry(session.to_owned()).or_default();
        s.creds = Some(creds.to_vec());
        s.updated_at_ms = now_millis();
        Ok(())
    }

    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let keys = self.sessions.get(session).map(|s| &s.keys);
        Ok(ids.iter().map(|id| keys.and_then(|k| k.get(&(kind.to_owned(), id.clone())).cloned())).collect())
    }

    fn apply(&mut self, session: &str, writes: &[KeyWrite], fence: Option<&Fence>) -> Result<()> {
        self.check_fence(session, fence)?;
        if !self.sessions.contains_key(session) && writes.iter().all(|w| w.value.is_none()) {
            return Ok(());
        }
        let s = self.sessions.entry(session.to_owned()).or_default();
        s.updated_at_ms = now_millis();
        let keys = &mut s.keys;
        for write in writes {
            let key = (write.kind.clone(), write.id.clone());
            match &write.value {
                Some(value) => keys.insert(key, value.clone()),
                None => keys.remove(&key),
            };
        }
        Ok(())
    }

    fn clear_keys(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        self.check_fence(session, fence)?;
        if let Some(s) = self.sessions.get_mut(session) {
            s.keys.clear();
            s.updated_at_ms = now_millis();
        }
        Ok(())
    }

    fn delete_session(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        self.check_fence(session, fence)?;
        self.sessions.remove(session);
        Ok(())
    }

    fn acquire_lease(&mut self, session: &str, request: &LeaseRequest) -> Result<LeaseInfo> {
        lease::check_lease_ms(request.lease_ms)?;
        let now = HostClock::now();
        let previous = self.leases.get(session);
        lease::decide(session, previous, request, &now, || false)?;
        let record = lease::grant(previous, request, &now, lease::KernelLock::None);
        let info = record.info(true);
        self.leases.insert(session.to_owned(), record);
        Ok(info)
    }

    fn renew_lease(&mut self, session: &str, fence: &Fence, lease_ms: u64) -> Result<LeaseInfo> {
        lease::check_lease_ms(lease_ms)?;
        let record = self.held(session, fence)?;
        *record = lease::renewed(record, lease_ms, &HostClock::now());
        Ok(record.info(true))
    }

    fn release_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        if let Ok(record) = self.held(session, fence) {
            record.holder.clear();
        }
        Ok(())
    }

    fn forget_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        if self.held(session, fence).is_ok() {
            self.leases.remove(session);
        }
        Ok(())
    }

    fn lease(&mut self, session: &str) -> Result<Option<LeaseInfo>> {
        let now = HostClock::now();
        Ok(self.leases.get(session).map(|r| r.info(lease::is_live(r, &now, || false))))
    }

    fn leases(&mut self) -> Result<Vec<(String, LeaseInfo)>> {
        let now = HostClock::now();
        Ok(self.leases.iter().map(|(s, r)| (s.clone(), r.info(lease::is_live(r, &now, || false)))).collect())
    }

    fn sessions(&mut self) -> Result<Vec<String>> {
        Ok(self.sessions.iter().filter(|(_, s)| s.has_data()).map(|(name, _)| name.clone()).collect())
    }

    fn meta(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(name).cloned())
    }

    fn swap_meta(&mut self, name: &str, expected: Option<&[u8]>, value: Option<&[u8]>) -> Result<bool> {
        if self.meta.get(name).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        match value {
            Some(value) => self.meta.insert(name.to_owned(), value.to_vec()),
            None => self.meta.remove(name),
        };
        Ok(true)
    }

    fn list_keys(&mut self, session: &str) -> Result<Vec<KeyInfo>> {
        // The map's (type, id) order is the byte order the contract asks for.
        Ok(self.sessions.get(session).map_or_else(Vec::new, |s| {
            s.keys.iter().map(|((kind, id), value)| KeyInfo { kind: kind.clone(), id: id.clone(), bytes: value.len() as u64 }).collect()
        }))
    }

    fn stats(&mut self, session: &str) -> Result<SessionStats> {
        let Some(s) = self.sessions.get(session).filter(|s| s.has_data()) else {
            return Ok(SessionStats::default());
        };
        let mut kinds: Vec<KindStats> = Vec::new();
        for ((kind, _), value) in &s.keys {
            match kinds.last_mut() {
                Some(last) if last.kind == *kind => {
                    last.count += 1;
                    last.bytes += value.len() as u64;
                }
                _ => kinds.push(KindStats { kind: kind.clone(), count: 1, bytes: value.len() as u64 }),
            }
        }
        Ok(SessionStats { creds_bytes: s.creds.as_ref().map(|c| c.len() as u64), kinds, updated_at_ms: Some(s.updated_at_ms) })
    }

    fn backup(&mut self, _dest: &std::path::Path) -> Result<()> {
        Err(StoreError::Unsupported(
            "a memory store cannot be backed up: it lives in this process only (use a SQLite store to keep data)".into(),
        ))
    }

    fn check(&mut self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn identity(&self) -> String {
        self.identity.clone()
    }
}
