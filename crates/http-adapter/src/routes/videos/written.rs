//! The JSON of the video list pages this worker thread answered last, reused when the
//! same page is asked for again and would be written the same way.
//!
//! Once the list cache serves a page, writing it (twenty videos, each with its signed
//! links, escaped into JSON) is the largest part of a list request's CPU time (a third
//! in a profile of `GET /api/v1/videos?limit=20`, beside a quarter in the kernel sending
//! it). A page is reused only when its videos are equal, field by field, to the ones it
//! was written from and its links have the same [`LinkFingerprint`] (origin, signer,
//! expiry bucket, owners' token versions): exactly the bytes writing it again would
//! give, so no write can leave it stale. Per thread, so no lock is taken.

use std::cell::RefCell;
use std::collections::VecDeque;

use actix_web::web::Bytes;
use vidgen_domain::videos::Video;

use super::dto::VideoResponse;
use crate::media_links::{LinkFingerprint, MediaUrls};

/// Pages kept per thread.
const KEPT: usize = 8;
/// Pages written larger than this are not kept (about 300 videos).
const LARGEST: usize = 256 * 1024;

struct Written {
    videos: Vec<Video>,
    links: LinkFingerprint,
    json: Bytes,
}

thread_local! {
    static WRITTEN: RefCell<VecDeque<Written>> = const { RefCell::new(VecDeque::new()) };
}

/// `videos` as the JSON array of their [`VideoResponse`]s with `urls`' links.
///
/// # Errors
/// Serialisation failing (it does not for these types).
pub(super) fn page_json(videos: Vec<Video>, urls: &MediaUrls) -> Result<Bytes, serde_json::Error> {
    let links = urls.fingerprint();
    let kept = WRITTEN.with_borrow(|written| {
        written
            .iter()
            .find(|page| page.links == links && page.videos == videos)
            .map(|page| page.json.clone())
    });
    if let Some(json) = kept {
        return Ok(json);
    }
    let items: Vec<VideoResponse> = videos
        .iter()
        .cloned()
        .map(|video| VideoResponse::linked(video, urls))
        .collect();
    // Most videos take 500 to 700 bytes of JSON.
    let mut json = Vec::with_capacity(items.len().saturating_mul(768).saturating_add(2));
    serde_json::to_writer(&mut json, &items)?;
    let json = Bytes::from(json);
    if json.len() <= LARGEST {
        WRITTEN.with_borrow_mut(|written| {
            written.push_front(Written {
                videos,
                links,
                json: json.clone(),
            });
            written.truncate(KEPT);
        });
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use actix_web::test::TestRequest;
    use chrono::{TimeZone, Utc};
    use vidgen_application::clock::MockClock;
    use vidgen_application::media_links::{MediaLinks, MockLinkSigner};
    use vidgen_application::videos::tests_support;
    use vidgen_domain::users::UserId;
    use vidgen_domain::videos::Description;

    use super::*;

    fn completed(id: i64) -> Video {
        Video {
            description: Some(Description::parse("A \"calm\" lake").expect("a description")),
            thumbnail_key: Some("a.png".into()),
            ..tests_support::video(id, None)
        }
    }

    /// Links signed by a fake signer, the clock at `seconds`.
    fn links_at(seconds: i64) -> MediaLinks {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(move || Utc.timestamp_opt(seconds, 0).single().expect("time"));
        let mut signer = MockLinkSigner::new();
        signer
            .expect_sign()
            .returning(|message| format!("{:016x}", xxhash_rust::xxh3::xxh3_64(message)));
        MediaLinks::new(Arc::new(signer), Arc::new(clock), 3600)
    }

    fn urls(links: &MediaLinks, host: &str, version: i64) -> MediaUrls {
        let request = TestRequest::default()
            .insert_header(("host", host))
            .to_http_request();
        let versions = HashMap::from([(UserId::new(1).expect("an id"), version)]);
        MediaUrls::new(&request, Some(links), versions)
    }

    /// What writing `videos` afresh gives.
    fn fresh(videos: &[Video], urls: &MediaUrls) -> Bytes {
        let items: Vec<VideoResponse> = videos
            .iter()
            .cloned()
            .map(|video| VideoResponse::linked(video, urls))
            .collect();
        Bytes::from(serde_json::to_vec(&items).expect("serialised"))
    }

    fn written(videos: &[Video], urls: &MediaUrls) -> Bytes {
        page_json(videos.to_vec(), urls).expect("written")
    }

    #[test]
    fn a_page_is_reused_only_while_its_videos_and_links_are_the_same() {
        let links = links_at(1_000_000);
        let videos = vec![completed(1), completed(2)];
        let first = urls(&links, "a.example", 3);
        let json = written(&videos, &first);
        assert_eq!(json, fresh(&videos, &first));
        // The same page again: the very bytes kept.
        let again = written(&videos, &urls(&links, "a.example", 3));
        assert_eq!(again.as_ptr(), json.as_ptr(), "reused");

        // Any change of a video, of the origin, of a token version, of the signer or of
        // the expiry bucket writes it again, as writing it afresh would.
        let mut renamed = videos.clone();
        renamed[1].progress = 99;
        let changed = written(&renamed, &first);
        assert_ne!(changed, json);
        assert_eq!(changed, fresh(&renamed, &first));
        for other in [
            urls(&links, "b.example", 3),
            urls(&links, "a.example", 4),
            urls(&links_at(1_000_000), "a.example", 3),
            urls(&links_at(1_000_000 + 3600), "a.example", 3),
        ] {
            let json_of_other = written(&videos, &other);
            assert_ne!(json_of_other.as_ptr(), json.as_ptr());
            assert_eq!(json_of_other, fresh(&videos, &other));
        }
        // Only the last few pages are kept.
        for id in 10..10 + KEPT as i64 {
            written(&[completed(id)], &first);
        }
        let rewritten = written(&videos, &first);
        assert_ne!(rewritten.as_ptr(), json.as_ptr());
        assert_eq!(rewritten, json);
    }
}
