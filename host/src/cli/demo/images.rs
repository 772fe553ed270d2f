//! The demo's image server: where the `image` plugin fetches its sources
//! from in `wasmq dev --demo` and in the tests, served for real on loopback.
//!
//! `GET /photos/<W>x<H>.png` answers a W x H RGB PNG, drawn on request
//! (a gradient with rings, the same for the same size), so a workload can
//! ask for any size without shipping files. Sizes are bounded like the
//! plugin's own limits (each side 1..=4096, at most 4 Mi pixels): a larger
//! request is `400`, an unknown path `404`.

use super::server::LoopbackServer;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest side served.
pub const MAX_SIDE: u32 = 4096;
/// Most pixels served.
pub const MAX_PIXELS: u64 = 4 << 20;

/// A running image server; it stops when dropped.
#[derive(Debug)]
pub struct ImageServer {
    server: LoopbackServer,
    served: Arc<AtomicU64>,
}

impl ImageServer {
    /// Starts the server on a free loopback port.
    pub fn start() -> std::io::Result<ImageServer> {
        let served = Arc::new(AtomicU64::new(0));
        let router = axum::Router::new()
            .route("/photos/{file}", get(photo))
            .with_state(Arc::clone(&served));
        let server = LoopbackServer::start("demo-images", router)?;
        Ok(ImageServer { server, served })
    }

    /// The origin to grant: `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        self.server.origin()
    }

    /// The URL of a `width` x `height` photo.
    pub fn photo_url(&self, width: u32, height: u32) -> String {
        format!("{}/photos/{width}x{height}.png", self.origin())
    }

    /// How many photos were served.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

async fn photo(State(served): State<Arc<AtomicU64>>, Path(file): Path<String>) -> Response {
    let Some((width, height)) = parse_name(&file) else {
        return (
            StatusCode::NOT_FOUND,
            "no such photo: ask for /photos/<W>x<H>.png",
        )
            .into_response();
    };
    if width == 0
        || height == 0
        || width > MAX_SIDE
        || height > MAX_SIDE
        || u64::from(width) * u64::from(height) > MAX_PIXELS
    {
        let why = format!(
            "{width}x{height}: each side must be 1..={MAX_SIDE}, at most {MAX_PIXELS} pixels"
        );
        return (StatusCode::BAD_REQUEST, why).into_response();
    }
    // Drawing and encoding a large photo takes milliseconds of CPU: off the
    // server's one thread's event loop.
    match tokio::task::spawn_blocking(move || draw_png(width, height)).await {
        Ok(Ok(png)) => {
            served.fetch_add(1, Ordering::Relaxed);
            ([(header::CONTENT_TYPE, "image/png")], png).into_response()
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the photo").into_response(),
    }
}

/// `"<W>x<H>.png"` -> (W, H).
fn parse_name(file: &str) -> Option<(u32, u32)> {
    let (w, h) = file.strip_suffix(".png")?.split_once('x')?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

/// A `width` x `height` RGB PNG: a diagonal gradient with concentric rings.
pub fn draw_png(width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let (cx, cy) = (i64::from(width / 2), i64::from(height / 2));
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            let (dx, dy) = (i64::from(x) - cx, i64::from(y) - cy);
            let ring = ((dx * dx + dy * dy).isqrt() / 8 % 2) as u8 * 96;
            rgb.extend_from_slice(&[
                (x * 255 / width.max(1)) as u8,
                (y * 255 / height.max(1)) as u8,
                ring.wrapping_add(((x + y) % 64) as u8),
            ]);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_photos_decode_to_their_size() {
        assert_eq!(parse_name("64x48.png"), Some((64, 48)));
        assert_eq!(parse_name("64x48.jpg"), None);
        assert_eq!(parse_name("64.png"), None);
        let png = draw_png(5, 3).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (5, 3));
        assert_eq!(
            draw_png(5, 3).unwrap(),
            draw_png(5, 3).unwrap(),
            "deterministic"
        );
    }
}
