//! Deterministic generator of citylots-shaped events (San Francisco lot features, as in
//! event-ruler's citylots2 benchmark data): repeated street names with a long-tailed distribution,
//! block/lot numbers with repeated parcels, polygons of 5 to 40 coordinate points on a shared grid
//! (adjacent lots share vertices, coordinates have six decimals), rare MultiPolygons.

/// splitmix64
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Index drawn with the given cumulative weights.
    fn pick(&mut self, cumulative: &[u64]) -> usize {
        let total = *cumulative.last().expect("weights");
        let r = self.below(total);
        cumulative.partition_point(|&c| c <= r)
    }
}

/// (street, street type). Order sets popularity (Zipf-like).
const STREETS: &[(&str, &str)] = &[
    ("MISSION", "ST"),
    ("FULTON", "ST"),
    ("MASON", "ST"),
    ("JACKSON", "ST"),
    ("CALIFORNIA", "ST"),
    ("HYDE", "ST"),
    ("GEARY", "BLVD"),
    ("HARRISON", "ST"),
    ("FOLSOM", "ST"),
    ("CLEMENT", "ST"),
    ("IRVING", "ST"),
    ("JUDAH", "ST"),
    ("NORIEGA", "ST"),
    ("TARAVAL", "ST"),
    ("LINCOLN", "WAY"),
    ("CHESTNUT", "ST"),
    ("GREENWICH", "ST"),
    ("UNION", "ST"),
    ("FILBERT", "ST"),
    ("BROADWAY", "ST"),
    ("PACIFIC", "AVE"),
    ("WASHINGTON", "ST"),
    ("CLAY", "ST"),
    ("SACRAMENTO", "ST"),
    ("PINE", "ST"),
    ("BUSH", "ST"),
    ("SUTTER", "ST"),
    ("POST", "ST"),
    ("TURK", "BLVD"),
    ("GOLDEN GATE", "AVE"),
    ("MCALLISTER", "ST"),
    ("HAYES", "ST"),
    ("OAK", "ST"),
    ("PAGE", "ST"),
    ("HAIGHT", "ST"),
    ("WALLER", "ST"),
    ("FREDERICK", "ST"),
    ("CARL", "ST"),
    ("PARNASSUS", "AVE"),
    ("KIRKHAM", "ST"),
    ("LAWTON", "ST"),
    ("MORAGA", "ST"),
    ("ORTEGA", "ST"),
    ("QUINTARA", "ST"),
    ("RIVERA", "ST"),
    ("SANTIAGO", "ST"),
    ("ULLOA", "ST"),
    ("VICENTE", "ST"),
    ("WAWONA", "ST"),
    ("SLOAT", "BLVD"),
    ("JEFFERSON", "ST"),
    ("BEACH", "ST"),
    ("NORTH POINT", "ST"),
    ("BAY", "ST"),
    ("FRANCISCO", "ST"),
    ("LOMBARD", "ST"),
    ("VALLEJO", "ST"),
    ("GREEN", "ST"),
    ("DIVISADERO", "ST"),
    ("FILLMORE", "ST"),
    ("STEINER", "ST"),
    ("PIERCE", "ST"),
    ("SCOTT", "ST"),
    ("BAKER", "ST"),
    ("LYON", "ST"),
    ("MADISON", "ST"),
    ("HUDSON", "AVE"),
    ("CARLTON", "ST"),
    ("KING", "ST"),
    ("STERLING", "ST"),
    ("LAKE", "ST"),
    ("DRAKE", "ST"),
    ("BLAKE", "ST"),
    ("BLUXOME", "ST"),
    ("DRUMM", "ST"),
    ("ACADIA", "ST"),
    ("RHODE ISLAND", "ST"),
    ("FUNSTON", "AVE"),
    ("SAN DIEGO", "AVE"),
    ("OTSEGO", "AVE"),
    ("OCEAN", "AVE"),
    ("MONTEREY", "BLVD"),
    ("PORTOLA", "DR"),
    ("CLIPPER", "ST"),
    ("ALEMANY", "BLVD"),
    ("SILVER", "AVE"),
    ("PALOU", "AVE"),
    ("QUESADA", "AVE"),
    ("REVERE", "AVE"),
    ("SHAFTER", "AVE"),
    ("THORNTON", "AVE"),
    ("WILLIAMS", "AVE"),
    ("GILMAN", "AVE"),
    ("INGALLS", "ST"),
    ("KEITH", "ST"),
    ("LANE", "ST"),
    ("NEWHALL", "ST"),
    ("PHELPS", "ST"),
    ("QUINT", "ST"),
    ("RANKIN", "ST"),
    ("TWIN PEAKS", "BLVD"),
    ("CLARENDON", "AVE"),
    ("MARINA", "BLVD"),
    ("CRESTLAKE", "DR"),
    ("FOREST SIDE", "AVE"),
    ("BELVEDERE", "ST"),
    ("CLAYTON", "ST"),
    ("ASHBURY", "ST"),
    ("MASONIC", "AVE"),
    ("PRESIDIO", "AVE"),
    ("WALNUT", "ST"),
    ("LAUREL", "ST"),
    ("SPRUCE", "ST"),
    ("MAPLE", "ST"),
    ("CHERRY", "ST"),
    ("ARGUELLO", "BLVD"),
    ("FUNSTON", "ST"),
    ("COLE", "ST"),
    ("SHRADER", "ST"),
    ("STANYAN", "ST"),
    ("BRODERICK", "ST"),
    ("ALPINE", "TER"),
    ("RICO", "WAY"),
    ("HOFF", "ST"),
    ("CAPP", "ST"),
    ("BARTLETT", "ST"),
    ("LEXINGTON", "ST"),
    ("SAN CARLOS", "ST"),
    ("ORANGE", "ALY"),
    ("LUCKY", "ST"),
    ("BALMY", "ST"),
    ("HAMPSHIRE", "ST"),
    ("YORK", "ST"),
    ("BRYANT", "ST"),
    ("FLORIDA", "ST"),
    ("ALABAMA", "ST"),
    ("HARRISON", "WAY"),
    ("TREAT", "AVE"),
    ("SHOTWELL", "ST"),
    ("VALENCIA", "ST"),
    ("GUERRERO", "ST"),
    ("DOLORES", "ST"),
    ("CHURCH", "ST"),
    ("SANCHEZ", "ST"),
    ("NOE", "ST"),
    ("CASTRO", "ST"),
    ("DIAMOND", "ST"),
    ("DOUGLASS", "ST"),
    ("EUREKA", "ST"),
    ("HATTIE", "ST"),
    ("MARS", "ST"),
    ("VESTA", "CT"),
    ("LOCKSLEY", "AVE"),
    ("ALTA VISTA", "TER"),
    ("EL CAMINO DEL MAR", "ST"),
    ("HIGHWAY 1", "HWY"),
    ("JOHN F KENNEDY", "DR"),
    ("MARTIN LUTHER KING JR", "DR"),
    ("CHICAGO", "WAY"),
    ("FOUNTAIN", "ST"),
];

