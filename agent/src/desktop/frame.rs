//! A captured screen ([`Frame`]) and what changed between two of them:
//! [`damage`] (changed 64x64 tiles merged into rectangles, then trimmed to
//! the changed pixels) and [`scroll`] (a vertical move of a region, which
//! RFB sends as a CopyRect plus the newly exposed strip instead of the
//! whole region again).
//!
//! Pure: no capture, no clock. Tiles are what keep an idle screen cheap:
//! comparing two 1080p frames is one pass over memory, and an unchanged
//! screen yields no rectangle at all.

use std::collections::HashMap;

/// Side of the square tiles [`damage`] compares (as VNC servers do: big
/// enough that a rectangle's header is small beside its pixels, small
/// enough that a blinking cursor does not resend a window).
pub const TILE: u16 = 64;

/// A screen's pixels, row after row, each `0x00RRGGBB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// `width * height` pixels, row-major; missing pixels read as black.
    pub pixels: Vec<u32>,
}

impl Frame {
    /// A black frame of the given size.
    pub fn new(width: u16, height: u16) -> Frame {
        Frame {
            width,
            height,
            pixels: vec![0; usize::from(width) * usize::from(height)],
        }
    }

    /// A synthetic screen with text-like stripes: each 16-row line has
    /// ten rows of "glyphs" whose place and colour differ per line, on a
    /// light background. For tests, benchmarks and the end-to-end check.
    pub fn test_pattern(width: u16, height: u16) -> Frame {
        let mut f = Frame::new(width, height);
        for (i, px) in f.pixels.iter_mut().enumerate() {
            let (x, y) = (
                (i % usize::from(width)) as u32,
                (i / usize::from(width)) as u32,
            );
            let line = y / 16;
            let ink = y % 16 < 10 && (x / 3 + line * 7) % 5 < 2;
            *px = if ink {
                0x10_20_30 + (line % 32) * 0x01_03_05
            } else {
                0xf0_f0_f0
            };
        }
        f
    }

    /// The pixel at (x, y); black outside the frame or past a short
    /// `pixels` (a capture source's bug must not become a panic here).
    pub fn pixel(&self, x: u16, y: u16) -> u32 {
        if x >= self.width || y >= self.height {
            return 0;
        }
        let i = usize::from(y) * usize::from(self.width) + usize::from(x);
        self.pixels.get(i).copied().unwrap_or(0)
    }

    /// The pixels of row `y` from `x` for `w` pixels (shorter, or empty,
    /// where `pixels` is short).
    pub fn row(&self, x: u16, y: u16, w: u16) -> &[u32] {
        let start = usize::from(y) * usize::from(self.width) + usize::from(x);
        let end = start + usize::from(w);
        let len = self.pixels.len();
        &self.pixels[start.min(len)..end.min(len)]
    }

    /// The whole frame as a rectangle.
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// Copies `rect` of `src` into the same place of `self` (both clipped
    /// to their sizes): how the server keeps its picture of the client's
    /// screen after sending a rectangle.
    pub fn copy_from(&mut self, src: &Frame, rect: Rect) {
        let r = rect.intersect(self.bounds()).intersect(src.bounds());
        for y in r.y..r.y + r.h {
            let from = src.row(r.x, y, r.w).to_vec();
            let start = usize::from(y) * usize::from(self.width) + usize::from(r.x);
            if let Some(dst) = self.pixels.get_mut(start..start + from.len()) {
                dst.copy_from_slice(&from);
            }
        }
    }

    /// Moves the rows of `rect` by `dy` inside this frame (a CopyRect as
    /// the client applies it); rows that would come from outside `rect`
    /// stay as they were.
    pub fn shift_rows(&mut self, rect: Rect, dy: i32) {
        let r = rect.intersect(self.bounds());
        let mut rows: Vec<u16> = (r.y..r.y + r.h).collect();
        if dy > 0 {
            rows.reverse();
        }
        for y in rows {
            let Some(src_y) = u16::try_from(i32::from(y) - dy).ok() else {
                continue;
            };
            if src_y < r.y || src_y >= r.y + r.h {
                continue;
            }
            let from = self.row(r.x, src_y, r.w).to_vec();
            let start = usize::from(y) * usize::from(self.width) + usize::from(r.x);
            if let Some(dst) = self.pixels.get_mut(start..start + from.len()) {
                dst.copy_from_slice(&from);
            }
        }
    }
}

/// A rectangle of the screen, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    /// Left edge.
    pub x: u16,
    /// Top edge.
    pub y: u16,
    /// Width.
    pub w: u16,
    /// Height.
    pub h: u16,
}

impl Rect {
    /// The rectangle at (x, y) of size w x h.
    pub const fn new(x: u16, y: u16, w: u16, h: u16) -> Rect {
        Rect { x, y, w, h }
    }

