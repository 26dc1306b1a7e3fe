//! The services of the application, built from the settings: every adapter wired into
//! the use-case services, and the job handlers into the registry the workers run from.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use vidgen_application::account::{AccountPorts, AccountService};
use vidgen_application::analytics::AnalyticsService;
use vidgen_application::auth::{AuthPorts, AuthService};
use vidgen_application::clock::{Clock, SystemClock};
use vidgen_application::idempotency::IdempotencyStore;
use vidgen_application::invalidation::{self, InvalidationBus, InvalidationListener};
use vidgen_application::jobs::cleanup_idempotency_keys::CleanupIdempotencyKeys;
use vidgen_application::jobs::sweep_media::SweepMedia;
use vidgen_application::jobs::{JobQueue, JobRegistry};
use vidgen_application::mail::Mailer;
use vidgen_application::mail::send::{MailLinks, SendMail};
use vidgen_application::media_links::MediaLinks;
use vidgen_application::profiles::{ProfilePorts, ProfileService};
use vidgen_application::rate_limits::{Quota, Quotas, RateLimits};
use vidgen_application::storage::MediaInventory;
use vidgen_application::users::ports::UserRepository;
use vidgen_application::users::{UserService, UserSettings};
use vidgen_application::videos::VideoService;
use vidgen_application::videos::events::{StreamLimits, VideoWatch};
use vidgen_application::videos::ports::{MediaStore, VideoRepository};
use vidgen_application::videos::probe::MediaProbe;
use vidgen_application::videos::process_upload::ProcessUpload;
use vidgen_application::videos::render::VideoRenderer;
use vidgen_application::videos::render_job::RenderJob;
use vidgen_application::webhooks::WebhookSender;
use vidgen_application::webhooks::deliver::DeliverWebhook;
use vidgen_application::webhooks::outbox::WebhookOutbox;
use vidgen_domain::users::EmailDomainPolicy;
use vidgen_http_adapter::webhooks::VideoWebhookBodies;
use vidgen_infrastructure::auth::{
    CachedTokenVerifier, HmacAccountTokens, JwtSettings, JwtTokenIssuer, RandomOpaqueTokens,
};
use vidgen_infrastructure::avatars::ImageRsAvatarImages;
use vidgen_infrastructure::database::Db;
use vidgen_infrastructure::invalidation::redis::RedisInvalidationBus;
use vidgen_infrastructure::invalidation::{FanOutBus, LocalInvalidationBus};
use vidgen_infrastructure::mail::{LogMailer, MiniJinjaMailTemplates, SmtpMailer};
use vidgen_infrastructure::media::FsMediaStore;
use vidgen_infrastructure::media::s3::S3MediaStore;
use vidgen_infrastructure::media_links::HmacLinkSigner;
use vidgen_infrastructure::passwords::Argon2PasswordHasher;
use vidgen_infrastructure::probe::FileMediaProbe;
use vidgen_infrastructure::rate_limit::MemoryRateLimiter;
use vidgen_infrastructure::rate_limit::shared::RedisRateLimiter;
use vidgen_infrastructure::render::Openh264Renderer;
use vidgen_infrastructure::repositories::{
    CachedUserRepository, CachedVideoRepository, ListCacheOptions, SeaOrmAccountTokenRepository,
    SeaOrmAnalyticsRepository, SeaOrmIdempotencyStore, SeaOrmJobQueue, SeaOrmMediaReferences,
    SeaOrmProfileRepository, SeaOrmRefreshTokenRepository, SeaOrmUserRepository,
    SeaOrmVideoRepository,
};
use vidgen_infrastructure::settings::Settings;
use vidgen_infrastructure::settings::StorageBackend;
use vidgen_infrastructure::settings::{
    ACCOUNT_MAIL_WINDOW, LOGIN_WINDOW, MailBackend, RateLimitBackend,
};
use vidgen_infrastructure::webhooks::HttpWebhookSender;
use vidgen_infrastructure::webhooks::signature::WebhookKey;

use crate::startup::StartupError;