/// Parcels that repeat (condominium units share one MAPBLKLOT) and the share of events they take
/// per million, after event-ruler's citylots2 counts.
const HOT_PARCELS: &[(&str, u64)] = &[("3745012", 3074), ("2607117", 474), ("2607218", 164)];
/// Rare parcels, placed at fixed intervals so that every sample holds a few.
const RARE_PARCELS: &[(&str, u64)] = &[("1430022", 9967), ("VACSTWIL", 9973)];

const X0: i64 = -122_514_000; // micro-degrees
const Y0: i64 = 37_708_000;
const CELL_W: i64 = 240; // 6 lots of 40 micro-degrees
const CELL_H: i64 = 200;
const COLS: i64 = 650;
const ROWS: i64 = 620;
/// MultiPolygons (rare) all lie on this row, so their first vertex has y = 37.7298.
const MULTI_ROW: i64 = 109;

pub struct Generator {
    rng: Rng,
    /// Coordinates with 16-17 significant digits (see [`coord_text`]).
    pub precise: bool,
    n: u64,
    street_cum: Vec<u64>,
}

fn push_coord(out: &mut String, micro: i64, precise: bool) {
    out.push_str(&coord_text(micro, precise));
}

/// A coordinate in micro-degrees as a JSON number: with at most six decimals, or (`precise`)
/// moved by less than a micro-degree, a fixed amount per vertex, and written in the double's
/// shortest form, 16 or 17 significant digits as in real citylots data
/// (`-122.42916360922355`).
pub fn coord_text(micro: i64, precise: bool) -> String {
    let v = micro as f64 / 1e6;
    if !precise {
        return format!("{v}");
    }
    let jitter = (micro.unsigned_abs().wrapping_mul(0x9e37_79b9) % 999_983) as f64 * 1e-12;
    format!("{}", v + jitter.copysign(v))
}