    /// No pixel in it.
    pub fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }

    /// Pixels in it.
    pub fn area(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h)
    }

    /// The part of `self` inside `other` (empty when they do not meet).
    pub fn intersect(&self, other: Rect) -> Rect {
        let x0 = u32::from(self.x).max(u32::from(other.x));
        let y0 = u32::from(self.y).max(u32::from(other.y));
        let x1 =
            (u32::from(self.x) + u32::from(self.w)).min(u32::from(other.x) + u32::from(other.w));
        let y1 =
            (u32::from(self.y) + u32::from(self.h)).min(u32::from(other.y) + u32::from(other.h));
        if x1 <= x0 || y1 <= y0 {
            return Rect::default();
        }
        // Both ends come from u16 values, so the differences fit.
        Rect::new(x0 as u16, y0 as u16, (x1 - x0) as u16, (y1 - y0) as u16)
    }

    /// The smallest rectangle holding both (an empty one is ignored).
    pub fn union(&self, other: Rect) -> Rect {
        if self.is_empty() {
            return other;
        }
        if other.is_empty() {
            return *self;
        }
        let x0 = self.x.min(other.x);
        let y0 = self.y.min(other.y);
        let x1 =
            (u32::from(self.x) + u32::from(self.w)).max(u32::from(other.x) + u32::from(other.w));
        let y1 =
            (u32::from(self.y) + u32::from(self.h)).max(u32::from(other.y) + u32::from(other.h));
        let w = u16::try_from(x1 - u32::from(x0)).unwrap_or(u16::MAX);
        let h = u16::try_from(y1 - u32::from(y0)).unwrap_or(u16::MAX);
        Rect::new(x0, y0, w, h)
    }
}

/// What changed from `prev` to `next`: the changed 64x64 tiles, runs of
/// neighbours in a tile row merged, runs spanning the same columns in
/// consecutive tile rows merged, each trimmed to its changed pixels.
/// Frames of different sizes differ everywhere: the whole of `next`.
pub fn damage(prev: &Frame, next: &Frame) -> Vec<Rect> {
    damage_in(prev, next, next.bounds())
}

/// [`damage`] limited to `area` (a client's requested region).
pub fn damage_in(prev: &Frame, next: &Frame, area: Rect) -> Vec<Rect> {
    let area = area.intersect(next.bounds());
    if area.is_empty() {
        return Vec::new();
    }
    if prev.width != next.width || prev.height != next.height {
        return vec![area];
    }
    let mut out: Vec<Rect> = Vec::new();
    // Runs of the previous tile row still open for vertical merging.
    let mut open: Vec<Rect> = Vec::new();
    let mut ty = area.y;
    while ty < area.y + area.h {
        let th = TILE.min(area.y + area.h - ty);
        let mut runs: Vec<Rect> = Vec::new();
        let mut tx = area.x;
        while tx < area.x + area.w {
            let tw = TILE.min(area.x + area.w - tx);
            let tile = Rect::new(tx, ty, tw, th);
            if tile_differs(prev, next, tile) {
                match runs.last_mut() {
                    Some(run) if run.x + run.w == tx => run.w += tw,
                    _ => runs.push(tile),
                }
            }
            tx += tw;
        }
        let mut still_open = Vec::with_capacity(runs.len());
        for run in runs {
            if let Some(i) = open.iter().position(|o| o.x == run.x && o.w == run.w) {
                let mut grown = open.swap_remove(i);
                grown.h += run.h;
                still_open.push(grown);
            } else {
                still_open.push(run);
            }
        }
        out.append(&mut open);
        open = still_open;
        ty += th;
    }
    out.append(&mut open);
    out.iter().filter_map(|r| trim(prev, next, *r)).collect()
}

fn tile_differs(prev: &Frame, next: &Frame, tile: Rect) -> bool {
    (tile.y..tile.y + tile.h).any(|y| prev.row(tile.x, y, tile.w) != next.row(tile.x, y, tile.w))
}

/// The bounding box of the pixels that differ inside `r` (None if none).
fn trim(prev: &Frame, next: &Frame, r: Rect) -> Option<Rect> {
    let differs = |y: u16| prev.row(r.x, y, r.w) != next.row(r.x, y, r.w);
    let top = (r.y..r.y + r.h).find(|&y| differs(y))?;
    let bottom = (r.y..r.y + r.h).rev().find(|&y| differs(y))?;
    let (mut left, mut right) = (r.x + r.w, r.x);
    for y in top..=bottom {
        let (a, b) = (prev.row(r.x, y, r.w), next.row(r.x, y, r.w));
        if let Some(i) = a.iter().zip(b).position(|(p, n)| p != n) {
            left = left.min(r.x + i as u16);
        }
        if let Some(i) = a.iter().zip(b).rposition(|(p, n)| p != n) {
            right = right.max(r.x + i as u16);
        }
    }
    if left > right {
        // Rows of different lengths (a short `pixels`): keep the run.
        return Some(Rect::new(r.x, top, r.w, bottom - top + 1));
    }
    Some(Rect::new(left, top, right - left + 1, bottom - top + 1))
}

/// Rows repeated more often than this (blank lines, backgrounds) do not
/// vote in [`scroll`]: they fit every shift. A line of text repeats each
/// of its rows about as often as it is tall, so this is a few lines'
/// worth.
const MAX_ROW_TWINS: usize = 32;

