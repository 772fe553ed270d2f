//! `image`: a CPU-bound task shaped like a thumbnailer.
//!
//! It draws a deterministic procedural RGBA image of `width` x `height`,
//! shrinks it by `scale` with a box filter, and returns the new size and an
//! FNV-1a checksum of the result. The same payload always yields the same
//! checksum, so a test can compare runs; `progress` is reported as it goes.
//!
//! Sizes are bounded (each side 1..=4096, at most 4 Mi pixels, so the source
//! needs at most 16 MiB) and `scale` must be in (0, 1]; anything else is a
//! permanent error that says which field is out of range.

use serde::Deserialize;
use wasmq_plugin_sdk::{Output, Task, TaskError, progress};

const MAX_SIDE: u32 = 4096;
const MAX_PIXELS: u64 = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    width: u32,
    height: u32,
    #[serde(default = "half")]
    scale: f64,
}

fn half() -> f64 {
    0.5
}

/// An RGBA image, 4 bytes per pixel, rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
struct Image {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

#[wasmq_plugin_sdk::handler]
fn thumbnail(task: Task) -> Result<Output, TaskError> {
    let req: Request = task.json()?;
    let (width, height) = target_size(&req)?;
    progress(0, "drawing the source image");
    let source = draw(req.width, req.height);
    progress(50, "downsampling");
    let small = downsample(&source, width, height);
    progress(100, "done");
    Output::json(&serde_json::json!({
        "width": small.width,
        "height": small.height,
        "source": { "width": source.width, "height": source.height },
        "checksum": format!("{:016x}", fnv1a64(&small.rgba)),
    }))
}

/// Checks the request and returns the output size.
fn target_size(req: &Request) -> Result<(u32, u32), TaskError> {
    for (name, side) in [("width", req.width), ("height", req.height)] {
        if side == 0 || side > MAX_SIDE {
            return Err(TaskError::permanent(format!(
                "image payload: field `{name}` is {side}, must be 1..={MAX_SIDE}"
            )));
        }
    }
    let pixels = u64::from(req.width) * u64::from(req.height);
    if pixels > MAX_PIXELS {
        return Err(TaskError::permanent(format!(
            "image payload: {}x{} is {pixels} pixels, at most {MAX_PIXELS} are allowed",
            req.width, req.height
        )));
    }
    if !(req.scale > 0.0 && req.scale <= 1.0) {
        return Err(TaskError::permanent(format!(
            "image payload: field `scale` is {}, must be in (0, 1]",
            req.scale
        )));
    }
    let shrink = |side: u32| ((f64::from(side) * req.scale).round() as u32).clamp(1, side);
    Ok((shrink(req.width), shrink(req.height)))
}

/// A deterministic pattern: gradients plus an XOR texture.
fn draw(width: u32, height: u32) -> Image {
    let mut rgba = Vec::with_capacity(width as usize * height as usize * 4);
    for y in 0..height {
        for x in 0..width {
            rgba.extend_from_slice(&[
                (x * 255 / (width - 1).max(1)) as u8,
                (y * 255 / (height - 1).max(1)) as u8,
                ((x ^ y) & 0xff) as u8,
                255,
            ]);
        }
    }
    Image {
        width,
        height,
        rgba,
    }
}

/// Box filter: each output pixel is the mean of the source pixels it covers.
/// `width`/`height` must be in 1..=the source's.
fn downsample(src: &Image, width: u32, height: u32) -> Image {
    let span = |i: u32, out: u32, inp: u32| {
        let start = u64::from(i) * u64::from(inp) / u64::from(out);
        let end = (u64::from(i + 1) * u64::from(inp) / u64::from(out)).max(start + 1);
        (start as usize, end as usize)
    };
    let mut rgba = Vec::with_capacity(width as usize * height as usize * 4);
    for y in 0..height {
        let (y0, y1) = span(y, height, src.height);
        for x in 0..width {
            let (x0, x1) = span(x, width, src.width);
            let mut sum = [0u64; 4];
            for sy in y0..y1 {
                let row = sy * src.width as usize * 4;
                for px in src.rgba[row + x0 * 4..row + x1 * 4].chunks_exact(4) {
                    for (acc, &v) in sum.iter_mut().zip(px) {
                        *acc += u64::from(v);
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u64;
            rgba.extend(sum.map(|s| ((s + n / 2) / n) as u8));
        }
    }
    Image {
        width,
        height,
        rgba,
    }
}

/// 64-bit FNV-1a.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use wasmq_plugin_sdk::ErrorKind;

    fn run(payload: &str) -> Result<serde_json::Value, TaskError> {
        let out = thumbnail(Task::new("image", payload))?;
        Ok(serde_json::from_slice(&out.data).unwrap())
    }

    #[test]
    fn halves_and_is_deterministic() {
        let out = run(r#"{"width":640,"height":480}"#).unwrap();
        assert_eq!(
            (out["width"].as_u64(), out["height"].as_u64()),
            (Some(320), Some(240))
        );
        assert_eq!(
            out,
            run(r#"{"width":640,"height":480,"scale":0.5}"#).unwrap()
        );
        // The value the wasm build returns through `wasmq call`: native and
        // wasm must agree bit for bit.
        assert_eq!(out["checksum"], "3f34d6df4469063d");
        assert_ne!(
            out["checksum"],
            run(r#"{"width":640,"height":481}"#).unwrap()["checksum"]
        );
    }

    #[test]
    fn out_of_range_fields_are_named() {
        for (payload, needle) in [
            (r#"{"width":0,"height":10}"#, "`width` is 0"),
            (r#"{"width":10,"height":5000}"#, "`height` is 5000"),
            (r#"{"width":4096,"height":4096}"#, "pixels"),
            (r#"{"width":10,"height":10,"scale":1.5}"#, "`scale` is 1.5"),
            (r#"{"width":10,"height":10,"scale":0}"#, "`scale` is 0"),
            (r#"{"width":10}"#, "missing field `height`"),
        ] {
            let err = run(payload).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Permanent);
            assert!(
                err.message().contains(needle),
                "{payload}: {}",
                err.message()
            );
        }
    }

    #[test]
    fn scale_one_is_the_identity() {
        let img = draw(7, 5);
        assert_eq!(downsample(&img, 7, 5), img);
    }

    proptest! {
        #[test]
        fn uniform_images_stay_uniform(
            w in 1u32..40, h in 1u32..40, scale in 0.01f64..=1.0, px in any::<[u8; 4]>()
        ) {
            let src = Image { width: w, height: h, rgba: px.repeat((w * h) as usize) };
            let (tw, th) = target_size(&Request { width: w, height: h, scale }).unwrap();
            prop_assert!(tw >= 1 && tw <= w && th >= 1 && th <= h);
            let out = downsample(&src, tw, th);
            prop_assert_eq!(out.rgba.len(), (tw * th * 4) as usize);
            prop_assert!(out.rgba.chunks_exact(4).all(|p| p == px));
        }
    }
}
