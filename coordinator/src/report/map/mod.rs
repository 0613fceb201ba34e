//! The coverage map: the whole IPv4 space on a Hilbert curve, one pixel per /24 (4096 × 4096)
//! or per /20 (1024 × 1024), coloured by the registry that holds it, special-purpose space dark,
//! unknown space grey, with a legend drawn in DejaVu Sans (shipped in `coordinator/assets/`).

pub mod hilbert;

use std::io::Write;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use rdapfleet_ranges::Range;

/// The legend font.
const FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// Pixel size of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// One pixel per /24: 4096 × 4096.
    Slash24,
    /// One pixel per /20: 1024 × 1024.
    Slash20,
}

impl Resolution {
    /// Side of the square map in pixels.
    pub fn side(self) -> u32 {
        match self {
            Resolution::Slash24 => 4096,
            Resolution::Slash20 => 1024,
        }
    }

    fn shift(self) -> u32 {
        match self {
            Resolution::Slash24 => 8,
            Resolution::Slash20 => 12,
        }
    }
}

/// What a pixel shows: an index into [`PALETTE`].
pub type Class = u8;

/// Labels and colours, by class.
pub const PALETTE: [(&str, [u8; 3]); 7] = [
    ("unknown", [190, 190, 190]),
    ("special-purpose", [64, 64, 64]),
    ("ARIN", [31, 119, 180]),
    ("RIPE NCC", [214, 39, 40]),
    ("APNIC", [44, 160, 44]),
    ("LACNIC", [255, 127, 14]),
    ("AFRINIC", [148, 103, 189]),
];

/// Class of unknown space.
pub const UNKNOWN: Class = 0;
/// Class of special-purpose space.
pub const SPECIAL: Class = 1;

/// The class of a registry named as in the database (arin, ripencc, ...); unknown otherwise.
pub fn class_of_registry(name: &str) -> Class {
    match name {
        "arin" => 2,
        "ripencc" => 3,
        "apnic" => 4,
        "lacnic" => 5,
        "afrinic" => 6,
        _ => UNKNOWN,
    }
}

/// Draw `painted` (ranges with their class, later entries drawn over earlier ones; a cell
/// partly covered takes the range's colour) and write a PNG. Returns the image size.
pub fn render_png(
    resolution: Resolution,
    title: &str,
    subtitle: &str,
    painted: &[(Range, Class)],
    out: impl Write,
) -> std::io::Result<(u32, u32)> {
    let n = resolution.side();
    let shift = resolution.shift();
    let mut cells = vec![UNKNOWN; (n as usize) * (n as usize)];
    for &(r, class) in painted {
        let (a, b) = ((r.start >> shift) as usize, (r.end >> shift) as usize);
        cells[a..=b].fill(class);
    }
    let band = n / 8;
    let (w, h) = (n, n + band);
    let mut img = vec![255u8; (w as usize) * (h as usize) * 3];
    for (d, &class) in cells.iter().enumerate() {
        let (x, y) = hilbert::cell_position(n, d as u64);
        let i = ((y as usize) * (w as usize) + x as usize) * 3;
        img[i..i + 3].copy_from_slice(&PALETTE[class as usize].1);
    }
    draw_legend(&mut img, w, n, band, title, subtitle);
    let mut enc = png::Encoder::new(out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(&img)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)?;
    Ok((w, h))
}

fn draw_legend(img: &mut [u8], w: u32, top: u32, band: u32, title: &str, subtitle: &str) {
    let font = FontRef::try_from_slice(FONT).expect("the shipped font parses");
    let line = band as f32 / 5.0;
    let margin = band / 10;
    let mut y = top + margin;
    draw_text(img, w, &font, line, margin, y, title, [0, 0, 0]);
    y += line as u32 + margin / 2;
    draw_text(img, w, &font, line * 0.7, margin, y, subtitle, [60, 60, 60]);
    y += (line * 0.7) as u32 + margin;
    let mut x = margin;
    let sw = (line * 0.8) as u32;
    for (label, color) in PALETTE {
        for yy in y..(y + sw).min(top + band) {
            for xx in x..(x + sw).min(w) {
                let i = ((yy as usize) * (w as usize) + xx as usize) * 3;
                img[i..i + 3].copy_from_slice(&color);
            }
        }
        x += sw + margin / 2;
        x = draw_text(img, w, &font, line * 0.8, x, y, label, [0, 0, 0]) + margin;
    }
}

/// Draw `text` with its top-left at (x, y); returns the x after the last glyph.
#[allow(clippy::too_many_arguments)]
fn draw_text(
    img: &mut [u8],
    w: u32,
    font: &FontRef<'_>,
    px: f32,
    x: u32,
    y: u32,
    text: &str,
    rgb: [u8; 3],
) -> u32 {
    let h = (img.len() / 3 / w as usize) as u32;
    let scaled = font.as_scaled(PxScale::from(px));
    let mut caret = x as f32;
    let baseline = y as f32 + scaled.ascent();
    let mut last = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(prev) = last {
            caret += scaled.kern(prev, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(px), point(caret, baseline));
        caret += scaled.h_advance(id);
        last = Some(id);
        if let Some(outlined) = font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, cov| {
                let px_x = b.min.x as i64 + i64::from(gx);
                let px_y = b.min.y as i64 + i64::from(gy);
                if px_x < 0 || px_y < 0 || px_x >= i64::from(w) || px_y >= i64::from(h) {
                    return;
                }
                let i = ((px_y as usize) * (w as usize) + px_x as usize) * 3;
                for k in 0..3 {
                    let bg = f32::from(img[i + k]);
                    img[i + k] = (bg + (f32::from(rgb[k]) - bg) * cov.clamp(0.0, 1.0)) as u8;
                }
            });
        }
    }
    caret as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_decodable_png_of_the_expected_size_and_colours() {
        let painted = vec![
            (
                Range {
                    start: 0,
                    end: (1 << 24) - 1,
                },
                SPECIAL,
            ), // 0/8
            (
                Range {
                    start: 3 << 24,
                    end: (4 << 24) - 1,
                },
                2,
            ), // 3/8 ARIN
            (
                Range {
                    start: 0x0202_0200,
                    end: 0x0202_02ff,
                },
                3,
            ), // one /24 RIPE
        ];
        let mut buf = Vec::new();
        let (w, h) = render_png(
            Resolution::Slash20,
            "rdapfleet coverage",
            "test",
            &painted,
            &mut buf,
        )
        .unwrap();
        assert_eq!((w, h), (1024, 1024 + 128));
        let decoder = png::Decoder::new(std::io::Cursor::new(buf));
        let mut reader = decoder.read_info().unwrap();
        let mut data = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut data).unwrap();
        assert_eq!((info.width, info.height), (1024, 1152));
        let at = |d: u64| {
            let (x, y) = hilbert::cell_position(1024, d);
            let i = ((y * 1024 + x) * 3) as usize;
            [data[i], data[i + 1], data[i + 2]]
        };
        assert_eq!(at(0), PALETTE[SPECIAL as usize].1);
        assert_eq!(at((3 << 24) >> 12), PALETTE[2].1);
        assert_eq!(
            at(0x0202_0200 >> 12),
            PALETTE[3].1,
            "a partly covered cell takes the colour"
        );
        assert_eq!(at((200u64 << 24) >> 12), PALETTE[UNKNOWN as usize].1);
        // The legend band has dark text pixels.
        let band = &data[(1024 * 1024 * 3)..];
        assert!(band.chunks(3).any(|p| p[0] < 50 && p[1] < 50 && p[2] < 50));
    }
}
