//! PNG in and out, with the `png` crate (pure Rust, so it builds for wasm).
//!
//! [`decode`] reads the header before anything else and refuses a source
//! outside [`pixels::fits`] there, so a hostile file claiming 50000 x 50000
//! costs a few bytes of parsing, not gigabytes of allocation. Whatever the
//! source's colour type and depth (palette, gray, 1..16 bits, with or
//! without transparency), the result is 8-bit RGBA, the one layout
//! [`pixels`] works on. Only the first frame of an animated PNG is read.
//!
//! Errors are phrases meant to follow the source's name ("<url> is not a
//! PNG: ..."), each ending in what to do about it.

use std::io::Cursor;

use png::{BitDepth, ColorType, Transformations};

use crate::pixels::{self, Image, MAX_PIXELS, MAX_SIDE};

/// The eight bytes every PNG starts with.
const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Decodes a PNG into 8-bit RGBA, refusing an out-of-bounds size from the
/// header alone.
pub fn decode(bytes: &[u8]) -> Result<Image, String> {
    if !bytes.starts_with(&SIGNATURE) {
        return Err(format!(
            "is not a PNG: its {} bytes start with {}, not the PNG signature: point `url` at a PNG file",
            bytes.len(),
            describe_start(bytes)
        ));
    }
    let corrupt =
        |e: png::DecodingError| format!("is a corrupt PNG ({e}): point `url` at a valid PNG file");
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    let header = decoder.read_header_info().map_err(corrupt)?;
    let (width, height) = (header.width, header.height);
    if !pixels::fits(width, height) {
        return Err(format!(
            "is a {width}x{height} PNG: each side must be 1..={MAX_SIDE} and the image at most \
             {MAX_PIXELS} pixels: give a smaller image"
        ));
    }
    // EXPAND: palette to RGB, low bit depths to 8, tRNS to alpha; ALPHA: an
    // alpha channel for everything; STRIP_16: 16-bit samples to 8.
    decoder.set_transformations(
        Transformations::EXPAND | Transformations::ALPHA | Transformations::STRIP_16,
    );
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| format!("is a {width}x{height} PNG too large to decode here"))?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(corrupt)?;
    buf.truncate(frame.buffer_size());
    let rgba = match (frame.color_type, frame.bit_depth) {
        (ColorType::Rgba, BitDepth::Eight) => buf,
        (ColorType::GrayscaleAlpha, BitDepth::Eight) => buf
            .chunks_exact(2)
            .flat_map(|ga| [ga[0], ga[0], ga[0], ga[1]])
            .collect(),
        (color, depth) => {
            return Err(format!(
                "decodes to {color:?} at {depth:?}, which this plugin cannot convert to RGBA: \
                 save the image as 8-bit RGB or RGBA"
            ));
        }
    };
    if (frame.width, frame.height) != (width, height)
        || rgba.len() != width as usize * height as usize * 4
    {
        return Err(format!(
            "is a corrupt PNG (its first frame is {}x{}, its header says {width}x{height}): \
             point `url` at a valid PNG file",
            frame.width, frame.height
        ));
    }
    Ok(Image {
        width,
        height,
        rgba,
    })
}

/// Encodes `image` as an 8-bit RGBA PNG.
pub fn encode(image: &Image) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
    encoder.set_color(ColorType::Rgba);
    encoder.set_depth(BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&image.rgba)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// How a body that is not a PNG starts, for an error message: `"<html>..."`.
fn describe_start(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing (the body is empty)".to_owned();
    }
    let start = String::from_utf8_lossy(&bytes[..bytes.len().min(16)]);
    format!("{start:?}")
}

#[cfg(test)]
mod tests;