/// The application services, wired to their adapters.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Services {
    pub users: UserService,
    pub auth: AuthService,
    pub account: AccountService,
    pub videos: VideoService,
    /// The progress streams' view of the videos (one per instance).
    pub video_watch: Arc<VideoWatch>,
    pub profiles: ProfileService,
    pub analytics: AnalyticsService,
    /// Signs the media links responses embed (the handlers build them).
    pub media_links: MediaLinks,
    /// `None` with `RATE_LIMIT_ENABLED=false`.
    pub rate_limits: Option<RateLimits>,
    pub jobs: Arc<dyn JobQueue>,
    /// The job handlers, one per kind, for the worker runtime.
    pub registry: Arc<JobRegistry>,
    pub clock: Arc<dyn Clock>,
    /// The cache invalidation channel between instances (with `REDIS_URL`), closed at
    /// shutdown.
    pub invalidation: Option<Arc<RedisInvalidationBus>>,
}

impl Services {
    /// Wires every adapter into the use-case services and the job handlers.
    ///
    /// # Errors
    /// The password hasher, the media folder or the renderer cannot be set up.
    pub async fn build(
        settings: &Settings,
        db: &Db,
        renderer: Option<Arc<dyn VideoRenderer>>,
    ) -> Result<Self, StartupError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let caches = Caches::build(settings).await?;
        let users = caches.users(SeaOrmUserRepository::new(db.clone()));
        let refresh_tokens = Arc::new(SeaOrmRefreshTokenRepository::new(db.clone()));
        // Half the cores at most, so logins can never take every core from the HTTP workers.
        let hashing_threads =
            std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1));
        let hasher = Arc::new(Argon2PasswordHasher::new(
            settings.auth.hashing,
            hashing_threads,
        )?);
        let jwt = Arc::new(JwtTokenIssuer::new(&JwtSettings {
            secret: settings.auth.secret_key_bytes().to_vec(),
            lifetime: Duration::from_secs(
                u64::from(settings.auth.access_token_expire_minutes) * 60,
            ),
        }));
        let user_service = UserService::new(
            users.clone(),
            hasher.clone(),
            clock.clone(),
            UserSettings {
                email_policy: EmailDomainPolicy {
                    allowed: settings.auth.email_allowed_domains.clone(),
                    blocked: settings.auth.email_blocked_domains.clone(),
                },
                require_email_verification: settings.auth.require_email_verification,
            },
        );
        let link_owners = users.clone();
        let account_tokens = Arc::new(HmacAccountTokens::new(settings.auth.secret_key_bytes()));
        let account = AccountService::new(AccountPorts {
            users: users.clone(),
            tokens: Arc::new(SeaOrmAccountTokenRepository::new(db.clone())),
            secrets: account_tokens.clone(),
            hasher: hasher.clone(),
            clock: clock.clone(),
        });
        let user_service = user_service.with_verification_mail(Arc::new(account.clone()));
        let auth = AuthService::new(
            AuthPorts {
                users: users.clone(),
                refresh_tokens,
                hasher,
                issuer: jwt.clone(),
                verifier: Arc::new(CachedTokenVerifier::new(jwt, VERIFIED_TOKENS_KEPT)),
                opaque: Arc::new(RandomOpaqueTokens),
                clock: clock.clone(),
            },
            Duration::from_secs(u64::from(settings.auth.refresh_token_expire_days) * 24 * 3600),
        );
        let (media, inventory) = media_store(settings).await?;
        let videos = caches.videos(SeaOrmVideoRepository::new(db.clone()));
        let video_watch = Arc::new(VideoWatch::new(
            videos.clone(),
            StreamLimits {
                per_user: settings.rate_limits.event_streams_per_user as usize,
                total: settings.rate_limits.event_streams_max as usize,
            },
        ));
        let jobs: Arc<dyn JobQueue> = Arc::new(SeaOrmJobQueue::new(db.clone()));
        let renderer: Arc<dyn VideoRenderer> = match renderer {
            Some(renderer) => renderer,
            // As many renders as job workers; they run at the lowest priority, so the
            // HTTP workers keep the CPU they need.
            None => Arc::new(Openh264Renderer::new(settings.jobs.workers.max(1))?),
        };
        let keys: Arc<dyn IdempotencyStore> = Arc::new(SeaOrmIdempotencyStore::new(db.clone()));
        let (webhooks, sender) = webhooks(settings)?;
        let probe: Arc<dyn MediaProbe> = Arc::new(FileMediaProbe::new());
        // One signer for every media link (videos' files, avatars).
        let media_links = MediaLinks::new(
            Arc::new(HmacLinkSigner::new(settings.auth.secret_key_bytes())),
            clock.clone(),
            settings.media.media_url_ttl_seconds,
        );
        let video_service = VideoService::new(
            videos.clone(),
            jobs.clone(),
            media.clone(),
            keys.clone(),
            clock.clone(),
        )
        .with_webhooks(webhooks.clone())
        .with_uploads(probe.clone(), settings.media.max_upload_bytes)
        .with_max_active_jobs(u64::from(settings.rate_limits.max_active_jobs_per_user))
        .with_media_links(media_links.clone(), link_owners);
        let profiles = ProfileService::new(
            ProfilePorts {
                users,
                profiles: Arc::new(SeaOrmProfileRepository::new(db.clone())),
                // As many pictures at once as the hashing pool has threads: half the cores.
                images: Arc::new(ImageRsAvatarImages::new(hashing_threads)),
                media: media.clone(),
                clock: clock.clone(),
            },
            settings.media.max_avatar_bytes,
        )
        .with_media_links(media_links.clone());
        let user_service = user_service
            .with_owned_content(Arc::new(video_service.clone()))
            .with_owned_content(Arc::new(profiles.clone()));
        // One registration per job kind.
        let mut registry = JobRegistry::new()
            .with(Arc::new(RenderJob::new(
                videos.clone(),
                media.clone(),
                renderer,
                clock.clone(),
                webhooks.clone(),
            )))?
            .with(Arc::new(ProcessUpload::new(
                videos,
                media.clone(),
                probe,
                clock.clone(),
                webhooks,
            )))?
            .with(Arc::new(CleanupIdempotencyKeys::new(
                keys,
                clock.clone(),
                CleanupIdempotencyKeys::DEFAULT_PERIOD,
            )))?
            .with(Arc::new(SweepMedia::new(
                inventory,
                Arc::new(SeaOrmMediaReferences::new(db.clone())),
                clock.clone(),
                SweepMedia::DEFAULT_GRACE,
                SweepMedia::DEFAULT_PERIOD,
            )))?;
        if let Some(sender) = sender {
            registry = registry.with(Arc::new(DeliverWebhook::new(sender, clock.clone())))?;
        }
        registry = registry.with(Arc::new(SendMail::new(
            mailer(settings)?,
            Arc::new(MiniJinjaMailTemplates::new()?),
            account_tokens,
            MailLinks::new(settings.server.public_base_url.as_str()),
        )))?;
        let analytics = AnalyticsService::new(
            Arc::new(SeaOrmAnalyticsRepository::new(db.clone())),
            clock.clone(),
        );
        Ok(Self {
            users: user_service,
            analytics,
            media_links,
            auth,
            account,
            videos: video_service,
            video_watch,
            profiles,
            rate_limits: if settings.rate_limits.enabled {
                Some(rate_limits(settings).await?)
            } else {
                tracing::warn!("rate limiting is off (RATE_LIMIT_ENABLED=false)");
                None
            },
            jobs,
            registry: Arc::new(registry),
            clock,
            invalidation: caches.redis,
        })
    }
}