fn push_point(out: &mut String, x: i64, y: i64, precise: bool) {
    out.push_str("{\"x\":");
    push_coord(out, x, precise);
    out.push_str(",\"y\":");
    push_coord(out, y, precise);
    out.push_str(",\"z\":0}");
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        let mut acc = 0u64;
        let street_cum = (0..STREETS.len())
            .map(|i| {
                acc += (100_000.0 / ((i + 1) as f64).powf(0.9)) as u64;
                acc
            })
            .collect();
        Self {
            rng: Rng::new(seed),
            precise: false,
            n: 0,
            street_cum,
        }
    }

    /// One event as compact JSON text.
    pub fn event(&mut self) -> String {
        self.n += 1;
        let lot = self.lot();
        let mut s = String::with_capacity(900);
        s.push_str("{\"type\":\"Feature\",\"properties\":{");
        self.push_properties(&mut s, &lot);
        s.push_str("},\"geometry\":{\"type\":\"");
        s.push_str(if lot.multi { "MultiPolygon" } else { "Polygon" });
        let pts = self.outline(&lot);
        s.push_str("\",\"firstCoordinates\":");
        push_point(&mut s, pts[0].0, pts[0].1, self.precise);
        s.push_str(",\"coordinates\":");
        push_coordinates(&mut s, &pts, lot.multi, self.precise);
        s.push_str("}}");
        s
    }

    /// Draw a lot: its grid cell, block and number.
    fn lot(&mut self) -> Lot {
        let r = &mut self.rng;
        let multi = r.below(10_000) < 6;
        // Denser in the north-east, like the city.
        let col = ((1.0 - r.unit().powf(1.6)) * (COLS - 1) as f64) as i64;
        let row = if multi {
            MULTI_ROW
        } else {
            ((1.0 - r.unit().powf(1.4)) * (ROWS - 1) as f64) as i64
        };
        let block = 1 + ((row * 37 + col * 101) % 7600);
        let lot = 1 + r.below(LOT_COUNT) as i64;
        Lot {
            multi,
            col,
            row,
            block,
            lot,
        }
    }

    /// The lot's properties: parcel ids (hot and rare parcels included), street and address
    /// range.
    fn push_properties(&mut self, s: &mut String, l: &Lot) {
        let (n, block, lot) = (self.n, l.block, l.lot);
        let r = &mut self.rng;
        let mut mapblklot = format!("{block:04}{lot:03}");
        let h = r.below(1_000_000);
        let mut acc = 0;
        for (p, ppm) in HOT_PARCELS {
            acc += ppm;
            if h < acc {
                mapblklot = (*p).to_string();
                break;
            }
        }
        for (p, every) in RARE_PARCELS {
            if n % every == 17 {
                mapblklot = (*p).to_string();
            }
        }
        let blklot = if r.below(10) == 0 {
            format!("{block:04}{:03}", lot + 10)
        } else {
            mapblklot.clone()
        };
        let (street, st_type) = STREETS[r.pick(&self.street_cum)];
        let from = 1 + r.below(4000) as i64;
        let to = if r.below(4) == 0 {
            from + 2 * r.below(20) as i64
        } else {
            from
        };
        s.push_str(&format!(
            "\"MAPBLKLOT\":\"{mapblklot}\",\"BLKLOT\":\"{blklot}\",\"BLOCK_NUM\":\"{block:04}\",\"LOT_NUM\":\"{lot:03}\",\"FROM_ST\":\"{from}\",\"TO_ST\":\"{to}\",\"STREET\":\"{street}\",\"ST_TYPE\":\"{st_type}\",\"ODD_EVEN\":\"{}\"",
            if from % 2 == 0 { "E" } else { "O" }
        ));
    }

    /// The lot's outline, closed: a strip of its block's cell, vertices on the shared grid.
    fn outline(&mut self, l: &Lot) -> Vec<(i64, i64)> {
        let x_left = X0 + l.col * CELL_W + (l.lot - 1) * (CELL_W / LOT_COUNT as i64);
        let x_right = x_left + CELL_W / LOT_COUNT as i64;
        let y_bottom = Y0 + l.row * CELL_H;
        let y_top = y_bottom + CELL_H;
        let extra = (self.rng.unit().powf(3.0) * 36.0) as i64; // mostly small polygons, a few large ones
        let mut pts: Vec<(i64, i64)> = Vec::with_capacity(6 + extra as usize);
        pts.push((x_left, y_bottom));
        pts.push((x_right, y_bottom));
        for k in 0..extra {
            pts.push((x_right, y_bottom + (k + 1) * CELL_H / (extra + 1)));
        }
        pts.push((x_right, y_top));
        pts.push((x_left, y_top));
        pts.push((x_left, y_bottom));
        pts
    }
}

/// Where a lot lies.
struct Lot {
    /// A MultiPolygon (on [`MULTI_ROW`]).
    multi: bool,
    col: i64,
    row: i64,
    block: i64,
    lot: i64,
}

/// Lots per block: a block's cell is cut into this many strips.
const LOT_COUNT: u64 = 6;

/// The coordinates of a polygon (one ring), or of a MultiPolygon (the ring and its copy one cell
/// to the east).
fn push_coordinates(s: &mut String, pts: &[(i64, i64)], multi: bool, precise: bool) {
    let ring = |s: &mut String, pts: &[(i64, i64)], dx: i64| {
        s.push('[');
        for (i, (x, y)) in pts.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_point(s, x + dx, *y, precise);
        }
        s.push(']');
    };
    if multi {
        s.push_str("[[");
        ring(s, pts, 0);
        s.push_str("],[");
        ring(s, pts, CELL_W);
        s.push_str("]]");
    } else {
        s.push('[');
        ring(s, pts, 0);
        s.push(']');
    }
}