/// The vertical shift `dy` that best explains `next` inside `rect` as
/// `prev` moved (`next` row `y` equals `prev` row `y - dy`: positive when
/// content moved down), or None when no shift explains at least half of
/// the rows that changed. Rows are compared by hash, then the winning shift is checked
/// pixel for pixel; rows common to many places (blank lines) do not vote,
/// and only rows that changed count.
pub fn scroll(prev: &Frame, next: &Frame, rect: Rect) -> Option<i32> {
    if prev.width != next.width || prev.height != next.height {
        return None;
    }
    let r = rect.intersect(next.bounds());
    if r.h < 4 || r.w == 0 {
        return None;
    }
    let hash_rows = |f: &Frame| -> Vec<u64> {
        (r.y..r.y + r.h)
            .map(|y| row_hash(f.row(r.x, y, r.w)))
            .collect()
    };
    let (before, after) = (hash_rows(prev), hash_rows(next));
    let mut at: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, h) in before.iter().enumerate() {
        at.entry(*h).or_default().push(i);
    }
    // Only rows that changed vote and count: a shift must explain the
    // change, not rows that were equal anyway.
    let changed: Vec<usize> = (0..after.len())
        .filter(|&i| before[i] != after[i])
        .collect();
    let mut votes: HashMap<i32, usize> = HashMap::new();
    for &i in &changed {
        match at.get(&after[i]) {
            Some(places) if places.len() <= MAX_ROW_TWINS => {
                for &p in places {
                    *votes.entry(i as i32 - p as i32).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    let (&dy, _) = votes.iter().max_by_key(|(dy, n)| (**n, -dy.abs()))?;
    // Verify pixel for pixel: at least half the changed rows really moved.
    let moved = changed
        .iter()
        .filter(|&&i| {
            let src = i as i32 - dy;
            (0..i32::from(r.h)).contains(&src)
                && next.row(r.x, r.y + i as u16, r.w) == prev.row(r.x, r.y + src as u16, r.w)
        })
        .count();
    (moved >= 4 && moved * 2 >= changed.len()).then_some(dy)
}

/// FNV-1a over the row's pixels: fast, and collisions only cost a
/// rejected or extra vote, since [`scroll`] checks the pixels.
fn row_hash(row: &[u32]) -> u64 {
    row.iter().fold(0xcbf2_9ce4_8422_2325, |h, p| {
        (h ^ u64::from(*p)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_change_no_damage() {
        let f = Frame::test_pattern(300, 200);
        assert!(damage(&f, &f).is_empty());
    }

    #[test]
    fn one_pixel_one_tight_rect() {
        let a = Frame::test_pattern(300, 200);
        let mut b = a.clone();
        b.pixels[130 * 300 + 70] ^= 0xff;
        assert_eq!(damage(&a, &b), vec![Rect::new(70, 130, 1, 1)]);
    }

    #[test]
    fn neighbouring_tiles_merge_into_one_rect() {
        let a = Frame::new(256, 256);
        let mut b = a.clone();
        for y in 10..140 {
            for x in 20..200 {
                b.pixels[y * 256 + x] = 1;
            }
        }
        assert_eq!(damage(&a, &b), vec![Rect::new(20, 10, 180, 130)]);
    }

    #[test]
    fn size_change_is_the_whole_frame() {
        assert_eq!(
            damage(&Frame::new(10, 10), &Frame::new(20, 5)),
            vec![Rect::new(0, 0, 20, 5)]
        );
    }

    #[test]
    fn short_pixels_do_not_panic() {
        let a = Frame {
            width: 100,
            height: 100,
            pixels: vec![1; 50],
        };
        let b = Frame::new(100, 100);
        assert!(!damage(&a, &b).is_empty());
        assert_eq!(a.pixel(99, 99), 0);
    }

    #[test]
    fn scrolled_window_is_found() {
        let screen = Frame::test_pattern(400, 300);
        let window = Rect::new(50, 40, 300, 200);
        let mut next = screen.clone();
        // Content scrolls up by 16 rows: row y shows what row y+16 showed.
        next.shift_rows(window, -16);
        assert_eq!(scroll(&screen, &next, window), Some(-16));
        let mut down = screen.clone();
        down.shift_rows(window, 32);
        assert_eq!(scroll(&screen, &down, window), Some(32));
    }

    #[test]
    fn unrelated_change_is_no_scroll() {
        let a = Frame::test_pattern(200, 200);
        let b = Frame::new(200, 200);
        assert_eq!(scroll(&a, &b, a.bounds()), None);
        assert_eq!(scroll(&a, &a, a.bounds()), None);
    }

    #[test]
    fn copy_and_shift_keep_inside_bounds() {
        let a = Frame::test_pattern(50, 50);
        let mut b = Frame::new(50, 50);
        b.copy_from(&a, Rect::new(40, 40, 100, 100));
        assert_eq!(b.pixel(45, 45), a.pixel(45, 45));
        assert_eq!(b.pixel(10, 10), 0);
        b.shift_rows(Rect::new(0, 0, 500, 500), 1000);
        assert_eq!(
            Rect::new(0, 0, 10, 10).intersect(Rect::new(20, 20, 5, 5)),
            Rect::default()
        );
    }
}
