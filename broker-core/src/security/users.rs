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

    /// Applies `f` to a copy and, when it succeeds, persists the copy and makes it current.
    fn change<T, E>(&self, f: impl FnOnce(&mut Credentials) -> Result<T, E>) -> io::Result<Result<T, E>> {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        let mut changed = users.clone();
        let out = match f(&mut changed) {
            Ok(out) => out,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
            // Salts and stored keys allow an offline dictionary attack: the owner's eyes only.
            set_mode(dir, 0o700)?;
        }
        let json = serde_json::to_vec_pretty(&changed).map_err(io::Error::other)?;
        crate::log::write_atomically(&self.path, &json)?;
        set_mode(&self.path, 0o600)?;
        *users = changed;
        Ok(Ok(out))
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
                        let salt = super::random_bytes(super::scram::SALT_BYTES);
                        (hash, ScramCredential::from_password(hash, password, salt, MIN_ITERATIONS))
                    })
                    .collect();
                (name.clone(), credentials)
            })
            .collect();
        self.change(|all| {
            all.extend(derived);
            Ok::<(), std::convert::Infallible>(())
        })
        .map(|_| ())
    }

    /// One user's part of AlterUserScramCredentials, all or nothing: removes the `deletions`,
    /// then sets the `upsertions`. `Err(hash)` names a deletion of a credential the user does
    /// not have (and nothing changed).
    pub fn alter(
        &self,
        user: &str,
        deletions: &[ScramHash],
        upsertions: Vec<(ScramHash, ScramCredential)>,
    ) -> io::Result<Result<(), ScramHash>> {
        self.change(|all| {
            let have = all.get(user);
            if let Some(missing) = deletions.iter().find(|h| !have.is_some_and(|c| c.contains_key(h))) {
                return Err(*missing);
            }
            let credentials = all.entry(user.to_string()).or_default();
            for hash in deletions {
                credentials.remove(hash);
            }
            credentials.extend(upsertions);
            if credentials.is_empty() {
                all.remove(user);
            }
            Ok(())
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
            // Spend the same work on an unknown user as on a known one: one PBKDF2 (the decoy's
            // own derivation is paid once per process).
            static DECOY: std::sync::OnceLock<ScramCredential> = std::sync::OnceLock::new();
            let decoy = DECOY.get_or_init(|| {
                let salt = super::random_bytes(super::scram::SALT_BYTES);
                ScramCredential::from_password(ScramHash::Sha512, "", salt, MIN_ITERATIONS)
            });
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

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("security")), 0o700);
            assert_eq!(mode(&dir.path().join("security/users.json")), 0o600);
        }
        let reopened = Users::open(dir.path()).expect("reopen");
        assert!(reopened.verify_password("alice", "correct horse"));
        assert_eq!(reopened.alter("alice", &[ScramHash::Sha256], Vec::new()).expect("delete"), Ok(()));
        assert!(reopened.credential("alice", ScramHash::Sha256).is_none());
        // All or nothing: a missing credential among the deletions changes nothing.
        let other = ScramCredential::from_password(ScramHash::Sha256, "x", vec![1; 32], MIN_ITERATIONS);
        let refused =
            reopened.alter("alice", &[ScramHash::Sha512, ScramHash::Sha256], vec![(ScramHash::Sha256, other)]);
        assert_eq!(refused.expect("io"), Err(ScramHash::Sha256));
        assert!(reopened.credential("alice", ScramHash::Sha512).is_some());
        assert_eq!(reopened.alter("alice", &[ScramHash::Sha512], Vec::new()).expect("delete"), Ok(()));
        assert!(!reopened.exists("alice"));
        assert_eq!(reopened.alter("alice", &[ScramHash::Sha512], Vec::new()).expect("io"), Err(ScramHash::Sha512));
    }
}
