//! OCI image references pinned by digest: the artifact of a release on a container platform.
//!
//! A tag names whatever was pushed last under it; a digest names exactly one image. A release
//! records what ran, so only references that carry a digest are accepted
//! (`registry.example/shop/web@sha256:…`, optionally with a tag before the digest, which is
//! kept for people and ignored for identity).

use std::fmt;

use crate::Digest;

/// An image reference with its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry and repository, without tag or digest (`registry.example/shop/web`).
    pub repository: String,
    /// The tag written before the digest, if any.
    pub tag: Option<String>,
    pub digest: Digest,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    #[error("`{0}` is not pinned by digest")]
    NoDigest(String),
    #[error("`{0}` has an invalid digest (want sha256:<64 lowercase hex digits>)")]
    BadDigest(String),
    #[error("`{0}` has no repository name")]
    NoRepository(String),
    #[error("`{0}` holds characters an image reference cannot hold")]
    BadCharacters(String),
}

impl ImageRefError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        "give the image by digest, as the registry reported it after the push: REPOSITORY@sha256:<digest> \
         (`docker inspect --format '{{index .RepoDigests 0}}' IMAGE` prints it)"
    }
}

/// Longest reference accepted; registries cap names well below this.
pub const MAX_IMAGE_REF: usize = 512;

impl ImageRef {
    pub fn parse(input: &str) -> Result<ImageRef, ImageRefError> {
        let s = input.trim();
        if s.is_empty()
            || s.len() > MAX_IMAGE_REF
            || !s.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
        {
            return Err(ImageRefError::BadCharacters(input.to_owned()));
        }
        let Some((name, digest)) = s.split_once('@') else {
            return Err(ImageRefError::NoDigest(input.to_owned()));
        };
        let digest: Digest = digest.parse().map_err(|_| ImageRefError::BadDigest(input.to_owned()))?;
        // A colon after the last slash separates a tag; one before it is a registry port.
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last_slash..].find(':') {
            Some(i) => (&name[..last_slash + i], Some(name[last_slash + i + 1..].to_owned())),
            None => (name, None),
        };
        if repository.is_empty() || repository.ends_with('/') || tag.as_deref() == Some("") {
            return Err(ImageRefError::NoRepository(input.to_owned()));
        }
        Ok(ImageRef { repository: repository.to_owned(), tag, digest })
    }

    /// The reference a container runtime pulls: repository and digest, without the tag.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.repository, self.digest)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pinned())
    }
}

/// Whether an image ID a container reports (`docker-pullable://repo@sha256:…`, `sha256:…`) is
/// the image with `digest`.
pub fn reports_digest(image_id: &str, digest: &Digest) -> bool {
    let id = image_id.rsplit('@').next().unwrap_or(image_id);
    let id = id.rsplit("://").next().unwrap_or(id);
    id == digest.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_parse_or_are_refused_for_a_reason() {
        let ok = |s: &str, repo: &str, tag: Option<&str>| {
            let r = ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!((r.repository.as_str(), r.tag.as_deref(), r.digest.as_str()), (repo, tag, D), "{s}");
        };
        ok(&format!("registry.example/shop/web@{D}"), "registry.example/shop/web", None);
        ok(&format!("registry.example:5000/web:v2@{D}"), "registry.example:5000/web", Some("v2"));
        ok(&format!("web@{D}"), "web", None);
        ok(&format!("localhost:5000/a/b/c:1.2.3-rc1@{D}"), "localhost:5000/a/b/c", Some("1.2.3-rc1"));

        let refused = [
            ("registry.example/web:v2", "not pinned by digest"),
            ("registry.example/web", "not pinned by digest"),
            ("registry.example/web@sha256:abc", "invalid digest"),
            ("registry.example/web@sha512:0123", "invalid digest"),
            (&format!("@{D}"), "no repository"),
            (&format!("registry.example/@{D}"), "no repository"),
            (&format!("web:@{D}"), "no repository"),
            (&format!("web web@{D}"), "characters"),
            ("", "characters"),
        ];
        for (input, why) in refused {
            let e = ImageRef::parse(input).expect_err(input).to_string();
            assert!(e.contains(why), "{input}: {e}");
        }
        let long = format!("{}@{D}", "a".repeat(MAX_IMAGE_REF));
        assert!(ImageRef::parse(&long).is_err());
    }

    #[test]
    fn pinned_drops_the_tag() {
        let r = ImageRef::parse(&format!("registry.example/web:v2@{D}")).expect("parses");
        assert_eq!(r.pinned(), format!("registry.example/web@{D}"));
    }

    #[test]
    fn reported_image_ids_match_by_digest_only() {
        let d: Digest = D.parse().expect("digest");
        let other = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
        for (id, want) in [
            (format!("docker-pullable://registry.example/web@{D}"), true),
            (format!("registry.example/web@{D}"), true),
            (D.to_owned(), true),
            (format!("docker://{D}"), true),
            (format!("docker-pullable://registry.example/web@{other}"), false),
            (other.to_owned(), false),
            (String::new(), false),
        ] {
            assert_eq!(reports_digest(&id, &d), want, "{id}");
        }
    }
}
