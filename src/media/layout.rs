//! Where each participant goes on the screen. Pure geometry: the receive pipeline applies the
//! result to its compositor pads, and the WebRTC layer can ask the server for just the
//! resolution each tile needs (`Placement::needed`).
//!
//! - 1 to 9 people: a grid (1 = full, 2 = side by side, 3-4 = 2x2, 5-6 = 3x2, 7-9 = 3x3).
//! - A screen share: large (80 % of the screen, left on a landscape screen, top on a portrait
//!   one), the people in a strip beside it.
//! - More people than fit: the ones speaking are kept, the rest are hidden (listed in
//!   `Layout::hidden`), and the visible ones keep their join order so tiles do not jump around.
//! - Every tile is a 16:9 picture centred in its cell (letterboxed), with a small gap between
//!   cells; the self-view is a picture-in-picture in the bottom-right corner.
//!
//! All coordinates and sizes are even, because I420 (what decoders and the compositor use)
//! subsamples chroma by two: an odd offset or size shifts or smears colour at the edges.

/// A size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Size {
    pub const fn new(width: u32, height: u32) -> Size {
        Size { width, height }
    }
}

/// A rectangle on the screen, in pixels from the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub const fn new(x: u32, y: u32, width: u32, height: u32) -> Rect {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    pub fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }

    pub fn right(&self) -> u32 {
        self.x + self.width
    }

    pub fn bottom(&self) -> u32 {
        self.y + self.height
    }

    /// The centre point (x, y).
    pub fn centre(&self) -> (u32, u32) {
        (self.x + self.width / 2, self.y + self.height / 2)
    }

    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.right()
            && other.x < self.right()
            && self.y < other.bottom()
            && other.y < self.bottom()
    }

    /// The same rectangle shrunk by `by` on every side (never below zero).
    fn inset(&self, by: u32) -> Rect {
        let by_x = by.min(self.width / 2);
        let by_y = by.min(self.height / 2);
        Rect::new(
            self.x + by_x,
            self.y + by_y,
            self.width - 2 * by_x,
            self.height - 2 * by_y,
        )
    }

    /// The largest even-aligned 16:9 rectangle centred in this one (letterboxing).
    fn fit_16_9(&self) -> Rect {
        let (mut width, mut height) = (self.width, self.width * 9 / 16);
        if height > self.height {
            height = self.height;
            width = self.height * 16 / 9;
        }
        let (width, height) = (even(width), even(height));
        Rect::new(
            even(self.x + (self.width - width) / 2),
            even(self.y + (self.height - height) / 2),
            width,
            height,
        )
    }
}

/// One remote video the screen should show.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tile {
    /// The participant's (or track's) id; placements refer to it.
    pub id: String,
    /// The display name drawn on the tile (the layout does not use it).
    pub name: String,
    /// A shared screen rather than a camera: drawn large.
    pub screen_share: bool,
    /// Speaking now: kept visible when there are more people than room on the screen.
    pub speaking: bool,
}

/// Where one tile goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub id: String,
    pub rect: Rect,
    /// The large tile of a screen-share layout.
    pub large: bool,
}

impl Placement {
    /// The resolution this tile needs: more would be scaled down (wasted bandwidth and decode
    /// time), less would be scaled up (blurry). The WebRTC layer asks the server for it.
    pub fn needed(&self) -> Size {
        self.rect.size()
    }
}

/// The whole screen: visible tiles (in join order), hidden ones, and the self-view.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    pub placements: Vec<Placement>,
    /// Ids of tiles that did not fit (nothing is drawn for them; no need to receive them).
    pub hidden: Vec<String>,
    /// The picture-in-picture of the room itself, drawn on top of everything.
    pub self_view: Rect,
}

impl Layout {
    pub fn placement(&self, id: &str) -> Option<&Placement> {
        self.placements.iter().find(|p| p.id == id)
    }
}

/// The most people in a grid (3x3).
pub const MAX_GRID: usize = 9;

/// Share of the screen (width on a landscape screen, height on a portrait one) a shared
/// screen takes, in percent.
const SHARE_PERCENT: u32 = 80;

