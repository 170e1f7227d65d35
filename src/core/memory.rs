//! The in-memory reference backend: the contract of [`Store`] in its simplest form.
//! The conformance suite checks the other backends against it; it also serves `memory:`
//! URLs, for applications' own tests.

use std::collections::BTreeMap;

use super::error::Result;
use super::store::{KeyWrite, Store};

#[derive(Debug, Default)]
struct Session {
    creds: Option<Vec<u8>>,
    keys: BTreeMap<(String, String), Vec<u8>>,
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    sessions: BTreeMap<String, Session>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.sessions.get(session).and_then(|s| s.creds.clone()))
    }

    fn set_creds(&mut self, session: &str, creds: &[u8]) -> Result<()> {
        self.sessions.entry(session.to_owned()).or_default().creds = Some(creds.to_vec());
        Ok(())
    }

    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let keys = self.sessions.get(session).map(|s| &s.keys);
        Ok(ids
            .iter()
            .map(|id| keys.and_then(|k| k.get(&(kind.to_owned(), id.clone())).cloned()))
            .collect())
    }

    fn apply(&mut self, session: &str, writes: &[KeyWrite]) -> Result<()> {
        if !self.sessions.contains_key(session) && writes.iter().all(|w| w.value.is_none()) {
            return Ok(());
        }
        let keys = &mut self.sessions.entry(session.to_owned()).or_default().keys;
        for write in writes {
            let key = (write.kind.clone(), write.id.clone());
            match &write.value {
                Some(value) => keys.insert(key, value.clone()),
                None => keys.remove(&key),
            };
        }
        Ok(())
    }

    fn clear_keys(&mut self, session: &str) -> Result<()> {
        if let Some(s) = self.sessions.get_mut(session) {
            s.keys.clear();
        }
        Ok(())
    }

    fn delete_session(&mut self, session: &str) -> Result<()> {
        self.sessions.remove(session);
        Ok(())
    }

    fn sessions(&mut self) -> Result<Vec<String>> {
        Ok(self
            .sessions
            .iter()
            .filter(|(_, s)| s.creds.is_some() || !s.keys.is_empty())
            .map(|(name, _)| name.clone())
            .collect())
    }

    fn check(&mut self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}
