//! Pixels: the RGBA image type, the size bounds every source must meet,
//! the procedural source image, and the box filter that shrinks it.
//!
//! Everything here is pure and deterministic, so the same source and scale
//! always give the same thumbnail bytes, natively and in wasm alike: the
//! handler's checksum is computed over [`Image::rgba`] and tests compare it
//! across builds.

/// Largest side of a source image.
pub const MAX_SIDE: u32 = 4096;
/// Most pixels in a source image: its RGBA needs at most 16 MiB.
pub const MAX_PIXELS: u64 = 4 * 1024 * 1024;

/// An RGBA image, 4 bytes per pixel, rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

/// Whether a `width` x `height` source is within [`MAX_SIDE`] and
/// [`MAX_PIXELS`].
pub fn fits(width: u32, height: u32) -> bool {
    (1..=MAX_SIDE).contains(&width)
        && (1..=MAX_SIDE).contains(&height)
        && u64::from(width) * u64::from(height) <= MAX_PIXELS
}

/// The thumbnail's size for a source of `width` x `height` shrunk by
/// `scale` (in (0, 1]): each side rounded, at least 1, at most the source's.
pub fn target_size(width: u32, height: u32, scale: f64) -> (u32, u32) {
    let shrink = |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, side);
    (shrink(width), shrink(height))
}

/// A deterministic pattern: gradients plus an XOR texture.
pub fn draw(width: u32, height: u32) -> Image {
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
pub fn downsample(src: &Image, width: u32, height: u32) -> Image {
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

/// 64-bit FNV-1a: small, dependency-free and stable across builds.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scale_one_is_the_identity() {
        let img = draw(7, 5);
        assert_eq!(downsample(&img, 7, 5), img);
    }

    #[test]
    fn bounds() {
        assert!(fits(1, 1) && fits(4096, 1024) && fits(2048, 2048));
        assert!(!fits(0, 1) && !fits(1, 0) && !fits(4097, 1) && !fits(4096, 1025));
    }

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    proptest! {
        #[test]
        fn uniform_images_stay_uniform(
            w in 1u32..40, h in 1u32..40, scale in 0.01f64..=1.0, px in any::<[u8; 4]>()
        ) {
            let src = Image { width: w, height: h, rgba: px.repeat((w * h) as usize) };
            let (tw, th) = target_size(w, h, scale);
            prop_assert!(tw >= 1 && tw <= w && th >= 1 && th <= h);
            let out = downsample(&src, tw, th);
            prop_assert_eq!(out.rgba.len(), (tw * th * 4) as usize);
            prop_assert!(out.rgba.chunks_exact(4).all(|p| p == px));
        }
    }
}
