//! Reading a response body under a size cap (enforced while streaming), and keeping it as raw
//! JSON.

use serde_json::value::RawValue;

/// Why a body could not be had.
pub(crate) enum BodyError {
    /// More than the cap.
    TooLarge,
    /// The transfer failed (timeout, connection reset, bad encoding).
    Read(reqwest::Error),
}

/// The body, or `TooLarge` as soon as more than `cap` bytes are announced or received.
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> std::result::Result<Vec<u8>, BodyError> {
    if resp
        .content_length()
        .is_some_and(|l| l > u64::try_from(cap).unwrap_or(u64::MAX))
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The body as raw JSON (verbatim, minus a BOM and surrounding blanks), if it is valid JSON.
pub(crate) fn raw_json(body: &[u8]) -> Option<Box<RawValue>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).ok()?;
    RawValue::from_string(text.trim().to_string()).ok()
}
