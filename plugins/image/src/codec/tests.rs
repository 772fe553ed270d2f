//! Tests of [`super`]: round trips, every colour type normalised to 8-bit
//! RGBA, sizes refused from the header alone, and bodies that are no PNG.

use super::*;
use proptest::prelude::*;

/// A PNG of raw `data` in the given layout, optionally with a palette and
/// its transparency.
fn png_of(
    (width, height): (u32, u32),
    color: ColorType,
    depth: BitDepth,
    data: &[u8],
    palette: Option<(&[u8], &[u8])>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(depth);
    if let Some((rgb, alpha)) = palette {
        encoder.set_palette(rgb.to_vec());
        encoder.set_trns(alpha.to_vec());
    }
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(data).unwrap();
    writer.finish().unwrap();
    out
}

/// CRC-32 (ISO-HDLC) as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        (0..8).fold(crc ^ u32::from(b), |c, _| {
            if c & 1 == 1 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            }
        })
    })
}

/// The signature and a valid IHDR for an 8-bit RGBA `width` x `height`
/// image, and nothing else: no pixel data at all.
fn header_only(width: u32, height: u32) -> Vec<u8> {
    let mut chunk = b"IHDR".to_vec();
    chunk.extend(width.to_be_bytes());
    chunk.extend(height.to_be_bytes());
    chunk.extend([8, 6, 0, 0, 0]);
    let mut png = SIGNATURE.to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&chunk);
    png.extend(crc32(&chunk).to_be_bytes());
    png
}

#[test]
fn crc_reference_value() {
    assert_eq!(crc32(b"IEND"), 0xae42_6082);
}

#[test]
fn sizes_are_refused_from_the_header_before_any_pixel_is_read() {
    for (w, h) in [(5000, 5000), (4097, 1), (4096, 4096), (1, 5000)] {
        let why = decode(&header_only(w, h)).unwrap_err();
        assert!(
            why.starts_with(&format!("is a {w}x{h} PNG: each side")),
            "{why}"
        );
        assert!(why.contains("give a smaller image"), "{why}");
    }
    // Within bounds, the same truncated file gets as far as the pixels.
    let why = decode(&header_only(64, 64)).unwrap_err();
    assert!(why.starts_with("is a corrupt PNG"), "{why}");
}

#[test]
fn rgba_round_trips() {
    let image = pixels::draw(13, 7);
    let png = encode(&image).unwrap();
    assert!(png.starts_with(&SIGNATURE));
    assert_eq!(decode(&png).unwrap(), image);
}

#[test]
fn rgb_gains_an_opaque_alpha() {
    let png = png_of(
        (2, 1),
        ColorType::Rgb,
        BitDepth::Eight,
        &[1, 2, 3, 4, 5, 6],
        None,
    );
    assert_eq!(decode(&png).unwrap().rgba, [1, 2, 3, 255, 4, 5, 6, 255]);
}

#[test]
fn gray_is_expanded_from_any_depth() {
    let eight = png_of(
        (3, 1),
        ColorType::Grayscale,
        BitDepth::Eight,
        &[0, 7, 255],
        None,
    );
    assert_eq!(
        decode(&eight).unwrap().rgba,
        [0, 0, 0, 255, 7, 7, 7, 255, 255, 255, 255, 255]
    );
    // 1 bit: 0b10 in the top bits of the row's one byte -> white, black.
    let one = png_of(
        (2, 1),
        ColorType::Grayscale,
        BitDepth::One,
        &[0b1000_0000],
        None,
    );
    assert_eq!(
        decode(&one).unwrap().rgba,
        [255, 255, 255, 255, 0, 0, 0, 255]
    );
    // 16 bits, with alpha: the high byte of each sample is kept.
    let sixteen = png_of(
        (1, 1),
        ColorType::GrayscaleAlpha,
        BitDepth::Sixteen,
        &[0x80, 0x01, 0x40, 0xff],
        None,
    );
    assert_eq!(decode(&sixteen).unwrap().rgba, [0x80, 0x80, 0x80, 0x40]);
}

#[test]
fn rgba16_is_stripped_to_8_bits() {
    let data = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0];
    let png = png_of((1, 1), ColorType::Rgba, BitDepth::Sixteen, &data, None);
    assert_eq!(decode(&png).unwrap().rgba, [0x12, 0x56, 0x9a, 0xde]);
}

#[test]
fn a_palette_is_expanded_with_its_transparency() {
    let palette = [255, 0, 0, 0, 255, 0, 0, 0, 255];
    // Entry 0 half transparent, 1 fully, 2 opaque (no tRNS entry).
    let trns = [128, 0];
    let png = png_of(
        (3, 1),
        ColorType::Indexed,
        BitDepth::Eight,
        &[2, 0, 1],
        Some((&palette, &trns)),
    );
    assert_eq!(
        decode(&png).unwrap().rgba,
        [0, 0, 255, 255, 255, 0, 0, 128, 0, 255, 0, 0]
    );
}

#[test]
fn what_is_not_a_png_is_named() {
    let html = decode(b"<!DOCTYPE html><html>nope</html>").unwrap_err();
    assert!(
        html.starts_with("is not a PNG: its 32 bytes start with"),
        "{html}"
    );
    assert!(html.contains("<!DOCTYPE html><"), "{html}");
    let empty = decode(b"").unwrap_err();
    assert!(empty.contains("the body is empty"), "{empty}");

    let mut png = encode(&pixels::draw(40, 30)).unwrap();
    png.truncate(png.len() / 2);
    let cut = decode(&png).unwrap_err();
    assert!(cut.starts_with("is a corrupt PNG ("), "{cut}");
    assert!(cut.ends_with("point `url` at a valid PNG file"), "{cut}");
}

proptest! {
    #[test]
    fn any_small_rgba_image_round_trips(
        (width, height, rgba) in (1u32..24, 1u32..24).prop_flat_map(|(w, h)| {
            (Just(w), Just(h), proptest::collection::vec(any::<u8>(), (w * h * 4) as usize))
        })
    ) {
        let image = Image { width, height, rgba };
        prop_assert_eq!(decode(&encode(&image).unwrap()).unwrap(), image);
    }
}