/// Computes the layout of `tiles` (in join order) on a screen of `screen` pixels.
pub fn layout(screen: Size, tiles: &[Tile]) -> Layout {
    let gap = gap(screen);
    let full = Rect::new(0, 0, even(screen.width), even(screen.height));
    let mut placements = Vec::new();
    let mut hidden = Vec::new();

    // The first screen share is the large one; any other share is shown like a person.
    match tiles.iter().position(|t| t.screen_share) {
        None => {
            let shown = choose(tiles, MAX_GRID, &mut hidden);
            let (cols, rows) = grid_shape(shown.len());
            for (i, tile) in shown.iter().enumerate() {
                let (col, row) = (i as u32 % cols, i as u32 / cols);
                let cell = Rect::new(
                    full.width * col / cols,
                    full.height * row / rows,
                    full.width * (col + 1) / cols - full.width * col / cols,
                    full.height * (row + 1) / rows - full.height * row / rows,
                );
                placements.push(place(tile, cell.inset(gap / 2).fit_16_9(), false));
            }
        }
        Some(share) => {
            let people: Vec<Tile> = tiles
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != share)
                .map(|(_, t)| t.clone())
                .collect();
            if people.is_empty() {
                placements.push(place(&tiles[share], full.inset(gap / 2).fit_16_9(), true));
            } else {
                let (main, strip) = split_for_share(full);
                placements.push(place(&tiles[share], main.inset(gap / 2).fit_16_9(), true));
                placements.extend(strip_placements(strip, &people, gap, &mut hidden));
            }
        }
    }
    Layout {
        placements,
        hidden,
        self_view: self_view(screen),
    }
}

/// Columns and rows of the grid for `n` people (at most `MAX_GRID`).
pub fn grid_shape(n: usize) -> (u32, u32) {
    match n {
        0 | 1 => (1, 1),
        2 => (2, 1),
        3 | 4 => (2, 2),
        5 | 6 => (3, 2),
        _ => (3, 3),
    }
}

/// The self-view: a fifth of the screen's width, 16:9, in the bottom-right corner with a
/// margin, so it covers as little of the people as possible.
pub fn self_view(screen: Size) -> Rect {
    let width = even(screen.width / 5);
    let height = even(width * 9 / 16);
    let margin = even(screen.width / 64);
    Rect::new(
        even(screen.width.saturating_sub(margin + width)),
        even(screen.height.saturating_sub(margin + height)),
        width,
        height,
    )
}

/// The gap between tiles: thin, proportional to the screen (8 px at 1280 wide).
fn gap(screen: Size) -> u32 {
    even(screen.width.min(screen.height) / 90)
}

fn even(v: u32) -> u32 {
    v & !1
}

fn place(tile: &Tile, rect: Rect, large: bool) -> Placement {
    Placement {
        id: tile.id.clone(),
        rect,
        large,
    }
}

/// The `room` tiles to show out of `tiles`: speakers first when they do not all fit, but in
/// their join order on the screen. The others go to `hidden`.
fn choose<'a>(tiles: &'a [Tile], room: usize, hidden: &mut Vec<String>) -> Vec<&'a Tile> {
    if tiles.len() <= room {
        return tiles.iter().collect();
    }
    let mut ranked: Vec<usize> = (0..tiles.len()).collect();
    // A stable sort: among speakers, and among the silent, earlier joiners win.
    ranked.sort_by_key(|&i| !tiles[i].speaking);
    let mut keep = ranked[..room].to_vec();
    keep.sort_unstable();
    for &i in &ranked[room..] {
        hidden.push(tiles[i].id.clone());
    }
    keep.into_iter().map(|i| &tiles[i]).collect()
}

/// Splits the screen into the shared screen's area and the people strip beside it.
fn split_for_share(full: Rect) -> (Rect, Rect) {
    if full.width >= full.height {
        let main = even(full.width * SHARE_PERCENT / 100);
        (
            Rect::new(0, 0, main, full.height),
            Rect::new(main, 0, full.width - main, full.height),
        )
    } else {
        let main = even(full.height * SHARE_PERCENT / 100);
        (
            Rect::new(0, 0, full.width, main),
            Rect::new(0, main, full.width, full.height - main),
        )
    }
}

