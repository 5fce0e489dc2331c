//! Writing responses: status lines, the headers every API Gateway response carries, and the
//! per-core values behind them (the `Date` string, request ids).

use std::cell::{Cell, RefCell};
use std::time::{SystemTime, UNIX_EPOCH};

/// The reason phrase for a status code (RFC 9110 §15). Unknown codes get an empty phrase,
/// which RFC 9112 §4 allows.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`.
pub fn status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends one header line.
#[inline]
pub fn header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `Content-Length: n`.
#[inline]
pub fn content_length(out: &mut Vec<u8>, n: usize) {
    let mut b = itoa::Buffer::new();
    header(out, "Content-Length", b.format(n).as_bytes());
}

thread_local! {
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let addr = &t as *const u64 as u64;
    (t ^ addr.rotate_left(32)) | 1
}

/// Appends `Date: <IMF-fixdate>`; the string is formatted once per second per core.
pub fn date(out: &mut Vec<u8>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.0 != now {
            cell.1 = imf_fixdate(now);
            cell.0 = now;
        }
        header(out, "Date", &cell.1);
    });
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Formats seconds since the epoch as an IMF-fixdate (RFC 9110 §5.6.7).
pub fn imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    let days = secs / 86400;
    let rem = secs % 86400;
    let (y, m, d) = civil_from_days(days as i64);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two(&mut out[5..7], d as u64);
    out[8..11].copy_from_slice(MONTHS[(m - 1) as usize]);
    let y = y as u64;
    out[12] = b'0' + ((y / 1000) % 10) as u8;
    out[13] = b'0' + ((y / 100) % 10) as u8;
    two(&mut out[14..16], y % 100);
    two(&mut out[17..19], rem / 3600);
    two(&mut out[20..22], (rem / 60) % 60);
    two(&mut out[23..25], rem % 60);
    out
}

/// Formats seconds since the epoch in Common Log Format, `04/Mar/2020:19:15:17 +0000`
/// (`$context.requestTime`).
pub fn clf_date(secs: u64) -> [u8; 26] {
    let (y, m, d) = civil_from_days((secs / 86400) as i64);
    let rem = secs % 86400;
    let mut out = *b"01/Jan/1970:00:00:00 +0000";
    two(&mut out[0..2], d as u64);
    out[3..6].copy_from_slice(MONTHS[(m - 1) as usize]);
    let y = y.clamp(0, 9999) as u64;
    two(&mut out[7..9], y / 100);
    two(&mut out[9..11], y % 100);
    two(&mut out[12..14], rem / 3600);
    two(&mut out[15..17], (rem / 60) % 60);
    two(&mut out[18..20], rem % 60);
    out
}

fn two(dst: &mut [u8], v: u64) {
    dst[0] = b'0' + (v / 10 % 10) as u8;
    dst[1] = b'0' + (v % 10) as u8;
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A fast per-core pseudo-random number (xorshift64*); request ids need uniqueness, not secrecy.
pub fn random_u64() -> u64 {
    RNG.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// A request id in UUID v4 form, as `x-amzn-RequestId` carries.
pub fn request_id() -> [u8; 36] {
    let a = random_u64();
    let b = random_u64();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = [b'-'; 36];
    // Positions of each byte's two hex digits in 8-4-4-4-12 form.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    for (byte, at) in bytes.iter().zip(AT) {
        let pair = HEX_PAIRS[*byte as usize];
        out[at] = pair[0];
        out[at + 1] = pair[1];
    }
    out
}

/// Writes the low bits of `v` as lower-case hex into `out`, right-aligned and zero-padded
/// (an even number of digits, one table read per byte).
pub fn hex_into(out: &mut [u8], v: u64) {
    let mut v = v;
    for pair in out.rchunks_exact_mut(2) {
        pair.copy_from_slice(&HEX_PAIRS[(v & 0xff) as usize]);
        v >>= 8;
    }
}

/// The two lower-case hex digits of every byte, so an id is 16 table reads.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 15]];
        i += 1;
    }
    t
};

/// `x-amz-apigw-id`: 16 base64-like characters ending in `=`, as AWS's extended request id.
pub fn extended_request_id() -> [u8; 16] {
    const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = random_u64();
    let mut out = [b'='; 16];
    for slot in out.iter_mut().take(15) {
        *slot = ALPHA[(x & 63) as usize];
        x >>= 6;
        if x == 0 {
            x = random_u64();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(&imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            &imf_fixdate(1_709_251_199),
            b"Thu, 29 Feb 2024 23:59:59 GMT"
        );
    }

    #[test]
    fn clf_dates_and_hex() {
        // The developer guide's `$context.requestTime` example.
        assert_eq!(&clf_date(1_583_349_317), b"04/Mar/2020:19:15:17 +0000");
        assert_eq!(&clf_date(0), b"01/Jan/1970:00:00:00 +0000");
        let mut b = [0u8; 8];
        hex_into(&mut b, 0x1a2b_3c4d);
        assert_eq!(&b, b"1a2b3c4d");
        let mut b = [0u8; 16];
        hex_into(&mut b, 0xff);
        assert_eq!(&b, b"00000000000000ff");
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        let s = std::str::from_utf8(&id).unwrap_or("");
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert_ne!(request_id(), id);
    }
}