/// How long start-up waits for the cache invalidation channel before going on without
/// it (it keeps trying in the background).
const INVALIDATION_START_WAIT: Duration = Duration::from_secs(2);

/// The in-memory caches in front of the user and video repositories, and the channel
/// that keeps them coherent with other instances.
struct Caches {
    /// `USER_CACHE_TTL_SECONDS` (0: no caching at all).
    user_ttl: Duration,
    fallback_ttl: Duration,
    /// Page caching, when `LIST_CACHE_TTL_SECONDS` and the user cache are both on.
    lists: Option<ListCacheOptions>,
    /// This instance's own writes reach its other caches through it, then Redis.
    bus: Arc<FanOutBus>,
    /// With `REDIS_URL`.
    redis: Option<Arc<RedisInvalidationBus>>,
}

impl Caches {
    /// Connects the invalidation channel when `REDIS_URL` is set and anything is cached.
    async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let auth = &settings.auth;
        let user_ttl = auth.user_cache_ttl_seconds;
        let redis = match settings.rate_limits.redis_url.as_deref() {
            Some(url) if user_ttl > 0 => {
                let bus = Arc::new(
                    RedisInvalidationBus::new(url, &auth.cache_invalidation_channel)
                        .map_err(StartupError::Invalidation)?,
                );
                bus.start(INVALIDATION_START_WAIT).await;
                Some(bus)
            }
            _ => None,
        };
        let fallback_ttl = Duration::from_secs(auth.user_cache_fallback_ttl_seconds.min(user_ttl));
        // Without Redis no other instance hears of a write: entries live their whole TTL.
        let fallback_ttl = if redis.is_some() {
            fallback_ttl
        } else {
            Duration::from_secs(user_ttl)
        };
        let remote: Arc<dyn InvalidationBus> = match &redis {
            Some(bus) => bus.clone(),
            None => Arc::new(LocalInvalidationBus),
        };
        let lists = (user_ttl > 0 && auth.list_cache_ttl_seconds > 0).then(|| {
            let ttl = Duration::from_secs(auth.list_cache_ttl_seconds);
            ListCacheOptions {
                ttl,
                fallback_ttl: fallback_ttl.min(ttl),
                capacity: LIST_CACHE_ROWS,
            }
        });
        Ok(Self {
            user_ttl: Duration::from_secs(user_ttl),
            fallback_ttl,
            lists,
            bus: Arc::new(FanOutBus::new(remote)),
            redis,
        })
    }

    /// The users: cached in memory unless `USER_CACHE_TTL_SECONDS=0`.
    fn users(&self, stored: SeaOrmUserRepository) -> Arc<dyn UserRepository> {
        if self.user_ttl.is_zero() {
            return Arc::new(stored);
        }
        let mut cached = CachedUserRepository::new(stored, self.user_ttl, USER_CACHE_ENTRIES)
            .with_invalidation(self.bus.clone(), self.fallback_ttl);
        if let Some(lists) = self.lists {
            cached = cached.with_lists(lists);
        }
        let cached = Arc::new(cached);
        invalidation::subscribe(self.bus.as_ref(), &cached);
        cached
    }

    /// The videos, with their list pages cached unless list caching is off.
    fn videos(&self, stored: SeaOrmVideoRepository) -> Arc<dyn VideoRepository> {
        let Some(lists) = self.lists else {
            return Arc::new(stored);
        };
        let cached =
            Arc::new(CachedVideoRepository::new(stored, lists).with_invalidation(self.bus.clone()));
        invalidation::subscribe(self.bus.as_ref(), &cached);
        // A user's write (a deletion takes their videos with it) drops the pages too.
        let listener: Arc<dyn InvalidationListener> = cached.clone();
        self.bus.notify_locally(Arc::downgrade(&listener));
        cached
    }
}

