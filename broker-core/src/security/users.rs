//! The user store: SCRAM credentials per user and mechanism, in memory and in
//! `DATA_DIR/security/users.json` (written atomically). Passwords never reach it: a configured
//! password is turned into credentials at open, and AlterUserScramCredentials carries salted
//! passwords only.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use super::scram::{ScramCredential, ScramHash, MIN_ITERATIONS};

type Credentials = BTreeMap<String, BTreeMap<ScramHash, ScramCredential>>;

#[derive(Debug)]
pub struct Users {
    path: PathBuf,
    users: RwLock<Credentials>,
}

impl Users {
    /// Loads the store under `data_dir` (empty when there is none yet).
    pub fn open(data_dir: &Path) -> io::Result<Users> {
        let path = data_dir.join("security").join("users.json");
        let users = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Credentials::new(),
            Err(e) => return Err(e),
        };
        Ok(Users { path, users: RwLock::new(users) })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Credentials> {
        self.users.read().unwrap_or_else(|e| e.into_inner())
    }

    fn change<T>(&self, f: impl FnOnce(&mut Credentials) -> T) -> io::Result<T> {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        let mut changed = users.clone();
        let out = f(&mut changed);
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_vec_pretty(&changed).map_err(io::Error::other)?;
        crate::log::write_atomically(&self.path, &json)?;
        *users = changed;
        Ok(out)
    }

    /// Sets a user's password for every SCRAM mechanism (fresh salts, Kafka's minimum of 4096
    /// iterations), replacing what the store had for them.
    pub fn set_passwords(&self, users: &[(String, String)]) -> io::Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let derived: Vec<(String, BTreeMap<ScramHash, ScramCredential>)> = users
            .iter()
            .map(|(name, password)| {
                let credentials = [ScramHash::Sha256, ScramHash::Sha512]
                    .into_iter()
                    .map(|hash| {
                        let salt = super::random_bytes(32);
                        (hash, ScramCredential::from_password(hash, password, salt, MIN_ITERATIONS))
                    })
                    .collect();
                (name.clone(), credentials)
            })
            .collect();
        self.change(|all| {
            for (name, credentials) in derived {
                all.insert(name, credentials);
            }
        })
    }

    /// AlterUserScramCredentials' upsertion.
    pub fn upsert(&self, user: &str, hash: ScramHash, credential: ScramCredential) -> io::Result<()> {
        self.change(|all| {
            all.entry(user.to_string()).or_default().insert(hash, credential);
        })
    }

    /// AlterUserScramCredentials' deletion; `false` when there was no such credential.
    pub fn delete(&self, user: &str, hash: ScramHash) -> io::Result<bool> {
        if !self.read().get(user).is_some_and(|c| c.contains_key(&hash)) {
            return Ok(false);
        }
        self.change(|all| {
            if let Some(credentials) = all.get_mut(user) {
                credentials.remove(&hash);
                if credentials.is_empty() {
                    all.remove(user);
                }
            }
            true
        })
    }

    pub fn credential(&self, user: &str, hash: ScramHash) -> Option<ScramCredential> {
        self.read().get(user)?.get(&hash).cloned()
    }

    /// SASL/PLAIN: whether `password` is the user's, checked against one of its credentials.
    pub fn verify_password(&self, user: &str, password: &str) -> bool {
        let Some((hash, credential)) =
            self.read().get(user).and_then(|c| c.iter().next_back().map(|(h, c)| (*h, c.clone())))
        else {
            // Spend the same work on an unknown user as on a known one.
            let decoy = ScramCredential::from_password(ScramHash::Sha512, "", vec![0; 32], MIN_ITERATIONS);
            let _ = decoy.verifies(ScramHash::Sha512, password);
            return false;
        };
        credential.verifies(hash, password)
    }

    /// Every user (or the named ones) with its mechanisms and iteration counts.
    pub fn describe(&self) -> Vec<(String, Vec<(ScramHash, u32)>)> {
        self.read()
            .iter()
            .map(|(name, c)| (name.clone(), c.iter().map(|(h, c)| (*h, c.iterations)).collect()))
            .collect()
    }

    pub fn exists(&self, user: &str) -> bool {
        self.read().contains_key(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_persist_and_never_hold_the_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        let users = Users::open(dir.path()).expect("open");
        users.set_passwords(&[("alice".into(), "correct horse".into())]).expect("set");
        assert!(users.verify_password("alice", "correct horse"));
        assert!(!users.verify_password("alice", "wrong") && !users.verify_password("bob", "correct horse"));
        let file = std::fs::read_to_string(dir.path().join("security/users.json")).expect("file");
        assert!(!file.contains("correct horse") && file.contains("alice"));
        let reopened = Users::open(dir.path()).expect("reopen");
        assert!(reopened.verify_password("alice", "correct horse"));
        assert!(reopened.delete("alice", ScramHash::Sha256).expect("delete"));
        assert!(reopened.credential("alice", ScramHash::Sha256).is_none());
        assert!(reopened.delete("alice", ScramHash::Sha512).expect("delete") && !reopened.exists("alice"));
        assert!(!reopened.delete("alice", ScramHash::Sha512).expect("nothing left"));
    }
}