/// People in the strip: one 16:9 slot each across the strip's short side, as many as fit
/// along it, the group centred.
fn strip_placements(
    strip: Rect,
    people: &[Tile],
    gap: u32,
    hidden: &mut Vec<String>,
) -> Vec<Placement> {
    let vertical = strip.height >= strip.width;
    let (across, along) = if vertical {
        (strip.width, strip.height)
    } else {
        (strip.height, strip.width)
    };
    // The slot's length along the strip, for a 16:9 picture filling the strip's breadth.
    let slot = if vertical {
        even(across * 9 / 16)
    } else {
        even(across * 16 / 9)
    }
    .clamp(2, along.max(2));
    let capacity = (along / slot).max(1) as usize;
    let shown = choose(people, capacity, hidden);
    let start = even((along - slot * shown.len() as u32) / 2);
    shown
        .iter()
        .enumerate()
        .map(|(i, tile)| {
            let offset = start + slot * i as u32;
            let cell = if vertical {
                Rect::new(strip.x, strip.y + offset, strip.width, slot)
            } else {
                Rect::new(strip.x + offset, strip.y, slot, strip.height)
            };
            place(tile, cell.inset(gap / 2).fit_16_9(), false)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HD: Size = Size::new(1280, 720);

    fn people(n: usize) -> Vec<Tile> {
        (0..n)
            .map(|i| Tile {
                id: format!("p{i}"),
                name: format!("Person {i}"),
                ..Tile::default()
            })
            .collect()
    }

    fn rects(l: &Layout) -> Vec<Rect> {
        l.placements.iter().map(|p| p.rect).collect()
    }

    /// What must hold for any layout: inside the screen, even, no overlap, 16:9 (within the
    /// rounding of even alignment), every tile either placed or hidden, exactly once.
    fn check_invariants(screen: Size, tiles: &[Tile], l: &Layout) {
        for p in &l.placements {
            let r = p.rect;
            assert!(
                r.right() <= screen.width && r.bottom() <= screen.height,
                "{r:?}"
            );
            assert!(r.width > 0 && r.height > 0, "{r:?}");
            for v in [r.x, r.y, r.width, r.height] {
                assert_eq!(v % 2, 0, "not even: {r:?}");
            }
            let ratio = f64::from(r.width) / f64::from(r.height);
            assert!((ratio - 16.0 / 9.0).abs() < 0.05, "not 16:9: {r:?}");
        }
        for (i, a) in l.placements.iter().enumerate() {
            for b in &l.placements[i + 1..] {
                assert!(!a.rect.overlaps(&b.rect), "{a:?} overlaps {b:?}");
            }
        }
        let mut ids: Vec<&str> = l.placements.iter().map(|p| p.id.as_str()).collect();
        ids.extend(l.hidden.iter().map(String::as_str));
        ids.sort_unstable();
        let mut expected: Vec<&str> = tiles.iter().map(|t| t.id.as_str()).collect();
        expected.sort_unstable();
        assert_eq!(ids, expected);
    }

    #[test]
    fn grid_shapes_follow_the_head_count() {
        let shapes: Vec<(u32, u32)> = (1..=9).map(grid_shape).collect();
        assert_eq!(
            shapes,
            [
                (1, 1),
                (2, 1),
                (2, 2),
                (2, 2),
                (3, 2),
                (3, 2),
                (3, 3),
                (3, 3),
                (3, 3)
            ]
        );
    }

    #[test]
    fn invariants_hold_for_every_head_count_and_screen() {
        let screens = [
            HD,
            Size::new(1920, 1080),
            Size::new(1024, 768),
            Size::new(720, 1280),
            Size::new(640, 480),
            Size::new(3840, 2160),
        ];
        for screen in screens {
            for n in 0..=14 {
                let tiles = people(n);
                check_invariants(screen, &tiles, &layout(screen, &tiles));
                for share in 0..n {
                    let mut tiles = people(n);
                    tiles[share].screen_share = true;
                    check_invariants(screen, &tiles, &layout(screen, &tiles));
                }
            }
        }
    }

    #[test]
    fn one_person_fills_the_screen_but_the_gap() {
        let l = layout(HD, &people(1));
        // 1272x712 once the gap is taken; 16:9 in that is 1264x712, centred.
        assert_eq!(rects(&l), [Rect::new(8, 4, 1264, 712)]);
        assert_eq!(l.placements[0].needed(), Size::new(1264, 712));
    }

    #[test]
    fn two_people_side_by_side_letterboxed() {
        let r = rects(&layout(HD, &people(2)));
        assert_eq!(r[0].y, r[1].y);
        assert!(r[0].right() <= r[1].x);
        assert!(r[0].x < 640 && r[1].x >= 640);
        // 16:9 in a 640x720 cell: black above and below, vertically centred.
        assert_eq!((r[0].width, r[0].height), (632, 354));
        assert_eq!(r[0].y, 182);
    }

    #[test]
    fn four_and_nine_people_fill_equal_cells_in_reading_order() {
        let r = rects(&layout(HD, &people(4)));
        assert_eq!(r[0], Rect::new(8, 4, 624, 352));
        assert_eq!(r[3], Rect::new(648, 364, 624, 352));
        let r = rects(&layout(HD, &people(9)));
        for (i, rect) in r.iter().enumerate() {
            let (col, row) = (i as u32 % 3, i as u32 / 3);
            let (cx, cy) = rect.centre();
            assert_eq!(
                (cx * 3 / 1280, cy * 3 / 720),
                (col, row),
                "tile {i}: {rect:?}"
            );
            assert_eq!(rect.size(), r[0].size());
        }
    }

    #[test]
    fn three_and_five_people_leave_the_last_cells_empty() {
        let r = rects(&layout(HD, &people(3)));
        assert_eq!(r.len(), 3);
        assert!(r[2].x < 640 && r[2].y >= 360);
        let r = rects(&layout(HD, &people(5)));
        assert_eq!(r[4].centre().0 * 3 / 1280, 1);
        assert!(r[4].y >= 360);
    }

    #[test]
    fn more_than_nine_keeps_speakers_in_join_order() {
        let mut tiles = people(12);
        tiles[10].speaking = true;
        tiles[11].speaking = true;
        let l = layout(HD, &tiles);
        let shown: Vec<&str> = l.placements.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            shown,
            ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p10", "p11"]
        );
        assert_eq!(l.hidden, ["p7", "p8", "p9"]);
    }

    #[test]
    fn a_screen_share_is_large_on_the_left_with_people_beside_it() {
        let mut tiles = people(3);
        tiles[1].screen_share = true;
        let l = layout(HD, &tiles);
        let share = l.placement("p1").unwrap();
        assert!(share.large);
        assert_eq!(share.rect, Rect::new(4, 74, 1016, 570));
        assert!(share.rect.area() * 100 / (1280 * 720) >= 60);
        for id in ["p0", "p2"] {
            let r = l.placement(id).unwrap().rect;
            assert!(r.x >= 1024, "{id}: {r:?}");
            assert!(r.width < 256);
        }
        // Join order top to bottom, the group centred vertically.
        let (a, b) = (
            l.placement("p0").unwrap().rect,
            l.placement("p2").unwrap().rect,
        );
        assert!(a.y < b.y);
        assert!(a.y.abs_diff(720 - b.bottom()) <= 8);
    }

    #[test]
    fn a_screen_share_on_a_portrait_screen_is_on_top() {
        let screen = Size::new(1080, 1920);
        let mut tiles = people(2);
        tiles[0].screen_share = true;
        let l = layout(screen, &tiles);
        let (share, person) = (l.placements[0].rect, l.placements[1].rect);
        assert!(share.width >= 1000 && share.bottom() <= 1536);
        assert!(person.y >= 1536);
    }

    #[test]
    fn a_screen_share_alone_fills_the_screen() {
        let mut tiles = people(1);
        tiles[0].screen_share = true;
        let l = layout(HD, &tiles);
        assert_eq!(rects(&l), [Rect::new(8, 4, 1264, 712)]);
        assert!(l.placements[0].large);
    }

    #[test]
    fn a_full_strip_keeps_speakers_and_the_second_share_is_a_person() {
        let mut tiles = people(9);
        tiles[0].screen_share = true;
        tiles[3].screen_share = true;
        tiles[8].speaking = true;
        let l = layout(HD, &tiles);
        assert_eq!(l.placements[0].id, "p0");
        assert!(l.placement("p3").is_some_and(|p| !p.large));
        // A 256 px wide strip of 144 px slots: five of the eight others fit in 720 px, the
        // speaker p8 and the four first joiners.
        assert_eq!(l.placements.len(), 1 + 5);
        assert!(l.placement("p8").is_some());
        assert_eq!(l.hidden, ["p5", "p6", "p7"]);
    }

    #[test]
    fn self_view_is_a_fifth_of_the_width_bottom_right() {
        assert_eq!(self_view(HD), Rect::new(1004, 556, 256, 144));
        let r = self_view(Size::new(1920, 1080));
        assert_eq!((r.width, r.height), (384, 216));
        assert_eq!((1920 - r.right(), 1080 - r.bottom()), (30, 30));
        assert_eq!(layout(HD, &[]).self_view, self_view(HD));
    }

    #[test]
    fn nobody_means_no_tiles() {
        let l = layout(HD, &[]);
        assert!(l.placements.is_empty() && l.hidden.is_empty());
    }
}