/// Users kept in the authentication cache at most.
const USER_CACHE_ENTRIES: u64 = 100_000;
/// Rows of list pages kept per collection at most (a few MiB).
const LIST_CACHE_ROWS: u64 = 10_000;
/// Access tokens remembered as verified (a few hundred bytes each).
const VERIFIED_TOKENS_KEPT: u64 = 10_000;

/// How long one webhook attempt may take, connection included.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The webhook outbox and sender the settings ask for: both off without `WEBHOOK_SECRET`
/// (then a `webhook_url` is refused with a clear 422).
/// The media store `STORAGE_BACKEND` names, as a store and as the sweep's inventory.
/// With `s3`, the bucket must answer before the server starts.
async fn media_store(
    settings: &Settings,
) -> Result<(Arc<dyn MediaStore>, Arc<dyn MediaInventory>), StartupError> {
    let root = &settings.media.root;
    match (settings.media.backend, &settings.media.s3) {
        (StorageBackend::S3, Some(s3)) => {
            let store = Arc::new(S3MediaStore::new(s3, root).map_err(StartupError::Storage)?);
            store.check().await.map_err(StartupError::Storage)?;
            tracing::info!(bucket = %s3.bucket, "media stored in S3");
            Ok((store.clone(), store))
        }
        _ => {
            let store =
                Arc::new(
                    FsMediaStore::new(root).map_err(|source| StartupError::Media {
                        path: root.display().to_string(),
                        source,
                    })?,
                );
            Ok((store.clone(), store))
        }
    }
}

