//! Sample videos for unit tests, of this crate and (with the `mocks` feature) of the
//! crates around it.

use chrono::{TimeZone, Utc};
use vidgen_domain::users::UserId;
use vidgen_domain::videos::{Title, Video, VideoId, VideoSource, VideoStatus};

/// A completed upload with id `id`, owned by user 1, calling `webhook` back.
pub fn video(id: i64, webhook: Option<&str>) -> Video {
    let at = Utc
        .with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .expect("time");
    Video {
        id: VideoId::new(id).expect("id"),
        owner_id: UserId::new(1).expect("owner"),
        title: Title::parse("Lake").expect("title"),
        description: None,
        prompt: None,
        source: VideoSource::Upload,
        status: VideoStatus::Completed,
        progress: 100,
        resolution: None,
        fps: None,
        requested_duration: None,
        duration: Some(2.0),
        width: Some(640),
        height: Some(360),
        file_size: Some(1000),
        content_type: Some("video/mp4".into()),
        codec: Some("h264".into()),
        media_key: Some("a.mp4".into()),
        thumbnail_key: None,
        error: None,
        webhook_url: webhook.map(str::to_owned),
        created_at: at,
        updated_at: at,
        completed_at: Some(at),
    }
}
