//! [`PasswordHasher`] with argon2id on a small dedicated thread pool, so hashing never
//! runs on (or starves) the HTTP workers.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use async_trait::async_trait;
use vidgen_application::users::ports::{HashError, PasswordHash, PasswordHasher};
use vidgen_domain::users::PlainPassword;

use crate::settings::HashingSettings;

/// Why the hasher could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HasherSetupError {
    #[error("invalid argon2 parameters")]
    Params(#[source] argon2::Error),
    #[error("cannot start the hashing pool")]
    Pool(#[source] rayon::ThreadPoolBuildError),
    #[error("cannot hash the dummy password")]
    Dummy(#[source] argon2::password_hash::Error),
}

/// argon2id with the configured cost, on `threads` dedicated threads.
pub struct Argon2PasswordHasher {
    params: Params,
    pool: Arc<rayon::ThreadPool>,
    dummy: PasswordHash,
}

impl std::fmt::Debug for Argon2PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2PasswordHasher")
            .field("params", &self.params)
            .field("threads", &self.pool.current_num_threads())
            .finish_non_exhaustive()
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

impl Argon2PasswordHasher {
    /// A hasher with `settings`' cost. `threads` bounds how many hashes run at once.
    ///
    /// # Errors
    /// Parameters argon2 refuses; a pool that cannot start.
    pub fn new(settings: HashingSettings, threads: usize) -> Result<Self, HasherSetupError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(HasherSetupError::Params)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("argon2-{i}"))
            .build()
            .map_err(HasherSetupError::Pool)?;
        let mut random = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
        let dummy = argon2(&params)
            .hash_password(&random)
            .map_err(HasherSetupError::Dummy)?
            .to_string();
        Ok(Self {
            params,
            pool: Arc::new(pool),
            dummy: PasswordHash::new(dummy),
        })
    }

    /// Runs `work` on the pool and waits for it without blocking the async worker.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        self.pool.spawn(move || {
            let _entered = span.enter();
            let _ = sender.send(work());
        });
        receiver.await.map_err(|e| HashError(Box::new(e)))
    }
}

#[async_trait]
impl PasswordHasher for Argon2PasswordHasher {
    async fn hash(&self, password: PlainPassword) -> Result<PasswordHash, HashError> {
        let params = self.params.clone();
        let hashed = self
            .run(move || {
                argon2(&params)
                    .hash_password(password.expose().as_bytes())
                    .map(|hash| hash.to_string())
            })
            .await?;
        hashed
            .map(PasswordHash::new)
            .map_err(|e| HashError(Box::new(e)))
    }

    async fn verify(&self, password: PlainPassword, hash: PasswordHash) -> Result<bool, HashError> {
        let params = self.params.clone();
        self.run(move || {
            // The parameters stored in the hash win; `params` only supplies defaults.
            argon2(&params)
                .verify_password(password.expose().as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
    }

    fn dummy_hash(&self) -> PasswordHash {
        self.dummy.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> Argon2PasswordHasher {
        Argon2PasswordHasher::new(
            HashingSettings {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            1,
        )
        .expect("hasher")
    }

    fn password(raw: &str) -> PlainPassword {
        PlainPassword::new(raw.to_owned())
    }

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let hasher = hasher();
        let first = hasher.hash(password("Correct1horse")).await.expect("hash");
        let second = hasher.hash(password("Correct1horse")).await.expect("hash");
        assert!(first.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_ne!(first, second, "salts differ");
        assert!(
            hasher
                .verify(password("Correct1horse"), first.clone())
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify(password("correct1horse"), first)
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn garbage_hashes_never_match() {
        let hasher = hasher();
        let garbage = PasswordHash::new("not a phc string");
        assert!(
            !hasher
                .verify(password("anything"), garbage)
                .await
                .expect("verify")
        );
        let dummy = hasher.dummy_hash();
        assert!(
            !hasher
                .verify(password("anything"), dummy)
                .await
                .expect("verify")
        );
    }

    #[test]
    fn default_parameters_are_owasps() {
        let hasher = Argon2PasswordHasher::new(
            HashingSettings {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
            },
            1,
        )
        .expect("hasher");
        assert!(
            hasher
                .dummy_hash()
                .as_str()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
    }
}