fn webhooks(
    settings: &Settings,
) -> Result<(WebhookOutbox, Option<Arc<dyn WebhookSender>>), StartupError> {
    let Some(secret) = &settings.webhooks.secret else {
        tracing::info!("webhooks are off: set WEBHOOK_SECRET to enable them");
        return Ok((WebhookOutbox::disabled(), None));
    };
    let key = WebhookKey::parse(secret.expose_secret()).map_err(|_| StartupError::WebhookSecret)?;
    let sender = HttpWebhookSender::new(key, settings.webhooks.allow_private, WEBHOOK_TIMEOUT);
    Ok((
        WebhookOutbox::new(
            Arc::new(VideoWebhookBodies),
            settings.webhooks.allow_insecure,
            settings.webhooks.allow_private,
        ),
        Some(Arc::new(sender)),
    ))
}

/// How long one SMTP command may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The mailer `MAIL_BACKEND` asks for.
fn mailer(settings: &Settings) -> Result<Arc<dyn Mailer>, StartupError> {
    match settings.mail.backend {
        MailBackend::Log => {
            if settings.mail.mask_logged_tokens {
                tracing::warn!(
                    "account e-mails are written to the log with their tokens masked (MAIL_BACKEND=log, MAIL_LOG_IN_PRODUCTION=true): nobody receives them"
                );
                Ok(Arc::new(LogMailer::masking()))
            } else {
                tracing::info!("account e-mails are written to the log (MAIL_BACKEND=log)");
                Ok(Arc::new(LogMailer::new()))
            }
        }
        MailBackend::Smtp => {
            let url = settings
                .mail
                .smtp_url
                .as_ref()
                .map(|url| url.expose_secret().to_owned())
                .unwrap_or_default();
            let mailer = SmtpMailer::new(&url, &settings.mail.from, SMTP_TIMEOUT)
                .map_err(StartupError::Smtp)?;
            Ok(Arc::new(mailer))
        }
    }
}

/// The rate limiter the settings ask for.
async fn rate_limits(settings: &Settings) -> Result<RateLimits, StartupError> {
    let limits = &settings.rate_limits;
    let quotas = Quotas {
        api: Quota {
            limit: limits.requests,
            window: Duration::from_secs(60),
        },
        login: Quota {
            limit: limits.login_attempts,
            window: LOGIN_WINDOW,
        },
        recovery: Quota {
            limit: limits.recovery_requests,
            window: ACCOUNT_MAIL_WINDOW,
        },
        account_mail: Quota {
            limit: limits.account_mails,
            window: ACCOUNT_MAIL_WINDOW,
        },
    };
    match limits.backend {
        RateLimitBackend::Memory => Ok(RateLimits::new(Arc::new(MemoryRateLimiter::new(quotas)))),
        RateLimitBackend::Redis => {
            let url = limits.redis_url.as_deref().unwrap_or_default();
            let limiter = RedisRateLimiter::connect(url, "vidgen:rl", quotas)
                .await
                .map_err(StartupError::Redis)?;
            Ok(RateLimits::new(Arc::new(limiter)))
        }
    }
}
